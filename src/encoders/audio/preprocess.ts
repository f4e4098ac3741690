/**
 * ImageBind audio features: 16 kHz audio → `clipsPerWindow` clips → kaldi log-mel fbank
 * `[numMelBins][targetLength]` per clip, normalised with ImageBind's mean/std, stacked as
 * `[clips, 1, numMelBins, targetLength]` float32. Matches shared/golden/audio/manifest.json:
 *
 * - input not at 16 kHz is resampled with torchaudio's default resampler (the one audio loader,
 *   sensors/formats/audio-file.ts);
 * - each clip is mean-centred on its own copy (mean over all channels), then only channel 0 is used
 *   (kaldi fbank takes channel 0; ImageBind never downmixes), for a file as for a window of a
 *   multi-channel replay (`[n, channels]` interleaved). ImageBind centres clips in place on the
 *   shared waveform, which shifts later overlapping clips; like the goldens, we do not
 *   (docs/preprocessing.md gives the measured size of that difference);
 * - frames are padded on the right with 0 in the log domain, or cropped, to targetLength, and
 *   only then normalised, so a padded cell is (0 − mean)/std.
 */
import { FormatError } from '../../errors.js';
import { resampleAudio } from '../../sensors/formats/audio-file.js';
import type { WavAudio } from '../../sensors/formats/wav.js';
import type { AudioPreprocess } from '../manifest.js';
import { clipRanges, type ClipRange } from './clip-sampler.js';
import { KaldiFbank } from './fbank.js';
import { Float32RowSum } from './float32-sum.js';

export interface AudioFeatures {
  /** Float32 values in `dims` order. */
  data: Float32Array;
  /** `[clipsPerWindow, 1, numMelBins, targetLength]`. */
  dims: number[];
}

/** Shape of one window's features: `[clipsPerWindow, 1, numMelBins, targetLength]`. */
export function audioFeatureDims(params: AudioPreprocess): [number, number, number, number] {
  return [params.clipsPerWindow, 1, params.numMelBins, params.targetLength];
}

/** Number of float32 values in one window's features. */
export function audioFeatureSize(params: AudioPreprocess): number {
  return params.clipsPerWindow * params.numMelBins * params.targetLength;
}

/** The clip sampler applied to `lengthSamples` samples at `params.sampleRateHz`. */
export function audioClipRanges(lengthSamples: number, params: AudioPreprocess): ClipRange[] {
  return clipRanges({
    lengthSamples,
    sampleRateHz: params.sampleRateHz,
    durationS: params.clipDurationS,
    clips: params.clipsPerWindow,
  });
}

/**
 * One KaldiFbank (FFT plan, mel bank, window, scratch) per distinct set of parameters, shared by
 * every preprocessor and file (issue #19): building one costs more than a clip's features, and
 * `compute()` is synchronous, so sharing its scratch is safe.
 */
const fbanks = new Map<string, KaldiFbank>();
function sharedFbank(params: AudioPreprocess): KaldiFbank {
  const options = {
    numMelBins: params.numMelBins,
    sampleRateHz: params.sampleRateHz,
    layout: 'mel-major' as const,
    maxFrames: params.targetLength,
    mean: params.mean,
    std: params.std,
  };
  const key = JSON.stringify(options);
  let fbank = fbanks.get(key);
  if (!fbank) {
    if (fbanks.size >= 16) fbanks.clear(); // a few packs at most; never grows without bound
    fbank = new KaldiFbank(options);
    fbanks.set(key, fbank);
  }
  return fbank;
}

/** Writes one clip's `[numMelBins][targetLength]` block; sized once, allocates nothing per clip. */
class ClipFeatureWriter {
  private readonly fbank: KaldiFbank;
  private readonly scratch: Float32Array;
  private readonly rowSum = new Float32RowSum();
  private readonly targetLength: number;
  private readonly numMelBins: number;
  private readonly padValue: number;

  constructor(params: AudioPreprocess, maxClipSamples: number) {
    this.targetLength = params.targetLength;
    this.numMelBins = params.numMelBins;
    this.fbank = sharedFbank(params);
    this.padValue = Math.fround(Math.fround(0 - Math.fround(params.mean)) / Math.fround(params.std));
    this.scratch = new Float32Array(maxClipSamples);
  }

