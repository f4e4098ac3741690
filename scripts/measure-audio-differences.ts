/**
 * Measures edgebind's deliberate audio differences from ImageBind's data.py on the golden WAVs
 * (shared/golden/audio), for docs/preprocessing.md (issue 20 item 5):
 *
 * - in-place: ImageBind centres each clip in place on the shared waveform, so later overlapping
 *   clips see an earlier clip's shift; edgebind centres each clip on its own copy. Emulated here:
 *   the clips in order on one mutable copy (all channels), each clip's mean subtracted from its
 *   region, its features computed from the shifted region.
 * - channel 0: the replay sensor before issue 20 kept channel 0 and centred it by its own mean
 *   (stereo files only); now every path centres on all channels as ImageBind does.
 * - golden: edgebind's features against ImageBind's own (per-clip copy, resampled with torchaudio).
 *
 *   npx tsx scripts/measure-audio-differences.ts [GOLDEN_AUDIO_DIR]
 */
import { readFileSync } from 'node:fs';
import { audioClipRanges, audioFeaturesFromWav } from '../src/encoders/audio/preprocess.js';
import { AudioPreprocessSchema } from '../src/encoders/manifest.js';
import { loadAudio } from '../src/sensors/formats/audio-file.js';

const dir = (process.argv[2] ?? new URL('../../shared/golden/audio/', import.meta.url).pathname).replace(
  /\/?$/,
  '/',
);
const params = AudioPreprocessSchema.parse({});
const one = { ...params, clipsPerWindow: 1 };
const cases = (
  JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as {
    cases: { name: string; wav: string; features: string }[];
  }
).cases;

const maxAbs = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

console.log('file                 ch  in-place vs per-clip  channel-0-only vs all  ours vs ImageBind golden');
for (const c of cases) {
  const audio = loadAudio(readFileSync(`${dir}${c.wav}`), c.wav);
  const ours = audioFeaturesFromWav(audio, params).data;
  // In place: one mutable copy, clips in order.
  const shared = audio.channels.map((ch) => Float32Array.from(ch));
  const ranges = audioClipRanges(shared[0]!.length, params);
  const block = params.numMelBins * params.targetLength;
  const inplace = new Float32Array(ours.length);
  ranges.forEach((r, k) => {
    let sum = 0;
    for (const ch of shared) for (let i = r.start; i < r.end; i++) sum += ch[i]!;
    const mean = Math.fround(sum / ((r.end - r.start) * shared.length));
    for (const ch of shared) for (let i = r.start; i < r.end; i++) ch[i] = ch[i]! - mean;
    const clip = audioFeaturesFromWav(
      { sampleRateHz: 16000, channels: shared.map((ch) => ch.slice(r.start, r.end)) },
      one,
    );
    inplace.set(clip.data, k * block);
  });
  const ch0 =
    audio.channels.length > 1
      ? maxAbs(
          ours,
          audioFeaturesFromWav({ sampleRateHz: 16000, channels: [audio.channels[0]!] }, params).data,
        ).toExponential(1)
      : '-';
  const golden = maxAbs(ours, readF32(`${dir}${c.features}`));
  console.log(
    `${c.name.padEnd(20)} ${String(audio.channels.length).padStart(2)}  ${maxAbs(ours, inplace).toExponential(2).padStart(19)}  ${ch0.padStart(21)}  ${golden.toExponential(1).padStart(24)}`,
  );
}
