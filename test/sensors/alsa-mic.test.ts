/**
 * ALSA microphone driver against the fake `arecord` (test/sensors/fakes/arecord.mjs), spawned for
 * real by node-record-lpcm16 from PATH: streaming, WAV header, garbage, crash, stall, unplug and
 * replug, missing executable, and no orphaned child after abort.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import type { Frame } from '../../src/pipeline/types.js';
import { systemClock, type Clock } from '../../src/pipeline/clock.js';
import { AlsaMicConfigSchema, alsaMicFrames } from '../../src/sensors/audio/alsa-mic.js';
import {
  HealthLog,
  alive,
  blockEventLoop,
  fakesOnPath,
  pump,
  requireTool,
  starts,
  take,
  tempDir,
  waitFor,
} from './fakes.js';

requireTool('sh');
fakesOnPath();
const dir = tempDir('mic');
// A failing test must not leave a capture running (the file would never exit).
const open: AbortController[] = [];
after(() => open.forEach((ac) => ac.abort()));

function mic(
  name: string,
  spec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  clock: Clock = systemClock,
) {
  const device = join(dir, `${name}.json`);
  writeFileSync(device, JSON.stringify(spec));
  const config = AlsaMicConfigSchema.parse({
    id: name,
    driver: 'alsa-mic',
    device,
    reconnectMinMs: 50,
    reconnectMaxMs: 400,
    ...extra,
  });
  const ac = new AbortController();
  open.push(ac);
  const health = new HealthLog();
  const it = alsaMicFrames(config)({ clock, signal: ac.signal, onHealth: health.on })[Symbol.asyncIterator]();
  return { device, it, ac, health, stop: async () => (ac.abort(), await it.return?.()) };
}

/**
 * Frame times are counted at 16 kHz, not taken at arrival: consecutive 100 ms frames are exactly
 * 100 ms apart, except where arrival drifted beyond SampleTimer's tolerance (a first frame that
 * arrived late on a loaded machine) and the count re-anchored once.
 */
function assertCountedTimes(frames: Frame[]): void {
  const steps = frames.slice(1).map((f, i) => f.tMs - frames[i]!.tMs);
  const counted = steps.filter((d) => Math.abs(d - 100) < 1e-6).length;
  assert.ok(counted >= steps.length - 1, `frames are 100 ms apart: ${steps.join(', ')}`);
}

const sine = (n: number) => Math.round(0.5 * 32767 * Math.sin((2 * Math.PI * 440 * n) / 16000)) / 32768 + 0;

test('streams a real sine as 100 ms frames in [-1, 1] with continuous clock times', async () => {
  // Far from the system clock's values, so that a time taken from anywhere else cannot pass.
  const offsetMs = 5_000_000;
  const clock: Clock = { nowMs: () => systemClock.nowMs() + offsetMs, toWallMs: (ms) => ms };
  const before = clock.nowMs();
  const m = mic('sine', { freqHz: 440, amplitude: 0.5 }, {}, clock);
  const frames = await take(m.it, 5);
  const after = clock.nowMs();
  await m.stop();
  frames.forEach((f, k) => {
    assert.deepEqual(f.shape, [1600]);
    assert.equal(f.rateHz, 16000);
    assert.equal(f.modality, 'audio');
    for (let i = 0; i < 1600; i += 97) assert.equal(f.data[i], sine(k * 1600 + i), `frame ${k} sample ${i}`);
  });
  assertCountedTimes(frames);
  // A frame is stamped with its first sample's time, counted at the nominal rate from the first
  // frame's arrival: within SampleTimer's tolerances (3 s of backlog behind, 250 ms ahead).
  for (const f of frames) {
    assert.ok(f.tMs >= before - 3000 && f.tMs <= after + 250, `tMs ${f.tMs} in [${before}, ${after}]`);
  }
  assert.equal(m.health.last?.state, 'ok');
});

test('WAV mode: the 44-byte header is checked and stripped; samples straddling writes are joined', async () => {
  const m = mic('wav', { splitOdd: true }, { audioType: 'wav', frameMs: 50 });
  const frames = await take(m.it, 3);
  await m.stop();
  assert.equal(frames[0]!.data[0], 0, 'first sample is sin(0), not header bytes');
  for (let i = 0; i < 800; i++) assert.equal(frames[1]!.data[i], sine(800 + i));
});

test('a garbage WAV header is rejected, reported, and capture retries until the device is sane', async () => {
  const m = mic('garbage', { garbageHeader: true }, { audioType: 'wav' });
  const pending = take(m.it, 2, 8000);
  await waitFor(() => m.health.sawDown(/RIFF/), 20_000, 'health down with a header reason');
  writeFileSync(m.device, JSON.stringify({}));
  const frames = await pending;
  await m.stop();
  assert.equal(frames[0]!.data[0], 0);
  assert.ok(m.health.last!.restarts >= 1);
});