  get windowSize(): number {
    return this.fbank.windowSize;
  }

  /** Features of `channels[*][start..end)` into `out[offset ..]`. Needs end − start ≥ windowSize. */
  write(
    channels: readonly Float32Array[],
    start: number,
    end: number,
    out: Float32Array,
    offset: number,
  ): void {
    const length = end - start;
    const scratch = this.scratch;
    let sum = 0;
    for (let c = 0; c < channels.length; c++) {
      this.rowSum.accumulate(channels[c]!, start, length);
      sum = Math.fround(sum + this.rowSum.last);
    }
    // Float32, like ImageBind's `waveform -= waveform.mean()` (torch's summation order per channel,
    // channel sums added in order); the scratch array rounds each difference to float32.
    const mean = Math.fround(sum / (length * channels.length));
    const ch0 = channels[0]!;
    for (let i = 0; i < length; i++) scratch[i] = ch0[start + i]! - mean;
    const frames = this.fbank.compute(scratch, length, out, offset);
    const t = this.targetLength;
    const pad = this.padValue;
    if (frames < t) {
      for (let m = 0; m < this.numMelBins; m++) out.fill(pad, offset + m * t + frames, offset + (m + 1) * t);
    }
  }
}

const NO_SAMPLES = new Float32Array(0);

/**
 * Per clip, the index of an earlier clip covering exactly the same samples, or -1. ImageBind's
 * sampler puts all its clips on the same samples when the audio is no longer than one clip (the
 * agent's 2 s windows with 2 s clips: three identical clips), and each clip is centred on its own
 * mean, so equal ranges give equal features: those are computed once and copied (issue #19).
 * Clips that only partly overlap are centred on different means, which changes every frame's
 * float32 rounding, so their shared frames are not reused.
 */
function sameClipAs(ranges: readonly ClipRange[]): Int32Array {
  return Int32Array.from(ranges, (r, k) =>
    ranges.findIndex((q, j) => j < k && q.start === r.start && q.end === r.end),
  );
}

function describeTooShort(samples: number, sampleRateHz: number, windowSize: number): string {
  const ms = ((samples / sampleRateHz) * 1000).toFixed(1);
  return (
    `audio is too short: ${samples} samples (${ms} ms) at ${sampleRateHz} Hz, ` +
    `kaldi fbank needs at least one ${windowSize}-sample (25 ms) frame per clip`
  );
}

export interface AudioFeaturesOptions {
  /** Names the input in errors (a file path). Default `audio`. */
  where?: string;
}

/** ImageBind's load_and_transform_audio_data for one decoded WAV (see the module comment). */
export function audioFeaturesFromWav(
  audio: WavAudio,
  params: AudioPreprocess,
  options: AudioFeaturesOptions = {},
): AudioFeatures {
  const where = options.where ?? 'audio';
  if (audio.channels.length === 0) throw new FormatError(where, 'audio has no channels');
  const rate = params.sampleRateHz;
  const { channels } = resampleAudio(audio, rate);
  const length = channels[0]!.length;
  const ranges = audioClipRanges(length, params);
  const longest = Math.max(...ranges.map((r) => r.end - r.start));
  const writer = new ClipFeatureWriter(params, longest);
  for (const r of ranges) {
    if (r.end - r.start < writer.windowSize) {
      throw new FormatError(where, describeTooShort(r.end - r.start, rate, writer.windowSize));
    }
  }
  const block = params.numMelBins * params.targetLength;
  const data = new Float32Array(audioFeatureSize(params));
  const same = sameClipAs(ranges);
  ranges.forEach((r, k) => {
    const j = same[k]!;
    if (j >= 0) data.copyWithin(k * block, j * block, (j + 1) * block);
    else writer.write(channels, r.start, r.end, data, k * block);
  });
  return { data, dims: audioFeatureDims(params) };
}

