/**
 * Kaldi-compatible log mel filterbank, exactly as ImageBind calls torchaudio.compliance.kaldi.fbank:
 * 25 ms Hann ("hanning", symmetric) frames every 10 ms, snip_edges, dither 0, per-frame DC removal,
 * pre-emphasis 0.97, zero-padded 512-point power spectrum, triangular mel filters on
 * 1127·ln(1 + f/700) from 20 Hz to Nyquist, natural log floored at float32 epsilon, no energy column.
 *
 * torchaudio runs this on float32 tensors. Mel bands far below a frame's peak sit near the log
 * floor, where float32 rounding noise decides the value, so the steps before the FFT (frame mean,
 * DC removal, pre-emphasis, window) and the filter weights are rounded to float32 exactly as torch
 * rounds them; the FFT and mel sums run in float64, and energies, log and normalisation are
 * rounded to float32 again. torch's own float32 FFT noise cannot be reproduced without its FFT
 * (pocketfft); what remains is ≤ 7e-4 after normalisation on the goldens (chirp_2s).
 *
 * Everything is sized in the constructor; `compute()` allocates nothing.
 */
import { RealFft } from './fft.js';
import { Float32RowSum } from './float32-sum.js';

/** torch.finfo(torch.float32).eps: kaldi's floor before the log. */
export const LOG_FLOOR = 1.1920928955078125e-7;
export const FRAME_LENGTH_MS = 25;
export const FRAME_SHIFT_MS = 10;
export const PREEMPHASIS = 0.97;
export const LOW_FREQ_HZ = 20;
const PREEMPHASIS_F32 = Math.fround(PREEMPHASIS);

/** Kaldi's mel scale, 1127·ln(1 + f/700). */
export function melScale(freqHz: number): number {
  return 1127 * Math.log(1 + freqHz / 700);
}

export interface MelBankOptions {
  numMelBins: number;
  /** FFT length the filters apply to (power spectrum has fftSize/2 + 1 bins). */
  fftSize: number;
  sampleRateHz: number;
  /** Default 20. */
  lowFreqHz?: number;
  /** ≤ 0 means Nyquist + highFreqHz, as in kaldi. Default 0 (Nyquist). */
  highFreqHz?: number;
}

/** Triangular filters stored sparsely: filter m covers bins `firstBin[m]` … `firstBin[m] + count − 1`. */
export interface MelBank {
  readonly numMelBins: number;
  /** Filter edges on the mel scale. */
  readonly leftMel: Float64Array;
  readonly centerMel: Float64Array;
  readonly rightMel: Float64Array;
  readonly firstBin: Int32Array;
  /** `weights.subarray(offsets[m], offsets[m + 1])` are filter m's non-zero weights. */
  readonly offsets: Int32Array;
  readonly weights: Float64Array;
}

/** torchaudio.compliance.kaldi.get_mel_banks without VTLN warping. */
export function kaldiMelBank(options: MelBankOptions): MelBank {
  const { numMelBins, fftSize, sampleRateHz } = options;
  const nyquist = sampleRateHz / 2;
  const lowFreq = options.lowFreqHz ?? LOW_FREQ_HZ;
  let highFreq = options.highFreqHz ?? 0;
  if (highFreq <= 0) highFreq += nyquist;
  if (!(numMelBins > 3) || !Number.isInteger(numMelBins)) {
    throw new TypeError(`kaldiMelBank: numMelBins must be an integer > 3, got ${numMelBins}`);
  }
  if (!(lowFreq >= 0 && lowFreq < nyquist && highFreq > 0 && highFreq <= nyquist && lowFreq < highFreq)) {
    throw new TypeError(`kaldiMelBank: bad band ${lowFreq}–${highFreq} Hz for Nyquist ${nyquist} Hz`);
  }
  const numFftBins = fftSize / 2;
  const binWidth = sampleRateHz / fftSize;
  // The band limits are float64 (Python scalars); the filter arithmetic is float32 tensors, so
  // round each step as torch does (weights then agree with torchaudio's to the last bit or two).
  const melLow = melScale(lowFreq);
  const melDelta = Math.fround((melScale(highFreq) - melLow) / (numMelBins + 1));
  const melLow32 = Math.fround(melLow);
  const binMel = new Float64Array(numFftBins);
  for (let k = 0; k < numFftBins; k++) {
    binMel[k] = Math.fround(
      1127 * Math.fround(Math.log(Math.fround(1 + Math.fround(Math.fround(binWidth * k) / 700)))),
    );
  }
  const leftMel = new Float64Array(numMelBins);
  const centerMel = new Float64Array(numMelBins);
  const rightMel = new Float64Array(numMelBins);
  const firstBin = new Int32Array(numMelBins);
  const offsets = new Int32Array(numMelBins + 1);
  const weights: number[] = [];
  for (let m = 0; m < numMelBins; m++) {
    const left = Math.fround(melLow32 + Math.fround(m * melDelta));
    const center = Math.fround(melLow32 + Math.fround((m + 1) * melDelta));
    const right = Math.fround(melLow32 + Math.fround((m + 2) * melDelta));
    leftMel[m] = left;
    centerMel[m] = center;
    rightMel[m] = right;
    offsets[m] = weights.length;
    firstBin[m] = -1;
    // The Nyquist bin (numFftBins) always has weight 0: kaldi pads the filters with a zero column.
    for (let k = 0; k < numFftBins; k++) {
      const mel = binMel[k]!;
      const up = Math.fround(Math.fround(mel - left) / Math.fround(center - left));
      const down = Math.fround(Math.fround(right - mel) / Math.fround(right - center));
      const w = Math.max(0, Math.min(up, down));
      if (w > 0) {
        if (firstBin[m] === -1) firstBin[m] = k;
        weights.push(w);
      } else if (firstBin[m] !== -1) {
        break;
      }
    }
    if (firstBin[m] === -1) firstBin[m] = 0;
  }
  offsets[numMelBins] = weights.length;
  return { numMelBins, leftMel, centerMel, rightMel, firstBin, offsets, weights: Float64Array.from(weights) };
}

