/**
 * One-channel float image helpers shared by the thermal and depth preprocessors: the community
 * ImageBind loaders' `Resize(size)` (short side, PIL) + `CenterCrop(size)`, with the resampling
 * weights computed once per input shape so that running it per window allocates nothing.
 * docs/preprocessing.md explains the choices.
 */

export type Interpolation = 'bicubic' | 'bilinear';

/** Where the `size`×`size` crop sits in the short-side-resized image. */
export interface CenterCropGeometry {
  /** Size of the whole image after the short-side resize. */
  readonly resizedH: number;
  readonly resizedW: number;
  /** Offset of the crop's top-left corner inside the resized image. */
  readonly top: number;
  readonly left: number;
}

/** Python's `round()`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision `Resize(size)` then `CenterCrop(size)`: the short side becomes `size`, the long side
 * `int(size * long / short)` (truncated), and the crop offsets are `round((resized - size) / 2)`.
 */
export function centerCropGeometry(h: number, w: number, size: number): CenterCropGeometry {
  const resizedH = h <= w ? size : Math.trunc((size * h) / w);
  const resizedW = h <= w ? Math.trunc((size * w) / h) : size;
  return {
    resizedH,
    resizedW,
    top: roundHalfEven((resizedH - size) / 2),
    left: roundHalfEven((resizedW - size) / 2),
  };
}

