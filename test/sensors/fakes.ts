/** Helpers for driver tests: fake executables on PATH, taking frames, waiting for conditions. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame } from '../../src/pipeline/types.js';
import type { SensorHealth } from '../../src/sensors/types.js';

export const FAKE_BIN = new URL('./bin/', import.meta.url).pathname;

/** Puts test/sensors/bin (fake arecord, v4l2-ctl) first on this process's PATH. */
export function fakesOnPath(): void {
  if (!process.env.PATH?.startsWith(FAKE_BIN)) process.env.PATH = `${FAKE_BIN}:${process.env.PATH ?? ''}`;
  process.env.EDGEBIND_TEST_NODE = process.execPath;
}

/** Fails (never skips) when a system tool the test needs is missing. */
export function requireTool(name: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
  } catch {
    assert.fail(`this test needs "${name}" on PATH (apt install ${name === 'sh' ? 'dash' : name})`);
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `edgebind-${prefix}-`));
}

/** Collects health reports. */
export class HealthLog {
  readonly all: SensorHealth[] = [];
  readonly on = (h: SensorHealth) => void this.all.push(h);
  get last(): SensorHealth | undefined {
    return this.all[this.all.length - 1];
  }
  sawDown(re?: RegExp): boolean {
    return this.all.some((h) => h.state === 'down' && (!re || re.test(h.reason ?? '')));
  }
}

/** Iterates `frames`, calling `each` until it returns true or `timeoutMs` passes. */
export async function until(
  frames: AsyncIterator<Frame>,
  each: (f: Frame) => boolean | void,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) assert.fail(`condition not met within ${timeoutMs} ms`);
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      frames.next(),
      new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), left))),
    ]);
    clearTimeout(timer);
    if (r === 'timeout') assert.fail(`condition not met within ${timeoutMs} ms`);
    if (r.done) assert.fail('frame stream ended');
    if (each(r.value) === true) return;
  }
}

export async function take(frames: AsyncIterator<Frame>, n: number, timeoutMs = 10_000): Promise<Frame[]> {
  const out: Frame[] = [];
  if (n === 0) return out;
  await until(frames, (f) => out.push(f) >= n, timeoutMs);
  return out;
}

/**
 * How many times a fake (arecord, v4l2-ctl) was started on `device`, failed starts included: it
 * appends to `<device>.starts`, which survives an unplug (deleting the device file).
 */
export function starts(device: string): number {
  try {
    return readFileSync(`${device}.starts`, 'utf8').length;
  } catch {
    return 0;
  }
}

/**
 * Blocks this process's event loop for `ms` of wall time, as a long synchronous computation does
 * (timers fire late, pipes fill unread).
 */
export function blockEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pulls frames continuously in the background (as the agent does), keeping each one. */
export function pump(frames: AsyncIterator<Frame>): { frames: Frame[]; done: Promise<void> } {
  const out: Frame[] = [];
  const done = (async () => {
    for (;;) {
      const r = await frames.next();
      if (r.done) return;
      out.push(r.value);
    }
  })();
  return { frames: out, done };
}
