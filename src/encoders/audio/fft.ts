/**
 * Radix-2 FFTs sized once: twiddles, the bit-reversal table and scratch are built in the
 * constructor, so a transform allocates nothing. The kaldi fbank runs a 512-point real FFT ~200
 * times per 2 s clip, as one 256-point complex FFT plus a split.
 *
 * Decimation in time on bit-reversed input, with pairs of radix-2 stages fused into one pass
 * (radix-2², three complex multiplies per four points) to halve the loads and stores.
 */

function assertPowerOfTwo(size: number, min: number, what: string): void {
  if (!Number.isInteger(size) || size < min || (size & (size - 1)) !== 0) {
    throw new TypeError(`${what}: size must be a power of two ≥ ${min}, got ${size}`);
  }
}

/** In-place complex FFT, X[k] = Σ x[n]·e^(−2πikn/N), on separate real and imaginary arrays. */
export class ComplexFft {
  readonly size: number;
  /** `bitReversed[n]` is n with its log2(size) bits reversed. */
  readonly bitReversed: Uint32Array;
  /** Pairs (i, j), i < j, to swap for the bit-reversal permutation. */
  private readonly swaps: Uint32Array;
  /** Whether log2(size) is odd: one plain radix-2 stage (span 1) runs before the fused pairs. */
  private readonly oddStage: boolean;
  /** Spans h of the fused stage pairs (h, 2h), smallest first. */
  private readonly spans: Uint32Array;
  /** Per pair, from `twiddleOffset[p]`: h values of W_2h^k (cos, −sin) then h of W_4h^k. */
  private readonly twiddleOffset: Uint32Array;
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;

  constructor(size: number) {
    assertPowerOfTwo(size, 2, 'ComplexFft');
    this.size = size;
    const bits = Math.log2(size);
    this.bitReversed = new Uint32Array(size);
    const pairs: number[] = [];
    for (let i = 0; i < size; i++) {
      let j = 0;
      for (let b = 0; b < bits; b++) j |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitReversed[i] = j;
      if (i < j) pairs.push(i, j);
    }
    this.swaps = Uint32Array.from(pairs);
    this.oddStage = bits % 2 === 1;
    const spans: number[] = [];
    for (let h = this.oddStage ? 2 : 1; h < size; h *= 4) spans.push(h);
    this.spans = Uint32Array.from(spans);
    this.twiddleOffset = new Uint32Array(spans.length);
    let total = 0;
    spans.forEach((h, p) => {
      this.twiddleOffset[p] = total;
      total += 2 * h;
    });
    this.twRe = new Float64Array(total);
    this.twIm = new Float64Array(total);
    spans.forEach((h, p) => {
      const o = this.twiddleOffset[p]!;
      for (let k = 0; k < h; k++) {
        this.twRe[o + k] = Math.cos((2 * Math.PI * k) / (2 * h));
        this.twIm[o + k] = -Math.sin((2 * Math.PI * k) / (2 * h));
        this.twRe[o + h + k] = Math.cos((2 * Math.PI * k) / (4 * h));
        this.twIm[o + h + k] = -Math.sin((2 * Math.PI * k) / (4 * h));
      }
    });
  }

