/**
 * Time in the pipeline is monotonic milliseconds (immune to NTP steps); wall time is derived from
 * it only at the edges (event payloads, logs). Injected everywhere so tests control it.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  /** Wall-clock (Unix epoch) milliseconds for a monotonic time. */
  toWallMs(monoMs: number): number;
}

/** Monotonic clock anchored to the wall clock once, at process start. */
export const systemClock: Clock = {
  nowMs: () => performance.now(),
  toWallMs: (monoMs) => performance.timeOrigin + monoMs,
};

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private t: number;
  constructor(
    startMs = 0,
    private readonly wallOriginMs = Date.UTC(2026, 0, 1),
  ) {
    this.t = startMs;
  }
  nowMs(): number {
    return this.t;
  }
  toWallMs(monoMs: number): number {
    return this.wallOriginMs + monoMs;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