export interface KaldiFbankOptions {
  /** Default 128. */
  numMelBins?: number;
  /** Default 16000. */
  sampleRateHz?: number;
  /**
   * `frame-major` writes torchaudio's `[frames][numMelBins]`; `mel-major` writes ImageBind's
   * transposed `[numMelBins][maxFrames]`. Default `frame-major`.
   */
  layout?: 'frame-major' | 'mel-major';
  /** Frames past this are not computed (ImageBind crops to 204). Required for `mel-major`. */
  maxFrames?: number;
  /**
   * Each value written is (log energy − mean) / std, in float32 like torchvision's Normalize.
   * Defaults 0 and 1: plain log mel energies.
   */
  mean?: number;
  std?: number;
}

export class KaldiFbank {
  readonly numMelBins: number;
  readonly sampleRateHz: number;
  /** Samples per frame (400 at 16 kHz). */
  readonly windowSize: number;
  /** Samples between frame starts (160 at 16 kHz). */
  readonly windowShift: number;
  /** FFT length, the window size rounded up to a power of two (512). */
  readonly paddedSize: number;
  readonly maxFrames: number;
  readonly melBank: MelBank;
  private readonly frameStride: number;
  private readonly melStride: number;
  private readonly mean: number;
  private readonly std: number;
  private readonly window: Float64Array;
  private readonly fft: RealFft;
  private readonly power: Float64Array;
  private readonly rowSum = new Float32RowSum();