  /** Forward transform of `re` + i·`im` (each at least `size` long), in place. */
  transform(re: Float64Array, im: Float64Array): void {
    const swaps = this.swaps;
    for (let p = 0; p < swaps.length; p += 2) {
      const i = swaps[p]!;
      const j = swaps[p + 1]!;
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
    this.transformBitReversed(re, im);
  }

  /** The same transform for input already stored in bit-reversed order (see `bitReversed`). */
  transformBitReversed(re: Float64Array, im: Float64Array): void {
    const n = this.size;
    if (this.oddStage) {
      for (let a = 0; a < n; a += 2) {
        const r0 = re[a]!;
        const i0 = im[a]!;
        const r1 = re[a + 1]!;
        const i1 = im[a + 1]!;
        re[a] = r0 + r1;
        im[a] = i0 + i1;
        re[a + 1] = r0 - r1;
        im[a + 1] = i0 - i1;
      }
    }
    const twRe = this.twRe;
    const twIm = this.twIm;
    let first = 0;
    if (this.spans[0] === 1) {
      // Spans 1 and 2: every twiddle is 1 or −i, so no multiplies.
      first = 1;
      for (let a = 0; a < n; a += 4) {
        const r0 = re[a]!;
        const i0 = im[a]!;
        const r1 = re[a + 1]!;
        const i1 = im[a + 1]!;
        const r2 = re[a + 2]!;
        const i2 = im[a + 2]!;
        const r3 = re[a + 3]!;
        const i3 = im[a + 3]!;
        const s0r = r0 + r1;
        const s0i = i0 + i1;
        const s1r = r0 - r1;
        const s1i = i0 - i1;
        const s2r = r2 + r3;
        const s2i = i2 + i3;
        // (r2 − r3) + i(i2 − i3), times −i.
        const t3r = i2 - i3;
        const t3i = r3 - r2;
        re[a] = s0r + s2r;
        im[a] = s0i + s2i;
        re[a + 2] = s0r - s2r;
        im[a + 2] = s0i - s2i;
        re[a + 1] = s1r + t3r;
        im[a + 1] = s1i + t3i;
        re[a + 3] = s1r - t3r;
        im[a + 3] = s1i - t3i;
      }
    }
    for (let p = first; p < this.spans.length; p++) {
      const h = this.spans[p]!;
      const o = this.twiddleOffset[p]!;
      const group = 4 * h;
      for (let k = 0; k < h; k++) {
        // Stage span h: (a0, a1) and (a2, a3) with W_2h^k. Stage span 2h: (a0, a2) with W_4h^k,
        // (a1, a3) with W_4h^(k+h) = −i·W_4h^k.
        const w1r = twRe[o + k]!;
        const w1i = twIm[o + k]!;
        const w2r = twRe[o + h + k]!;
        const w2i = twIm[o + h + k]!;
        for (let a0 = k; a0 < n; a0 += group) {
          const a1 = a0 + h;
          const a2 = a1 + h;
          const a3 = a2 + h;
          const r0 = re[a0]!;
          const i0 = im[a0]!;
          const x1r = re[a1]!;
          const x1i = im[a1]!;
          const r2 = re[a2]!;
          const i2 = im[a2]!;
          const x3r = re[a3]!;
          const x3i = im[a3]!;
          const b1r = x1r * w1r - x1i * w1i;
          const b1i = x1r * w1i + x1i * w1r;
          const b3r = x3r * w1r - x3i * w1i;
          const b3i = x3r * w1i + x3i * w1r;
          const s0r = r0 + b1r;
          const s0i = i0 + b1i;
          const s1r = r0 - b1r;
          const s1i = i0 - b1i;
          const s2r = r2 + b3r;
          const s2i = i2 + b3i;
          const s3r = r2 - b3r;
          const s3i = i2 - b3i;
          const t2r = s2r * w2r - s2i * w2i;
          const t2i = s2r * w2i + s2i * w2r;
          // s3·W_4h^k·(−i): (x + iy)·(−i) = y − ix.
          const u3r = s3r * w2r - s3i * w2i;
          const u3i = s3r * w2i + s3i * w2r;
          const t3r = u3i;
          const t3i = -u3r;
          re[a0] = s0r + t2r;
          im[a0] = s0i + t2i;
          re[a2] = s0r - t2r;
          im[a2] = s0i - t2i;
          re[a1] = s1r + t3r;
          im[a1] = s1i + t3i;
          re[a3] = s1r - t3r;
          im[a3] = s1i - t3i;
        }
      }
    }
  }
}

/**
 * Real-input FFT of `size` points through one complex FFT of `size / 2` points (even samples in
 * the real part, odd in the imaginary part, then split), as torch.fft.rfft returns `size/2 + 1` bins.
 */
export class RealFft {
  readonly size: number;
  /** Number of output bins, `size / 2 + 1`. */
  readonly bins: number;
  private readonly fft: ComplexFft;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;