/** PIL's bicubic kernel (Keys, a = -0.5), support 2. */
function bicubic(x: number): number {
  const a = -0.5;
  const t = x < 0 ? -x : x;
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** PIL's bilinear (triangle) kernel, support 1. */
function triangle(x: number): number {
  const t = x < 0 ? -x : x;
  return t < 1 ? 1 - t : 0;
}

/** Resampling weights along one axis, for `count` outputs starting at `first` of `outSize`. */
interface AxisWeights {
  /** First input index each output reads. */
  readonly start: Int32Array;
  /** Number of input taps each output reads. */
  readonly taps: Int32Array;
  /** `taps[i]` weights of output i at `weights[i * stride]`, summing to 1. */
  readonly weights: Float64Array;
  readonly stride: number;
}

/**
 * Pillow's `precompute_coeffs` (Resample.c): output pixel centres map to input by
 * `(x + 0.5) * in/out`, the kernel widens by in/out when shrinking (antialias), and taps falling
 * outside the image are dropped and the rest renormalised.
 */
function axisWeights(
  inSize: number,
  outSize: number,
  first: number,
  count: number,
  interpolation: Interpolation,
): AxisWeights {
  const filter = interpolation === 'bicubic' ? bicubic : triangle;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = (interpolation === 'bicubic' ? 2 : 1) * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const taps = new Int32Array(count);
  const weights = new Float64Array(count * stride);
  for (let i = 0; i < count; i++) {
    const center = (first + i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let sum = 0;
    for (let x = lo; x < hi; x++) {
      const wgt = filter((x - center + 0.5) / filterScale);
      weights[i * stride + x - lo] = wgt;
      sum += wgt;
    }
    if (sum !== 0) {
      for (let k = i * stride; k < i * stride + hi - lo; k++) weights[k] = weights[k]! / sum;
    }
    start[i] = lo;
    taps[i] = hi - lo;
  }
  return { start, taps, weights, stride };
}

export interface ResizeCropOptions {
  /** Input image height and width. */
  readonly inH: number;
  readonly inW: number;
  /** Output side (the image is `size`×`size`). */
  readonly size: number;
  readonly interpolation: Interpolation;
}

/**
 * Short-side resize to `size` plus centre crop, for `inH`×`inW` float images stored row-major.
 * Only the cropped region is computed. Build one per input shape; `run` allocates nothing.
 */
export class ResizeCrop {
  readonly inH: number;
  readonly inW: number;
  readonly size: number;
  readonly geometry: CenterCropGeometry;
  private readonly rows: AxisWeights;
  private readonly cols: AxisWeights;
  /** First input row the vertical pass reads, and the horizontal pass's output `[rows, size]`. */
  private readonly rowLo: number;
  private readonly tmp: Float64Array;

  constructor(options: ResizeCropOptions) {
    const { inH, inW, size, interpolation } = options;
    for (const [name, v] of [
      ['inH', inH],
      ['inW', inW],
      ['size', size],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new TypeError(`ResizeCrop: ${name} must be a positive integer, got ${v}`);
    }
    this.inH = inH;
    this.inW = inW;
    this.size = size;
    this.geometry = centerCropGeometry(inH, inW, size);
    this.rows = axisWeights(inH, this.geometry.resizedH, this.geometry.top, size, interpolation);
    this.cols = axisWeights(inW, this.geometry.resizedW, this.geometry.left, size, interpolation);
    let rowLo = inH;
    let rowHi = 0;
    for (let i = 0; i < size; i++) {
      rowLo = Math.min(rowLo, this.rows.start[i]!);
      rowHi = Math.max(rowHi, this.rows.start[i]! + this.rows.taps[i]!);
    }
    this.rowLo = rowLo;
    this.tmp = new Float64Array(Math.max(rowHi - rowLo, 0) * size);
  }

  /** Reads `inH*inW` values of `src` from `srcOffset`; writes `size*size` values to `out` from `outOffset`. */
  run(src: Float32Array, srcOffset: number, out: Float32Array, outOffset: number): void {
    const { inW, size, rowLo, tmp, rows, cols } = this;
    const tmpRows = tmp.length / size;
    // Horizontal pass over the input rows the vertical pass needs.
    for (let r = 0; r < tmpRows; r++) {
      const rowBase = srcOffset + (rowLo + r) * inW;
      for (let x = 0; x < size; x++) {
        const s = rowBase + cols.start[x]!;
        const wBase = x * cols.stride;
        const n = cols.taps[x]!;
        let acc = 0;
        for (let k = 0; k < n; k++) acc += src[s + k]! * cols.weights[wBase + k]!;
        tmp[r * size + x] = acc;
      }
    }
    // Vertical pass.
    for (let y = 0; y < size; y++) {
      const s = rows.start[y]! - rowLo;
      const wBase = y * rows.stride;
      const n = rows.taps[y]!;
      const o = outOffset + y * size;
      for (let x = 0; x < size; x++) {
        let acc = 0;
        for (let k = 0; k < n; k++) acc += tmp[(s + k) * size + x]! * rows.weights[wBase + k]!;
        out[o + x] = acc;
      }
    }
  }
}

/** `[a, b, c]`, for error messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks a `[n, h, w]` image window against its data, and that `out` has room for `outLength`
 * values from `outOffset`. Throws a TypeError naming the expected and actual shape.
 */
export function checkImageWindow(
  who: string,
  data: Float32Array,
  shape: readonly number[],
  out: Float32Array,
  outOffset: number,
  outDims: readonly number[],
): void {
  // Indexing, not destructuring: this runs once per window and must not allocate.
  const n = shape[0] ?? 0;
  const h = shape[1] ?? 0;
  const w = shape[2] ?? 0;
  if (shape.length !== 3 || !isCount(n) || !isCount(h) || !isCount(w)) {
    throw new TypeError(
      `${who}: expected window shape [n, h, w] with n, h, w ≥ 1, got ${formatShape(shape)}`,
    );
  }
  if (data.length !== n * h * w) {
    throw new TypeError(
      `${who}: window shape ${formatShape(shape)} needs ${n * h * w} values, got data of length ${data.length}`,
    );
  }
  checkOut(who, out, outOffset, outDims);
}

/** Throws a TypeError unless `out` has room for a `dims`-shaped tensor from `outOffset`. */
export function checkOut(who: string, out: Float32Array, outOffset: number, dims: readonly number[]): void {
  let length = 1;
  for (let i = 0; i < dims.length; i++) length *= dims[i]!;
  if (!(out instanceof Float32Array)) throw new TypeError(`${who}: out must be a Float32Array`);
  if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + length > out.length) {
    throw new TypeError(
      `${who}: output ${formatShape(dims)} (${length} values) at offset ${outOffset} does not fit in out of length ${out.length}`,
    );
  }
}

/** A positive integer. */
export function isCount(v: number): boolean {
  return Number.isInteger(v) && v >= 1;
}

/**
 * Per-pixel last / mean / max of `n` frames (`[n, hw]`), skipping unusable readings; NaN where a
 * pixel has none. Usable: finite (thermal °C), or with `positiveOnly` above 0 (depth mm, where 0
 * and negatives mark invalid pixels and +Infinity means "far").
 */
export function reduceFrames(
  data: Float32Array,
  n: number,
  hw: number,
  mode: 'last' | 'mean' | 'max',
  dst: Float32Array,
  positiveOnly: boolean,
): void {
  for (let p = 0; p < hw; p++) {
    if (mode === 'last') {
      // The newest usable reading: a pixel that drops out in the last frame keeps its recent value.
      let v = NaN;
      for (let f = n - 1; f >= 0; f--) {
        const x = data[f * hw + p]!;
        if (positiveOnly ? x > 0 : x - x === 0) {
          v = x;
          break;
        }
      }
      dst[p] = v;
      continue;
    }
    let acc = mode === 'max' ? -Infinity : 0;
    let count = 0;
    for (let f = 0; f < n; f++) {
      const x = data[f * hw + p]!;
      if (!(positiveOnly ? x > 0 : x - x === 0)) continue;
      count++;
      if (mode === 'mean') acc += x;
      else if (x > acc) acc = x;
    }
    // Separate stores, not one ?: with NaN: V8 would box the result per pixel.
    if (count === 0) dst[p] = NaN;
    else dst[p] = mode === 'mean' ? acc / count : acc;
  }
}