/**
 * Features for fixed-length windows of 16 kHz audio, e.g. the 2 s windows the pipeline cuts: mono
 * (`[windowSamples]`) or, from a multi-channel replay, `[windowSamples, channels]` interleaved.
 * The clip sampler runs once over the window length, buffers are sized once, and `process()`
 * allocates nothing.
 */
export class AudioWindowPreprocessor {
  readonly windowSamples: number;
  /** Channels per sample in the windows `process()` takes. */
  readonly channelCount: number;
  /** `[clipsPerWindow, 1, numMelBins, targetLength]`. */
  readonly dims: readonly number[];
  /** Float32 values `process()` writes. */
  readonly size: number;
  /** Where each clip sits in the window. */
  readonly clips: readonly ClipRange[];
  private readonly writer: ClipFeatureWriter;
  private readonly block: number;
  private readonly channels: Float32Array[];
  /** Per clip, an earlier identical clip whose features are copied, or -1. */
  private readonly sameAs: Int32Array;

  /** Throws TypeError when a clip would be shorter than one 25 ms fbank frame (400 samples). */
  constructor(params: AudioPreprocess, windowSamples: number, channelCount = 1) {
    if (!Number.isInteger(windowSamples) || windowSamples < 1) {
      throw new TypeError(
        `AudioWindowPreprocessor: windowSamples must be a positive integer, got ${windowSamples}`,
      );
    }
    if (!Number.isInteger(channelCount) || channelCount < 1) {
      throw new TypeError(
        `AudioWindowPreprocessor: channelCount must be a positive integer, got ${channelCount}`,
      );
    }
    this.windowSamples = windowSamples;
    this.channelCount = channelCount;
    // Mono windows are read in place; a multi-channel window is split into planes sized once.
    this.channels =
      channelCount === 1
        ? [NO_SAMPLES]
        : Array.from({ length: channelCount }, () => new Float32Array(windowSamples));
    this.dims = Object.freeze(audioFeatureDims(params));
    this.size = audioFeatureSize(params);
    this.block = params.numMelBins * params.targetLength;
    this.clips = Object.freeze(audioClipRanges(windowSamples, params));
    this.sameAs = sameClipAs(this.clips);
    this.writer = new ClipFeatureWriter(params, Math.max(...this.clips.map((r) => r.end - r.start)));
    for (const r of this.clips) {
      if (r.end - r.start < this.writer.windowSize) {
        const why = describeTooShort(r.end - r.start, params.sampleRateHz, this.writer.windowSize);
        throw new TypeError(`AudioWindowPreprocessor: window of ${windowSamples} samples: ${why}`);
      }
    }
  }

  /**
   * Features of one window (`windowSamples × channelCount` values, sample-major) into
   * `out[outOffset .. outOffset + size)`.
   */
  process(samples: Float32Array, out: Float32Array, outOffset = 0): void {
    const c = this.channelCount;
    if (samples.length !== this.windowSamples * c) {
      throw new TypeError(
        `AudioWindowPreprocessor: expected ${this.windowSamples} samples` +
          (c > 1 ? ` × ${c} channels (${this.windowSamples * c} values)` : '') +
          `, got ${samples.length}${c > 1 ? ' values' : ''}`,
      );
    }
    if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + this.size > out.length) {
      throw new RangeError(
        `AudioWindowPreprocessor: output needs ${this.size} values from offset ${outOffset}, has ${out.length}`,
      );
    }
    const channels = this.channels;
    if (c === 1) channels[0] = samples;
    else {
      for (let k = 0; k < c; k++) {
        const plane = channels[k]!;
        for (let i = 0, p = k; i < plane.length; i++, p += c) plane[i] = samples[p]!;
      }
    }
    const block = this.block;
    for (let k = 0; k < this.clips.length; k++) {
      const r = this.clips[k]!;
      const j = this.sameAs[k]!;
      const at = outOffset + k * block;
      if (j >= 0) out.copyWithin(at, outOffset + j * block, outOffset + (j + 1) * block);
      else this.writer.write(channels, r.start, r.end, out, at);
    }
    if (c === 1) channels[0] = NO_SAMPLES; // do not keep the caller's window alive
  }
}