  constructor(size: number) {
    assertPowerOfTwo(size, 4, 'RealFft');
    this.size = size;
    const half = size >> 1;
    this.bins = half + 1;
    this.fft = new ComplexFft(half);
    this.re = new Float64Array(half);
    this.im = new Float64Array(half);
    this.cos = new Float64Array(half + 1);
    this.sin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / size);
      this.sin[k] = Math.sin((2 * Math.PI * k) / size);
    }
  }

  /** Spectrum of `input[0..size)` into `outRe`, `outIm` (each at least `bins` long). */
  transform(input: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    this.forwardPacked(input);
    const half = this.size >> 1;
    const re = this.re;
    const im = this.im;
    const cos = this.cos;
    const sin = this.sin;
    outRe[0] = re[0]! + im[0]!;
    outIm[0] = 0;
    outRe[half] = re[0]! - im[0]!;
    outIm[half] = 0;
    for (let k = 1; k < half; k++) {
      const zr = re[k]!;
      const zi = im[k]!;
      const cr = re[half - k]!;
      const ci = im[half - k]!;
      // Even part E = (Z[k] + conj Z[N/2−k]) / 2, odd part O = (Z[k] − conj Z[N/2−k]) / 2i.
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi - ci);
      const or = 0.5 * (zi + ci);
      const oi = -0.5 * (zr - cr);
      // X[k] = E + e^(−2πik/N)·O
      const wr = cos[k]!;
      const wi = -sin[k]!;
      outRe[k] = er + wr * or - wi * oi;
      outIm[k] = ei + wr * oi + wi * or;
    }
  }

  /** |X[k]|² of `input[0..size)` into `out[0..bins)`. */
  powerSpectrum(input: Float64Array, out: Float64Array): void {
    this.pack(input);
    this.powerSpectrumOfPacked(out);
  }

  /**
   * Where a caller writes its input directly (issue #19: the fbank writes each windowed sample
   * here instead of into a frame buffer that is then copied): sample 2n goes to
   * `packedRe[bitReversed[n]]`, sample 2n+1 to `packedIm[bitReversed[n]]`, for n < size/2. The
   * transform overwrites them, so every sample must be written again before each transform.
   */
  get packedRe(): Float64Array {
    return this.re;
  }
  get packedIm(): Float64Array {
    return this.im;
  }
  /** `bitReversed[n]`: where samples 2n and 2n+1 go in `packedRe` / `packedIm`. */
  get bitReversed(): Uint32Array {
    return this.fft.bitReversed;
  }

  /** `powerSpectrum` of the input written into `packedRe` / `packedIm`; the same bits. */
  powerSpectrumOfPacked(out: Float64Array): void {
    this.fft.transformBitReversed(this.re, this.im);
    const half = this.size >> 1;
    const re = this.re;
    const im = this.im;
    const cos = this.cos;
    const sin = this.sin;
    const dc = re[0]! + im[0]!;
    const ny = re[0]! - im[0]!;
    out[0] = dc * dc;
    out[half] = ny * ny;
    for (let k = 1; k < half; k++) {
      const zr = re[k]!;
      const zi = im[k]!;
      const cr = re[half - k]!;
      const ci = im[half - k]!;
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi - ci);
      const or = 0.5 * (zi + ci);
      const oi = -0.5 * (zr - cr);
      const wr = cos[k]!;
      const wi = sin[k]!;
      const xr = er + wr * or + wi * oi;
      const xi = ei + wr * oi - wi * or;
      out[k] = xr * xr + xi * xi;
    }
  }

  /** Packs even/odd samples straight into bit-reversed order, then runs the complex FFT. */
  private forwardPacked(input: Float64Array): void {
    this.pack(input);
    this.fft.transformBitReversed(this.re, this.im);
  }

  private pack(input: Float64Array): void {
    const half = this.size >> 1;
    const re = this.re;
    const im = this.im;
    const rev = this.fft.bitReversed;
    for (let n = 0; n < half; n++) {
      const j = rev[n]!;
      re[j] = input[2 * n]!;
      im[j] = input[2 * n + 1]!;
    }
  }
}
