/**
 * A sensor's recent raw samples for event clips (issue #18): a ring allocated once, on the first
 * frame (when the sensor's rate and sample shape are known), into which every frame is copied.
 * Nothing is allocated per frame; a clip copies its span out when it is written.
 *
 * Times are wall-clock milliseconds (the pipeline clock's `toWallMs`, as events' times are). The
 * ring holds one unbroken stretch: a gap or jump in time (a sensor restarted, a replay looped)
 * empties it, so each sample's time follows from the newest one's and the rate.
 *
 * Memory is bounded (`maxBytes`, default 32 MiB per sensor): 75 s of a 640×480 depth camera at
 * 30 Hz would be 2.8 GB of float32. A clip shows images as a key frame and a contact sheet, never
 * every frame, so an image stream over the budget keeps every k-th image (its held rate is the
 * sensor's rate / k); a sample stream (audio, IMU) over it keeps fewer seconds.
 */
import type { Frame } from '../pipeline/types.js';

/** A copied-out span of a ring. */
export interface RingSpan {
  /** Samples × sampleSize values, oldest first. */
  data: Float32Array;
  samples: number;
  /** Wall time of the first sample, ms. */
  fromWallMs: number;
  rateHz: number;
  /** One sample's shape (`[]` audio mono, `[channels]`, `[6]` IMU, `[h, w]` images). */
  sampleShape: readonly number[];
}

export class SampleRing {
  private buf = new Float32Array(0);
  private capacity = 0; // samples
  private sampleSize = 0;
  private shape: number[] = [];
  /** The rate samples are held at (the sensor's, or its / `every` for images over the budget). */
  private rateHz = 0;
  private sourceRateHz = 0;
  private write = 0; // next sample slot
  private count = 0; // valid samples
  /** Wall time just after the newest sample (NaN while empty). */
  private endWallMs = Number.NaN;
  private allocations = 0;
  /** Images: keep one in `every` (1 = all); `phase` counts the samples since the last kept one. */
  private every = 1;
  private phase = 0;
  /** Wall time just after the newest frame pushed, at the sensor's own rate (gap detection). */
  private expectWallMs = Number.NaN;

