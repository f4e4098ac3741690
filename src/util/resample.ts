/**
 * torchaudio.functional.resample with its defaults (windowed sinc, Hann window, 6 zero crossings,
 * rolloff 0.99), which ImageBind uses for every input that is not 16 kHz. Rates are reduced by
 * their gcd; the kernel (one filter per output phase) is built once per rate pair.
 */

export interface SincResamplerOptions {
  origRateHz: number;
  newRateHz: number;
  /** Zero crossings on each side of the sinc. Default 6. */
  lowpassFilterWidth?: number;
  /** Cut-off as a fraction of the lower Nyquist rate. Default 0.99. */
  rolloff?: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export class SincResampler {
  readonly origRateHz: number;
  readonly newRateHz: number;
  /** Rates divided by their gcd (44100→16000 becomes 441→160). */
  readonly origStep: number;
  readonly newStep: number;
  /** Input samples of context on each side of a filter. */
  readonly width: number;
  /** Taps per phase: 2·width + origStep. */
  readonly taps: number;
  /** `newStep` filters of `taps` taps each, phase-major. */
  private readonly kernel: Float64Array;
  /**
   * Per phase, the taps [tapStart, tapEnd) inside the sinc's support. Outside it torch clamps t to
   * ±lowpassFilterWidth, where the float32 kernel is ~1e-23: adding those terms cannot change a
   * float32 sum of audible size, so they are skipped (this makes 44.1 kHz input ~10× faster).
   */
  private readonly tapStart: Int32Array;
  private readonly tapEnd: Int32Array;

  constructor(options: SincResamplerOptions) {
    const { origRateHz, newRateHz } = options;
    const lowpassFilterWidth = options.lowpassFilterWidth ?? 6;
    const rolloff = options.rolloff ?? 0.99;
    if (!Number.isInteger(origRateHz) || !Number.isInteger(newRateHz) || origRateHz <= 0 || newRateHz <= 0) {
      throw new TypeError(`SincResampler: rates must be positive integers, got ${origRateHz} → ${newRateHz}`);
    }
    if (!(lowpassFilterWidth > 0)) throw new TypeError('SincResampler: lowpassFilterWidth must be > 0');
    this.origRateHz = origRateHz;
    this.newRateHz = newRateHz;
    const g = gcd(origRateHz, newRateHz);
    const orig = origRateHz / g;
    const next = newRateHz / g;
    this.origStep = orig;
    this.newStep = next;
    const baseFreq = Math.min(orig, next) * rolloff;
    this.width = Math.ceil((lowpassFilterWidth * orig) / baseFreq);
    this.taps = 2 * this.width + orig;
    this.kernel = new Float64Array(next * this.taps);
    // torch builds the kernel in the waveform's dtype, float32: round every step as it does. The
    // float32 kernel differs from an exact one by ~1e-6 of full scale, which moves near-silent mel
    // bands by up to 7e-3 (normalised) against the goldens; with this and the float32 accumulation
    // below the 44.1 and 48 kHz goldens agree to 2e-4.
    const f = Math.fround;
    const base32 = f(baseFreq);
    const pi32 = f(Math.PI);
    const width32 = f(lowpassFilterWidth);
    const scale32 = f(baseFreq / orig);
    this.tapStart = new Int32Array(next).fill(this.taps);
    this.tapEnd = new Int32Array(next);
    for (let phase = 0; phase < next; phase++) {
      const shift = f(-phase / next);
      for (let j = 0; j < this.taps; j++) {
        // Time of input tap j relative to output sample `phase`, in units of the cut-off period.
        let t = f(f(shift + f((j - this.width) / orig)) * base32);
        if (Math.abs(t) < lowpassFilterWidth) {
          this.tapStart[phase] = Math.min(this.tapStart[phase]!, j);
          this.tapEnd[phase] = j + 1;
        }
        t = Math.max(-lowpassFilterWidth, Math.min(lowpassFilterWidth, t));
        const c = f(Math.cos(f(f(f(t * pi32) / width32) / 2)));
        const window = f(c * c);
        const x = f(t * pi32);
        const sinc = x === 0 ? 1 : f(f(Math.sin(x)) / x);
        this.kernel[phase * this.taps + j] = f(sinc * f(window * scale32));
      }
    }
  }

  /** Output length for `inputLength` samples: ceil(inputLength · new / orig). */
  outputLength(inputLength: number): number {
    return Math.ceil((this.newStep * inputLength) / this.origStep);
  }

  /**
   * Resamples `input` into `out` (a new array when omitted; at least `outputLength(input.length)`
   * long). The input is zero-padded at both ends, as torchaudio does.
   */
  process(input: Float32Array, out?: Float32Array): Float32Array {
    const length = input.length;
    const outLength = this.outputLength(length);
    const target = out ?? new Float32Array(outLength);
    if (target.length < outLength) {
      throw new RangeError(`SincResampler: output needs ${outLength} samples, has ${target.length}`);
    }
    const { origStep, newStep, width, taps, kernel, tapStart, tapEnd } = this;
    for (let o = 0; o < outLength; o++) {
      const block = Math.floor(o / newStep);
      const phase = o - block * newStep;
      // Tap j reads padded[block·orig + j] = input[block·orig + j − width].
      const first = block * origStep - width;
      const jStart = Math.max(tapStart[phase]!, -first);
      const jEnd = Math.min(tapEnd[phase]!, length - first);
      const k = phase * taps;
      // Float32 multiply-add over the taps in order, as torch's conv1d (oneDNN, FMA) does; the
      // float64 product of two float32 values is exact. Zero-padding taps add nothing.
      let acc = 0;
      for (let j = jStart; j < jEnd; j++) acc = Math.fround(acc + input[first + j]! * kernel[k + j]!);
      target[o] = acc;
    }
    return target;
  }
}

const cache = new Map<string, SincResampler>();

/** A resampler for this rate pair with torchaudio's defaults, built on first use and then reused. */
export function resamplerFor(origRateHz: number, newRateHz: number): SincResampler {
  const key = `${origRateHz}:${newRateHz}`;
  let resampler = cache.get(key);
  if (!resampler) {
    resampler = new SincResampler({ origRateHz, newRateHz });
    cache.set(key, resampler);
  }
  return resampler;
}