  constructor(options: KaldiFbankOptions = {}) {
    this.numMelBins = options.numMelBins ?? 128;
    this.sampleRateHz = options.sampleRateHz ?? 16000;
    this.windowSize = Math.trunc((this.sampleRateHz * FRAME_LENGTH_MS) / 1000);
    this.windowShift = Math.trunc((this.sampleRateHz * FRAME_SHIFT_MS) / 1000);
    if (this.windowSize < 2)
      throw new TypeError(`KaldiFbank: sample rate ${this.sampleRateHz} Hz is too low`);
    let padded = 1;
    while (padded < this.windowSize) padded <<= 1;
    this.paddedSize = padded;
    const layout = options.layout ?? 'frame-major';
    if (layout === 'mel-major' && options.maxFrames === undefined) {
      throw new TypeError('KaldiFbank: layout mel-major needs maxFrames (the row length)');
    }
    this.maxFrames = options.maxFrames ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(this.maxFrames) || this.maxFrames < 1) {
      throw new TypeError(`KaldiFbank: maxFrames must be a positive integer, got ${options.maxFrames}`);
    }
    this.frameStride = layout === 'frame-major' ? this.numMelBins : 1;
    this.melStride = layout === 'frame-major' ? 1 : this.maxFrames;
    this.mean = Math.fround(options.mean ?? 0);
    this.std = Math.fround(options.std ?? 1);
    this.melBank = kaldiMelBank({
      numMelBins: this.numMelBins,
      fftSize: padded,
      sampleRateHz: this.sampleRateHz,
    });
    // torch.hann_window(periodic=False) in float32: 0.5 − 0.5·cos(2πn / (N − 1)), rounded per step.
    this.window = new Float64Array(this.windowSize);
    const step = Math.fround((2 * Math.PI) / (this.windowSize - 1));
    for (let n = 0; n < this.windowSize; n++) {
      this.window[n] = Math.fround(0.5 - 0.5 * Math.fround(Math.cos(Math.fround(n * step))));
    }
    this.fft = new RealFft(padded);
    this.power = new Float64Array(this.fft.bins);
  }

  /** Frames kaldi produces from `lengthSamples` samples (snip_edges): 0 when shorter than one window. */
  numFrames(lengthSamples: number): number {
    if (lengthSamples < this.windowSize) return 0;
    return 1 + Math.floor((lengthSamples - this.windowSize) / this.windowShift);
  }

  /**
   * Features of `signal[0..length)`, at most `maxFrames` frames, written into `out` from `outOffset`
   * in the configured layout. Returns the number of frames written. Throws RangeError when `length`
   * is shorter than one window (kaldi asserts) or `out` is too small.
   */
  compute(signal: Float32Array, length: number, out: Float32Array, outOffset: number): number {
    if (length > signal.length)
      throw new RangeError(`KaldiFbank: length ${length} > signal ${signal.length}`);
    const frames = Math.min(this.numFrames(length), this.maxFrames);
    if (frames === 0) {
      throw new RangeError(
        `KaldiFbank: ${length} samples is shorter than one ${this.windowSize}-sample frame`,
      );
    }
    const lastIndex = outOffset + (frames - 1) * this.frameStride + (this.numMelBins - 1) * this.melStride;
    if (outOffset < 0 || lastIndex >= out.length) {
      throw new RangeError(`KaldiFbank: output needs index ${lastIndex}, has ${out.length}`);
    }
    const size = this.windowSize;
    const shift = this.windowShift;
    const win = this.window;
    const power = this.power;
    const fft = this.fft;
    const re = fft.packedRe;
    const im = fft.packedIm;
    const rev = fft.bitReversed;
    const half = this.paddedSize >> 1;
    // Samples are written straight into the FFT's bit-reversed input (issue #19): even samples to
    // `re`, odd to `im`; the loop below goes two samples at a time, so an odd window size ends
    // with one even sample.
    const pairs = size >> 1;
    const rowSum = this.rowSum;
    const { firstBin, offsets, weights } = this.melBank;
    const numMel = this.numMelBins;
    const frameStride = this.frameStride;
    const melStride = this.melStride;
    const mean = this.mean;
    const std = this.std;
    for (let f = 0; f < frames; f++) {
      const base = f * shift;
      // torch works in float32 up to the FFT: round each step as it does (see float32-sum.ts).
      rowSum.accumulate(signal, base, size);
      const dc = Math.fround(rowSum.last / size);
      // Pre-emphasis with kaldi's replicate padding: y[0] = x[0] − 0.97·x[0].
      let prev = Math.fround(signal[base]! - dc);
      for (let p = 0, n = 0; p < pairs; p++, n += 2) {
        const j = rev[p]!;
        const c0 = Math.fround(signal[base + n]! - dc);
        re[j] = Math.fround(Math.fround(c0 - Math.fround(PREEMPHASIS_F32 * prev)) * win[n]!);
        const c1 = Math.fround(signal[base + n + 1]! - dc);
        im[j] = Math.fround(Math.fround(c1 - Math.fround(PREEMPHASIS_F32 * c0)) * win[n + 1]!);
        prev = c1;
      }
      let p = pairs;
      if (size & 1) {
        const j = rev[p]!;
        const c0 = Math.fround(signal[base + size - 1]! - dc);
        re[j] = Math.fround(Math.fround(c0 - Math.fround(PREEMPHASIS_F32 * prev)) * win[size - 1]!);
        im[j] = 0;
        p++;
      }
      // Zero padding up to the FFT size (the transform overwrote last frame's).
      for (; p < half; p++) {
        const j = rev[p]!;
        re[j] = 0;
        im[j] = 0;
      }
      fft.powerSpectrumOfPacked(power);
      let o = outOffset + f * frameStride;
      for (let m = 0; m < numMel; m++) {
        let e = 0;
        const end = offsets[m + 1]!;
        for (let w = offsets[m]!, k = firstBin[m]!; w < end; w++, k++) e += weights[w]! * power[k]!;
        // torch: float32 energies, float32 log, then ImageBind's float32 (x − mean) / std. Math.max,
        // not a ternary on the module constant, keeps `e32` unboxed (no allocation) in ESM.
        const e32 = Math.fround(e);
        out[o] = Math.fround(Math.fround(Math.log(Math.max(e32, LOG_FLOOR))) - mean) / std;
        o += melStride;
      }
    }
    return frames;
  }
}
