/**
 * Thermal window (`[n, h, w]` °C) → ImageBind thermal input `[1, size, size]` in [0, 1].
 * Steps and choices: docs/preprocessing.md#thermal.
 */
import type { ThermalPreprocess } from '../manifest.js';
import { ResizeCrop, checkImageWindow, formatShape, isCount, reduceFrames } from '../image-ops.js';

export interface ThermalPreprocessorOptions {
  /** The pack manifest's `encoders.thermal.preprocess`. */
  readonly params: ThermalPreprocess;
  /** One frame's shape `[h, w]`, e.g. `[24, 32]` (MLX90640). Another shape later re-plans once. */
  readonly sampleShape: readonly number[];
}

export class ThermalPreprocessor {
  /** Shape of one window's model input, `[1, size, size]`. */
  readonly outputDims: readonly [1, number, number];
  /** Values one window writes into `out`. */
  readonly outputLength: number;
  private readonly params: ThermalPreprocess;
  /** The reduced frame, then its [0, 1] image, `[h, w]`. */
  private frame: Float32Array;
  private resize: ResizeCrop;

  constructor(options: ThermalPreprocessorOptions) {
    const { params, sampleShape } = options;
    if (params.range.mode === 'fixed' && !(params.range.maxC > params.range.minC)) {
      throw new TypeError(
        `ThermalPreprocessor: range.maxC (${params.range.maxC}) must be greater than range.minC (${params.range.minC})`,
      );
    }
    const h = sampleShape[0] ?? 0;
    const w = sampleShape[1] ?? 0;
    if (sampleShape.length !== 2 || !isCount(h) || !isCount(w)) {
      throw new TypeError(
        `ThermalPreprocessor: expected sampleShape [h, w], got ${formatShape(sampleShape)}`,
      );
    }
    this.params = params;
    this.outputDims = [1, params.size, params.size];
    this.outputLength = params.size * params.size;
    this.frame = new Float32Array(h * w);
    this.resize = new ResizeCrop({ inH: h, inW: w, size: params.size, interpolation: params.interpolation });
  }

  /**
   * Writes the model input for one window to `out[outOffset .. outOffset + outputLength)`.
   * `rateHz` is accepted for a uniform signature; frame reduction does not depend on it.
   */
  process(
    data: Float32Array,
    shape: readonly number[],
    _rateHz: number,
    out: Float32Array,
    outOffset: number,
  ): void {
    checkImageWindow('ThermalPreprocessor', data, shape, out, outOffset, this.outputDims);
    const n = shape[0]!;
    const h = shape[1]!;
    const w = shape[2]!;
    if (h !== this.resize.inH || w !== this.resize.inW) {
      this.frame = new Float32Array(h * w);
      this.resize = new ResizeCrop({
        inH: h,
        inW: w,
        size: this.params.size,
        interpolation: this.params.interpolation,
      });
    }
    const frame = this.frame;
    reduceFrames(data, n, h * w, this.params.reduce, frame, false);
    toUnitRange(frame, this.params.range);
    this.resize.run(frame, 0, out, outOffset);
    // Bicubic overshoots at hot edges; the reference's 8-bit PIL image clips to [0, 255].
    const end = outOffset + this.outputLength;
    for (let i = outOffset; i < end; i++) {
      const v = out[i]!;
      out[i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}

/** False for NaN and ±Infinity (`v - v` is NaN for those). */
function finite(v: number): boolean {
  return v - v === 0;
}

/** °C → [0, 1] in place; non-finite pixels become 0. */
function toUnitRange(frame: Float32Array, range: ThermalPreprocess['range']): void {
  let lo: number;
  let span: number;
  if (range.mode === 'fixed') {
    lo = range.minC;
    span = range.maxC - range.minC;
  } else {
    lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < frame.length; i++) {
      const v = frame[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    span = hi - lo;
    if (span < range.minSpanC) {
      lo = (lo + hi) / 2 - range.minSpanC / 2;
      span = range.minSpanC;
    }
  }
  // A flat frame (span 0 with minSpanC 0) has no contrast to stretch: mid-grey, never 0/0.
  const flat = !(span > 0);
  for (let i = 0; i < frame.length; i++) {
    const v = frame[i]!;
    if (!finite(v)) {
      frame[i] = 0;
      continue;
    }
    if (flat) frame[i] = 0.5;
    else frame[i] = Math.min(Math.max((v - lo) / span, 0), 1);
  }
}
