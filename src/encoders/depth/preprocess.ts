/**
 * Depth window (`[n, h, w]` millimetres, 0 = invalid) → ImageBind depth input `[1, size, size]`:
 * metric disparity, Omnivore's evaluation normalisation. Steps and choices: docs/preprocessing.md#depth.
 */
import type { DepthPreprocess } from '../manifest.js';
import { ResizeCrop, checkImageWindow, formatShape, isCount, reduceFrames } from '../image-ops.js';

export interface DepthPreprocessorOptions {
  /** The pack manifest's `encoders.depth.preprocess`. */
  readonly params: DepthPreprocess;
  /** One frame's shape `[h, w]`, e.g. `[60, 80]` or `[480, 640]`. Another shape later re-plans once. */
  readonly sampleShape: readonly number[];
}

export class DepthPreprocessor {
  /** Shape of one window's model input, `[1, size, size]`. */
  readonly outputDims: readonly [1, number, number];
  /** Values one window writes into `out`. */
  readonly outputLength: number;
  private readonly params: DepthPreprocess;
  /** baselineM × focalLengthPx × 1000: disparity = this / depthMm. */
  private readonly disparityPerInvMm: number;
  /** `minDisparity / maxDisparity`, the value of the farthest (and of a `far`-filled) pixel. */
  private readonly floor: number;
  /** The reduced frame in mm, then its scaled disparity (NaN = no valid reading), `[h, w]`. */
  private frame: Float32Array;
  /** Nearest-valid-pixel index per pixel, for `fillInvalid: 'nearest'`. */
  private seed: Int32Array;
  private resize: ResizeCrop;

  constructor(options: DepthPreprocessorOptions) {
    const { params, sampleShape } = options;
    if (!(params.maxDisparity > params.minDisparity)) {
      throw new TypeError(
        `DepthPreprocessor: maxDisparity (${params.maxDisparity}) must be greater than minDisparity (${params.minDisparity})`,
      );
    }
    const h = sampleShape[0] ?? 0;
    const w = sampleShape[1] ?? 0;
    if (sampleShape.length !== 2 || !isCount(h) || !isCount(w)) {
      throw new TypeError(`DepthPreprocessor: expected sampleShape [h, w], got ${formatShape(sampleShape)}`);
    }
    this.params = params;
    this.outputDims = [1, params.size, params.size];
    this.outputLength = params.size * params.size;
    this.disparityPerInvMm = params.baselineM * params.focalLengthPx * 1000;
    this.floor = params.minDisparity / params.maxDisparity;
    this.frame = new Float32Array(h * w);
    this.seed = new Int32Array(params.fillInvalid === 'nearest' ? h * w : 0);
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
    checkImageWindow('DepthPreprocessor', data, shape, out, outOffset, this.outputDims);
    const n = shape[0]!;
    const h = shape[1]!;
    const w = shape[2]!;
    const { params, floor } = this;
    if (h !== this.resize.inH || w !== this.resize.inW) {
      this.frame = new Float32Array(h * w);
      this.seed = new Int32Array(params.fillInvalid === 'nearest' ? h * w : 0);
      this.resize = new ResizeCrop({
        inH: h,
        inW: w,
        size: params.size,
        interpolation: params.interpolation,
      });
    }
    const frame = this.frame;
    reduceFrames(data, n, h * w, params.reduce, frame, true);

    // mm → m → disparity = baseline·f/depthM, clamped, then ÷ maxDisparity (Omnivore DepthNorm).
    const k = this.disparityPerInvMm;
    const { minDisparity, maxDisparity } = params;
    let valid = 0;
    for (let i = 0; i < frame.length; i++) {
      const mm = frame[i]!;
      if (mm !== mm) continue;
      const d = k / mm;
      // Math.min/max rather than ?: so V8 keeps the loop in unboxed doubles (no per-pixel allocation).
      frame[i] = Math.min(Math.max(d, minDisparity), maxDisparity) / maxDisparity;
      valid++;
    }
    if (valid < frame.length) {
      if (params.fillInvalid === 'nearest' && valid > 0) fillNearest(frame, h, w, this.seed);
      else for (let i = 0; i < frame.length; i++) if (frame[i] !== frame[i]) frame[i] = floor;
    }

    this.resize.run(frame, 0, out, outOffset);
    // Clamp bicubic overshoot back into the disparity range, then (x − mean) / std.
    const { mean, std } = params;
    const end = outOffset + this.outputLength;
    for (let i = outOffset; i < end; i++) {
      const v = out[i]!;
      out[i] = (Math.min(Math.max(v, floor), 1) - mean) / std;
    }
  }
}

/** Neighbour offsets already visited by the forward (left, up-left, up, up-right) and backward raster passes. */
const FORWARD_DX = Int8Array.of(-1, -1, 0, 1);
const FORWARD_DY = Int8Array.of(0, -1, -1, -1);
const BACKWARD_DX = Int8Array.of(1, 1, 0, -1);
const BACKWARD_DY = Int8Array.of(0, 1, 1, 1);

/**
 * Replaces each NaN pixel of the row-major `h`×`w` image with the value of the nearest non-NaN
 * pixel (Euclidean; on a tie the one found first). Two raster passes propagate nearest-seed
 * indices through 8-neighbours (8SSEDT-style), O(h·w): on random sparse masks over 99.9 % of
 * filled pixels get the true nearest and the rest one at most about a pixel farther. Needs at
 * least one non-NaN pixel; `seed` is scratch of length `h * w`.
 */
export function fillNearest(img: Float32Array, h: number, w: number, seed: Int32Array): void {
  for (let i = 0; i < h * w; i++) seed[i] = img[i] === img[i] ? i : -1;
  propagate(seed, h, w, FORWARD_DX, FORWARD_DY, true);
  propagate(seed, h, w, BACKWARD_DX, BACKWARD_DY, false);
  for (let i = 0; i < h * w; i++) if (seed[i] !== i) img[i] = img[seed[i]!]!;
}

function propagate(
  seed: Int32Array,
  h: number,
  w: number,
  dxs: Int8Array,
  dys: Int8Array,
  forward: boolean,
): void {
  for (let r = 0; r < h; r++) {
    const y = forward ? r : h - 1 - r;
    for (let c = 0; c < w; c++) {
      const x = forward ? c : w - 1 - c;
      const i = y * w + x;
      let best = seed[i]!;
      if (best === i) continue;
      let bestD = best < 0 ? Infinity : dist2(best, x, y, w);
      for (let k = 0; k < dxs.length; k++) {
        const nx = x + dxs[k]!;
        const ny = y + dys[k]!;
        if (nx < 0 || nx >= w || ny < 0 || ny >= h) continue;
        const s = seed[ny * w + nx]!;
        if (s < 0 || s === best) continue;
        const d = dist2(s, x, y, w);
        if (d < bestD) {
          best = s;
          bestD = d;
        }
      }
      seed[i] = best;
    }
  }
}

/** Squared distance from pixel index `s` to (x, y) in a `w`-wide image. */
function dist2(s: number, x: number, y: number, w: number): number {
  const sx = s % w;
  const dx = sx - x;
  const dy = (s - sx) / w - y;
  return dx * dx + dy * dy;
}
