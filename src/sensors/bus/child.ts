/**
 * Reads a capture child process's stdout as an async iterable of chunks, with the failure modes of
 * `arecord` / `v4l2-ctl` made explicit: a missing executable (ENOENT), a non-zero exit, a stall
 * (no bytes for `stallMs`), and — on abort or when the consumer stops — a kill that never leaves an
 * orphan (SIGCONT first, in case it was paused, then SIGTERM, then SIGKILL).
 *
 * The stall watchdog (`../stall-watchdog.ts`) measures how long the child has been silent, not how
 * long this process was busy; starting the process is not a stall either: the first byte gets
 * `startMs` (issue #24).
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StallWatchdog } from '../stall-watchdog.js';

/** Why a capture child stopped delivering bytes. */
export class ChildExitError extends Error {
  constructor(
    message: string,
    readonly info: {
      command: string;
      /** The executable is not on PATH (spawn ENOENT). */
      notFound: boolean;
      code: number | null;
      signal: NodeJS.Signals | null;
      stalled: boolean;
      /** Last lines of the child's stderr. */
      stderr: string;
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChildExitError';
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Children still running when the agent exits are killed with it. */
function track(cp: ChildProcess): void {
  live.add(cp);
  cp.once('close', () => live.delete(cp));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) killHard(c);
    });
  }
}

function killHard(cp: ChildProcess): void {
  try {
    cp.kill('SIGCONT');
    cp.kill('SIGKILL');
  } catch {
    // already gone
  }
}

/** Stops a child: SIGCONT (a paused child ignores SIGTERM), SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(cp: ChildProcess, graceMs = 1000): Promise<void> {
  if (cp.exitCode !== null || cp.signalCode !== null || cp.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => killHard(cp), graceMs);
    cp.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      cp.kill('SIGCONT');
      cp.kill('SIGTERM');
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

export interface ChildStreamOptions {
  command: string;
  signal: AbortSignal;
  /** Fail when no byte arrives for this long, ms (0 = never). */
  stallMs?: number;
  /**
   * Fail when the first byte takes longer than this, ms: starting a process on a busy machine can
   * take seconds, which is not the device being silent. Default max(stallMs, 10 000); unused when
   * stallMs is 0.
   */
  startMs?: number;
  /** Chunks buffered before stdout is paused (backpressure). */
  highWaterChunks?: number;
}

type Item = { chunk: Buffer } | { end: true } | { error: unknown };

/**
 * Yields stdout chunks of `cp` until it exits. Exit code 0 ends the iteration; anything else throws
 * a ChildExitError. Stops the child when the signal aborts or the consumer returns early.
 * `stdout` may be a stream that also carries errors emitted by a wrapper library (node-record-lpcm16
 * emits a string there); those are swallowed and the exit status reported instead.
 */
export async function* childChunks(
  cp: ChildProcess,
  stdout: Readable,
  opts: ChildStreamOptions,
): AsyncGenerator<Buffer> {
  track(cp);
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  const push = (item: Item) => {
    queue.push(item);
    wake?.();
    wake = undefined;
  };
  let stderr = '';
  let spawnError: NodeJS.ErrnoException | undefined;
  let stalled = false;
  let ended = false;
  const stallMs = opts.stallMs ?? 0;
  const startMs = opts.startMs ?? Math.max(stallMs, 10_000);
  const watchdog = new StallWatchdog({
    stallMs,
    startMs,
    onStall: () => {
      stalled = true;
      void stopChild(cp, 500);
    },
  });
  const hw = opts.highWaterChunks ?? 16;

  cp.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-2000);
  });
  cp.on('error', (err: NodeJS.ErrnoException) => {
    spawnError = err;
  });
  // A wrapper library may re-emit exit failures on stdout (as a string); the close event below
  // carries the same information, so this listener exists only to keep the process alive.
  stdout.on('error', () => {});
  stdout.on('data', (chunk: Buffer) => {
    watchdog.data();
    push({ chunk });
    if (queue.length >= hw) stdout.pause();
  });
  cp.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
    watchdog.disarm();
    ended = true;
    if (code === 0 && !stalled && !spawnError) return push({ end: true });
    const notFound = spawnError?.code === 'ENOENT';
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    const why = notFound
      ? `${opts.command} not found on PATH`
      : spawnError
        ? `${opts.command} failed to start: ${spawnError.message}`
        : stalled
          ? watchdog.beforeFirstData
            ? `${opts.command} delivered no data within ${startMs} ms of starting`
            : `${opts.command} delivered no data for ${stallMs} ms`
          : `${opts.command} exited with ${code !== null ? `code ${code}` : `signal ${sig}`}`;
    push({
      error: new ChildExitError(
        tail ? `${why}: ${tail}` : why,
        { command: opts.command, notFound, code, signal: sig, stalled, stderr },
        { cause: spawnError },
      ),
    });
  });
  const onAbort = () => void stopChild(cp);
  opts.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const item = queue.shift();
      if (!item) {
        if (stdout.isPaused() && !ended) stdout.resume();
        // Only time the child while someone is waiting for it: a slow consumer is not a stall.
        if (!ended) watchdog.arm();
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      if ('chunk' in item) yield item.chunk;
      else if ('end' in item) return;
      else throw item.error;
    }
  } finally {
    watchdog.disarm();
    opts.signal.removeEventListener('abort', onAbort);
    // Drain whatever is still coming so the pipe never blocks the child on its way out.
    stdout.removeAllListeners('data');
    stdout.resume();
    await stopChild(cp);
  }
}
