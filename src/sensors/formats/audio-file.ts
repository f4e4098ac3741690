/**
 * The one way edgebind loads an audio file (issue 20 item 2): `embed`, `classify`, `label
 * from-example`, `features audio`, the evaluations and the replay sensor all come through here, so
 * a file is heard the same way everywhere, and the way ImageBind's `load_and_transform_audio_data`
 * hears it:
 *
 * - decoded as torchaudio does (int16 / 32768, …; formats/wav.ts);
 * - every channel resampled to 16 kHz with torchaudio's default resampler (util/resample.ts);
 * - all channels kept. ImageBind centres each clip by the mean over *all* channels, then kaldi's
 *   fbank reads channel 0 only (reference §3.3 steps 5–6); the features (encoders/audio/) do that.
 *   Keeping channel 0 alone and centring it by its own mean, as the replay sensor once did, gave
 *   features up to 2.1e-4 apart on the stereo golden files.
 *
 * A multi-channel file travels through the pipeline as `[n, channels]` interleaved frames; a mono
 * file as `[n]`.
 */
import { resamplerFor } from '../../util/resample.js';
import { FormatError } from '../../errors.js';
import { decodeWav, type WavAudio } from './wav.js';

/** The rate every audio encoder input is at (ImageBind's). */
export const AUDIO_RATE_HZ = 16000;

export interface LoadedAudio extends WavAudio {
  /** The file's own sample rate, before resampling. */
  readonly fileRateHz: number;
}

/** Every channel of `audio` at `rateHz` (returned as is when it already is). */
export function resampleAudio(audio: WavAudio, rateHz: number): WavAudio {
  if (audio.sampleRateHz === rateHz) return audio;
  const r = resamplerFor(audio.sampleRateHz, rateHz);
  return { sampleRateHz: rateHz, channels: audio.channels.map((ch) => r.process(ch)) };
}

/**
 * Decodes a WAV file's bytes and resamples every channel to `rateHz` (default 16 kHz). `where`
 * names the file in errors. A file without samples is a FormatError.
 */
export function loadAudio(bytes: Uint8Array, where: string, rateHz = AUDIO_RATE_HZ): LoadedAudio {
  const wav = decodeWav(bytes, where);
  if (wav.channels.length === 0 || wav.channels[0]!.length === 0) {
    throw new FormatError(where, 'the WAV file holds no samples');
  }
  return { ...resampleAudio(wav, rateHz), fileRateHz: wav.sampleRateHz };
}

/**
 * Samples `[start, end)` of every channel, sample-major (`[n, channels]`, the layout of a
 * multi-channel frame); channel 0 itself (a view, no copy) when there is one channel.
 */
export function interleaved(channels: readonly Float32Array[], start = 0, end?: number): Float32Array {
  const stop = end ?? channels[0]?.length ?? 0;
  if (channels.length === 1) return channels[0]!.subarray(start, stop);
  const c = channels.length;
  const out = new Float32Array((stop - start) * c);
  for (let k = 0; k < c; k++) {
    const ch = channels[k]!;
    for (let i = start, o = k; i < stop; i++, o += c) out[o] = ch[i]!;
  }
  return out;
}