test('arecord crashing is restarted with backoff and frames keep coming', async () => {
  const m = mic('crash', { exitAfterMs: 300 });
  const frames = await take(m.it, 8, 60_000);
  await m.stop();
  assert.equal(frames.length, 8);
  assert.ok(m.health.last!.restarts >= 2, `restarts ${m.health.last!.restarts}`);
  assert.ok(m.health.sawDown(/exited with code 1/), 'the exit is reported on health');
});

test('a stalled arecord is killed and restarted', async () => {
  const m = mic('stall', { stallAfterMs: 200 }, { stallMs: 300 });
  // Each session brings 200 ms (two frames) before it stalls: four frames need a restart.
  const frames = await take(m.it, 4, 30_000);
  await m.stop();
  assert.equal(frames.length, 4);
  assert.ok(m.health.sawDown(/no data for 300 ms/));
});

test('frames that arrive late because the event loop was blocked for 3 s are not a stall', async () => {
  const m = mic('blocked', {}, { stallMs: 1000 });
  const p = pump(m.it);
  await waitFor(() => p.frames.length >= 2, 20_000, 'two frames');
  // The consumer is waiting for the next chunk, so the watchdog is armed; the loop then stops
  // for three windows while arecord keeps writing into the pipe.
  blockEventLoop(3000);
  const seen = p.frames.length;
  await waitFor(() => p.frames.length >= seen + 5, 20_000, 'five more frames');
  await m.stop();
  await p.done;
  assert.equal(m.health.sawDown(/no data/), false, 'no stall reported');
  assert.equal(m.health.last?.restarts, 0);
});

test('a silent arecord is still restarted when the event loop was blocked meanwhile', async () => {
  const m = mic('silent', { stallAfterMs: 200 }, { stallMs: 1000 });
  const p = pump(m.it);
  await waitFor(() => p.frames.length >= 2, 20_000, 'the two frames before the silence');
  blockEventLoop(3000);
  await waitFor(() => m.health.sawDown(/no data for 1000 ms/), 20_000, 'the stall reported');
  await waitFor(() => p.frames.length >= 4, 20_000, 'frames after the restart');
  await m.stop();
  await p.done;
  assert.ok(m.health.last!.restarts >= 1);
});

test('unplug and replug: down while gone, frames again at the first reopen after the device returns', async () => {
  const m = mic('plug', {});
  // Pulled all along, as the agent does: a stream nobody pulls reports nothing.
  const p = pump(m.it);
  await waitFor(() => p.frames.length >= 2, 20_000, 'two frames');
  const spec = readFileSync(m.device, 'utf8');
  rmSync(m.device);
  await waitFor(() => m.health.last?.state === 'down', 20_000, 'health down after unplug');
  // At least one reopen fails while the device is gone (its reason names the open error).
  await waitFor(() => (m.health.last?.restarts ?? 0) >= 2, 20_000, 'a failed reopen');
  // Down and reopening: every frame from before the unplug has been pulled.
  const framesBefore = p.frames.length;
  const startsBefore = starts(m.device);
  writeFileSync(m.device, spec);
  await waitFor(() => p.frames.length > framesBefore, 20_000, 'a frame after replug');
  // "Back within 2 s" without timing a loaded machine: the reopen that started before the file
  // returned (it may fail) and at most one after it, i.e. one reconnect delay (≤ reconnectMaxMs
  // 400 ms) plus one arecord start.
  assert.ok(starts(m.device) - startsBefore <= 2, `${starts(m.device) - startsBefore} starts after replug`);
  await m.stop();
  await p.done;
  assert.equal(m.health.last?.state, 'ok');
  assert.ok(m.health.last.restarts >= 2);
});

test('missing arecord is a DeviceError with a clear message, not a crash', async () => {
  const saved = process.env.PATH;
  process.env.PATH = tempDir('empty-path');
  try {
    const m = mic('missing', {});
    await assert.rejects(
      () => m.it.next(),
      (err: unknown) => err instanceof DeviceError && /arecord not found on PATH/.test(err.message),
    );
    assert.match(m.health.last?.reason ?? '', /not found/);
  } finally {
    process.env.PATH = saved;
  }
});

test('abort kills arecord even when it ignores SIGTERM (no orphan)', async () => {
  const pidFile = join(dir, 'stubborn.pid');
  const m = mic('stubborn', { ignoreTerm: true, pidFile });
  await take(m.it, 1);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(alive(pid));
  await m.stop();
  await waitFor(() => !alive(pid), 20_000, 'arecord to be killed');
  assert.equal(alive(pid), false);
});

test('a slow consumer is not a stall: capture is not restarted while frames wait', async () => {
  const m = mic('slow', {}, { stallMs: 500 });
  await take(m.it, 1);
  // Nobody pulls for three stall windows (at least: a timer never fires early).
  await new Promise((r) => setTimeout(r, 1500));
  const frames = await take(m.it, 5);
  await m.stop();
  assert.equal(frames.length, 5);
  assert.equal(m.health.last?.restarts, 0);
  assertCountedTimes(frames);
});