  /**
   * @param seconds how much the ring holds
   * @param maxBytes the most its buffer may take (default 32 MiB)
   */
  constructor(
    private readonly seconds: number,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {
    if (!(seconds > 0)) throw new TypeError(`SampleRing: seconds must be > 0, got ${seconds}`);
  }

  /** Copies a frame in; `startWallMs` is its first sample's wall time. Allocates only on the first frame or a change of rate or shape. */
  push(frame: Frame, startWallMs: number): void {
    const n = frame.shape[0] ?? 0;
    if (n === 0) return;
    const size = frame.data.length / n;
    if (
      frame.rateHz !== this.sourceRateHz ||
      size !== this.sampleSize ||
      !sameShape(frame.shape, this.shape)
    ) {
      this.allocate(frame, size);
    }
    const sourcePeriodMs = 1000 / this.sourceRateHz;
    if (this.count > 0 && Math.abs(startWallMs - this.expectWallMs) > Math.max(3 * sourcePeriodMs, 100)) {
      this.count = 0;
      this.write = 0;
      this.phase = 0;
    }
    this.expectWallMs = startWallMs + n * sourcePeriodMs;
    if (this.every > 1) {
      this.pushEveryKth(frame, n, size, startWallMs, sourcePeriodMs);
      return;
    }
    const periodMs = sourcePeriodMs;
    // Only the newest `capacity` samples of a frame longer than the ring matter.
    const skip = Math.max(0, n - this.capacity);
    let i = skip;
    const src = frame.data;
    const buf = this.buf;
    while (i < n) {
      const take = Math.min(n - i, this.capacity - this.write);
      // A plain loop, not set(subarray()): a subarray is an object per frame.
      const from = i * size;
      const to = this.write * size;
      const len = take * size;
      for (let k = 0; k < len; k++) buf[to + k] = src[from + k]!;
      this.write = (this.write + take) % this.capacity;
      i += take;
    }
    this.count = Math.min(this.capacity, this.count + n);
    this.endWallMs = startWallMs + n * periodMs;
  }

  /** Sizes the buffer for this stream within `maxBytes`: the only allocation until the stream changes. */
  private allocate(frame: Frame, size: number): void {
    this.sourceRateHz = frame.rateHz;
    this.sampleSize = size;
    this.shape = frame.shape.slice(1);
    const wanted = Math.max(1, Math.ceil(this.seconds * frame.rateHz));
    const fits = Math.max(1, Math.floor(this.maxBytes / (size * Float32Array.BYTES_PER_ELEMENT)));
    const image = this.shape.length >= 2;
    this.every = image && wanted > fits ? Math.ceil(wanted / fits) : 1;
    this.rateHz = frame.rateHz / this.every;
    this.capacity = image ? Math.max(1, Math.ceil(this.seconds * this.rateHz)) : Math.min(wanted, fits);
    this.buf = new Float32Array(this.capacity * size);
    this.allocations++;
    this.count = 0;
    this.write = 0;
    this.phase = 0;
  }

  /** An image stream over the budget: copies one image in `every`, each at its own time. */
  private pushEveryKth(
    frame: Frame,
    n: number,
    size: number,
    startWallMs: number,
    sourcePeriodMs: number,
  ): void {
    const src = frame.data;
    const buf = this.buf;
    for (let j = 0; j < n; j++) {
      if (this.phase === 0) {
        const from = j * size;
        const to = this.write * size;
        for (let k = 0; k < size; k++) buf[to + k] = src[from + k]!;
        this.write = (this.write + 1) % this.capacity;
        this.count = Math.min(this.capacity, this.count + 1);
        this.endWallMs = startWallMs + j * sourcePeriodMs + 1000 / this.rateHz;
      }
      this.phase = (this.phase + 1) % this.every;
    }
  }

  /** Bytes of the buffer (bounded by `maxBytes` for images; a test checks it). */
  get bytes(): number {
    return this.buf.byteLength;
  }

  /** Wall time just after the newest sample; NaN while empty. */
  get newestWallMs(): number {
    return this.count > 0 ? this.endWallMs : Number.NaN;
  }

  /** Wall time of the oldest sample held; NaN while empty. */
  get oldestWallMs(): number {
    return this.count > 0 ? this.endWallMs - (this.count * 1000) / this.rateHz : Number.NaN;
  }

  /** Times the buffer was allocated (a test checks frames allocate nothing). */
  get allocated(): number {
    return this.allocations;
  }

  /**
   * A copy of the samples whose times fall in [fromWallMs, toWallMs); undefined when none does
   * (the span is older than the ring, or not yet recorded).
   */
  copy(fromWallMs: number, toWallMs: number): RingSpan | undefined {
    if (this.count === 0 || !(toWallMs > fromWallMs)) return undefined;
    const periodMs = 1000 / this.rateHz;
    const oldest = this.endWallMs - this.count * periodMs;
    // Sample k (0 = oldest held) starts at oldest + k·period.
    const first = Math.max(0, Math.ceil((fromWallMs - oldest) / periodMs - 1e-9));
    const last = Math.min(this.count, Math.ceil((toWallMs - oldest) / periodMs - 1e-9)); // exclusive
    if (last <= first) return undefined;
    const samples = last - first;
    const size = this.sampleSize;
    const data = new Float32Array(samples * size);
    const start = (this.write - this.count + first + this.capacity) % this.capacity;
    const head = Math.min(samples, this.capacity - start);
    data.set(this.buf.subarray(start * size, (start + head) * size), 0);
    if (head < samples) data.set(this.buf.subarray(0, (samples - head) * size), head * size);
    return {
      data,
      samples,
      fromWallMs: oldest + first * periodMs,
      rateHz: this.rateHz,
      sampleShape: this.shape,
    };
  }
}

function sameShape(frameShape: readonly number[], sample: readonly number[]): boolean {
  if (frameShape.length !== sample.length + 1) return false;
  for (let i = 0; i < sample.length; i++) if (frameShape[i + 1] !== sample[i]) return false;
  return true;
}
