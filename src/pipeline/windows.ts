/**
 * Rolling windows: frames of one sensor → fixed-length windows cut every hop.
 *
 * Samples go into a ring buffer sized once. A window's data comes from a small buffer pool so that
 * steady state allocates nothing; the consumer gives each buffer back with `pool.release()` once it
 * has read the window (the encoder stage does, after preprocessing).
 */
import type { Clock } from './clock.js';
import type { Frame, Window } from './types.js';

export interface WindowOptions {
  /** Window length, milliseconds. */
  lengthMs: number;
  /** Distance between window starts, milliseconds. */
  hopMs: number;
  clock: Clock;
  /** Buffers for window data; one is created per stream when omitted. */
  pool?: BufferPool;
  /** Called with every frame as it arrives (the agent counts frames for sensor health). */
  onFrame?: (frame: Frame) => void;
}

/** Recycles Float32Arrays of one size; grows only if the consumer holds on to windows. */
export class BufferPool {
  private readonly free: Float32Array[] = [];
  private created = 0;
  constructor(private size = 0) {}

  acquire(size: number): Float32Array {
    if (size !== this.size) {
      this.free.length = 0;
      this.size = size;
    }
    this.created += this.free.length === 0 ? 1 : 0;
    return this.free.pop() ?? new Float32Array(size);
  }

  release(buf: Float32Array): void {
    if (buf.length === this.size && this.free.length < 64) this.free.push(buf);
  }

  /** Buffers ever allocated (a test checks the pool stops growing). */
  get allocated(): number {
    return this.created;
  }
}

export async function* windows(frames: AsyncIterable<Frame>, opts: WindowOptions): AsyncGenerator<Window> {
  if (!(opts.lengthMs > 0) || !(opts.hopMs > 0)) {
    throw new TypeError(`window lengthMs and hopMs must be > 0, got ${opts.lengthMs} and ${opts.hopMs}`);
  }
  const pool = opts.pool ?? new BufferPool();
  let ring: Float32Array | undefined;
  let rateHz = 0;
  let sampleSize = 0;
  let sampleShape: number[] = [];
  let lengthSamples = 0;
  let hopSamples = 0;
  let writePos = 0; // next sample slot in the ring
  let filled = 0; // valid samples in the ring (≤ lengthSamples)
  let untilEmit = 0; // samples still needed before the next window
  let expectedMs = Number.NaN; // time the next frame should start at
  let seq = 0;

  const reset = () => {
    writePos = 0;
    filled = 0;
    untilEmit = lengthSamples;
  };

  for await (const frame of frames) {
    opts.onFrame?.(frame);
    const shape = frame.shape.slice(1);
    const size = shape.reduce((a, b) => a * b, 1);
    const n = frame.shape[0] ?? 0;
    if (frame.data.length !== n * size) {
      throw new TypeError(
        `frame from ${frame.sensorId}: data length ${frame.data.length} ≠ shape ${frame.shape.join('×')}`,
      );
    }
    if (!ring || frame.rateHz !== rateHz || size !== sampleSize || shape.join() !== sampleShape.join()) {
      rateHz = frame.rateHz;
      sampleSize = size;
      sampleShape = shape;
      lengthSamples = Math.max(1, Math.round((opts.lengthMs * rateHz) / 1000));
      hopSamples = Math.max(1, Math.round((opts.hopMs * rateHz) / 1000));
      ring = new Float32Array(lengthSamples * sampleSize);
      reset();
    }
    const periodMs = 1000 / rateHz;
    // A jump in time (sensor restarted, replay looped) must not be bridged by a window.
    if (Number.isFinite(expectedMs) && Math.abs(frame.tMs - expectedMs) > Math.max(3 * periodMs, 100))
      reset();
    expectedMs = frame.tMs + n * periodMs;

    let i = 0;
    while (i < n) {
      const take = Math.min(n - i, untilEmit, lengthSamples - writePos);
      ring.set(frame.data.subarray(i * sampleSize, (i + take) * sampleSize), writePos * sampleSize);
      writePos = (writePos + take) % lengthSamples;
      filled = Math.min(lengthSamples, filled + take);
      untilEmit -= take;
      i += take;
      if (untilEmit === 0) {
        untilEmit = hopSamples;
        if (filled < lengthSamples) continue;
        const data = pool.acquire(lengthSamples * sampleSize);
        // Oldest sample sits at writePos once the ring is full.
        const tail = ring.subarray(writePos * sampleSize);
        data.set(tail, 0);
        data.set(ring.subarray(0, writePos * sampleSize), tail.length);
        const endMs = frame.tMs + i * periodMs;
        const startMs = endMs - lengthSamples * periodMs;
        yield {
          sensorId: frame.sensorId,
          modality: frame.modality,
          seq: seq++,
          startMs,
          endMs,
          startWallMs: opts.clock.toWallMs(startMs),
          endWallMs: opts.clock.toWallMs(endMs),
          rateHz,
          data,
          shape: [lengthSamples, ...sampleShape],
        };
      }
    }
  }
}
