import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { GCProfiler } from 'node:v8';
import { FormatError } from '../../../src/errors.js';
import { AudioPreprocessSchema } from '../../../src/encoders/manifest.js';
import {
  AudioWindowPreprocessor,
  audioFeatureDims,
  audioFeatureSize,
  audioFeaturesFromWav,
} from '../../../src/encoders/audio/preprocess.js';
import { decodeWav, type WavAudio } from '../../../src/sensors/formats/wav.js';

const params = AudioPreprocessSchema.parse({});

/**
 * shared/golden/audio: $EDGEBIND_GOLDEN_AUDIO, else `shared/` inside the checkout (device runs),
 * else the repository's sibling `../shared`. Missing goldens fail the suite; they never skip it.
 */
function goldenDir(): string {
  const candidates = [
    process.env.EDGEBIND_GOLDEN_AUDIO,
    fileURLToPath(new URL('../../../shared/golden/audio/', import.meta.url)),
    fileURLToPath(new URL('../../../../shared/golden/audio/', import.meta.url)),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const found = candidates.find((dir) => existsSync(`${dir.replace(/\/?$/, '/')}manifest.json`));
  if (!found) throw new Error(`golden audio not found; looked in: ${candidates.join(', ')}`);
  return found.replace(/\/?$/, '/');
}

interface GoldenCase {
  name: string;
  wav: string;
  features: string;
  sampleRate: number;
  frames: number;
  channels: number;
  shape: number[];
  clipStartsSeconds: number[];
}

const dir = goldenDir();
const manifest = JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as { cases: GoldenCase[] };

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): { max: number; at: number } {
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

function tone(length: number, freqHz: number, amplitude: number): Float32Array {
  const x = new Float32Array(length);
  for (let n = 0; n < length; n++) x[n] = amplitude * Math.sin((2 * Math.PI * freqHz * n) / 16000);
  return x;
}

test('the golden manifest has cases, and every case is checked below', () => {
  assert.ok(manifest.cases.length >= 13, `${manifest.cases.length} cases`);
});

for (const c of manifest.cases) {
  const tolerance = c.sampleRate === 16000 ? 1e-3 : 1e-2;
  test(`golden ${c.name} (${c.sampleRate} Hz, ${c.channels} ch): every element within ${tolerance}`, (t) => {
    const audio = decodeWav(readFileSync(`${dir}${c.wav}`), c.wav);
    assert.equal(audio.sampleRateHz, c.sampleRate);
    assert.equal(audio.channels.length, c.channels);
    assert.equal(audio.channels[0]!.length, c.frames);
    const expected = readF32(`${dir}${c.features}`);
    const { data, dims } = audioFeaturesFromWav(audio, params, { where: c.wav });
    assert.deepEqual(dims, c.shape);
    assert.equal(data.length, expected.length);
    const { max, at } = maxAbsDiff(data, expected);
    const [clip, mel, frame] = [Math.floor(at / (128 * 204)), Math.floor(at / 204) % 128, at % 204];
    const where = `clip ${clip} mel ${mel} frame ${frame}: ${data[at]} vs ${expected[at]}`;
    t.diagnostic(`max |Δ| ${max.toExponential(2)} (${where})`);
    assert.ok(max <= tolerance, `${c.name}: max |Δ| ${max} at ${where}`);
  });
}

test('short input (< 400 samples at 16 kHz) is a FormatError naming the input and the reason', () => {
  const audio: WavAudio = { sampleRateHz: 16000, channels: [tone(399, 440, 0.5)] };
  assert.throws(
    () => audioFeaturesFromWav(audio, params, { where: 'clip.wav' }),
    (err: unknown) => {
      assert.ok(err instanceof FormatError);
      assert.equal(err.code, 'FORMAT_INVALID');
      assert.equal(err.where, 'clip.wav');
      assert.match(err.message, /^clip\.wav: audio is too short: 399 samples \(24\.9 ms\) at 16000 Hz/);
      assert.match(err.message, /400-sample \(25 ms\) frame/);
      return true;
    },
  );
  // 1000 samples at 44.1 kHz resample to 363 samples: still too short.
  const short44 = { sampleRateHz: 44100, channels: [new Float32Array(1000)] };
  assert.throws(() => audioFeaturesFromWav(short44, params), { name: 'FormatError', message: /363 samples/ });
  assert.throws(() => audioFeaturesFromWav({ sampleRateHz: 16000, channels: [] }, params), FormatError);
});

test('exactly 400 samples gives one frame, then log-domain zero padding (0.4670606 normalised)', () => {
  const { data } = audioFeaturesFromWav({ sampleRateHz: 16000, channels: [tone(400, 440, 0.5)] }, params);
  // (0 − (−4.268)) / 9.138 in float32, bit for bit what the goldens hold.
  const pad = 0.4670606553554535;
  for (let m = 0; m < 128; m++) {
    assert.notEqual(data[m * 204], Math.fround(pad));
    for (let f = 1; f < 204; f++) assert.equal(data[m * 204 + f], Math.fround(pad));
  }
  // Three identical clips.
  assert.deepEqual(data.subarray(0, 128 * 204), data.subarray(2 * 128 * 204));
});

test('stereo uses channel 0 only; channel 1 only shifts the shared mean', () => {
  const left = tone(32000, 440, 0.5);
  const right = tone(32000, 3000, 0.5);
  const stereo = audioFeaturesFromWav({ sampleRateHz: 16000, channels: [left, right] }, params).data;
  const leftOnly = audioFeaturesFromWav({ sampleRateHz: 16000, channels: [left] }, params).data;
  const rightOnly = audioFeaturesFromWav({ sampleRateHz: 16000, channels: [right] }, params).data;
  assert.ok(maxAbsDiff(stereo, leftOnly).max < 1e-3);
  assert.ok(maxAbsDiff(stereo, rightOnly).max > 0.5);
});

test('feature dims helper', () => {
  assert.deepEqual(audioFeatureDims(params), [3, 1, 128, 204]);
  assert.equal(audioFeatureSize(params), 3 * 128 * 204);
});

test('AudioWindowPreprocessor gives the same features as audioFeaturesFromWav', () => {
  for (const length of [32000, 40000, 20800]) {
    const samples = tone(length, 700, 0.3);
    for (let i = 0; i < length; i += 97) samples[i] = samples[i]! + 0.05; // not a pure tone
    const pre = new AudioWindowPreprocessor(params, length);
    assert.deepEqual(pre.dims, [3, 1, 128, 204]);
    const out = new Float32Array(5 + pre.size);
    pre.process(samples, out, 5);
    const expected = audioFeaturesFromWav({ sampleRateHz: 16000, channels: [samples] }, params).data;
    assert.deepEqual(out.subarray(5), expected, `window of ${length}`);
    assert.ok(out.subarray(0, 5).every((v) => v === 0));
  }
});

test('AudioWindowPreprocessor.process reuses the caller buffer and is deterministic', () => {
  const pre = new AudioWindowPreprocessor(params, 32000);
  const a = tone(32000, 440, 0.4);
  const b = tone(32000, 1500, 0.2);
  const out = new Float32Array(pre.size);
  pre.process(a, out, 0);
  const first = out.slice();
  pre.process(b, out, 0);
  assert.notDeepEqual(out, first);
  pre.process(a, out, 0);
  assert.deepEqual(out, first);
});

test('AudioWindowPreprocessor.process allocates nothing once optimised: no GC, no heap growth', () => {
  // Same code paths as the 2 s / 3-clip configuration, scaled down so the JIT warm-up is quick:
  // 0.25 s windows, three 0.1 s clips of 8 frames, padded to 16.
  const small = { ...params, clipDurationS: 0.1, targetLength: 16 };
  const pre = new AudioWindowPreprocessor(small, 4000);
  const windows = [tone(4000, 440, 0.4), tone(4000, 1500, 0.2)];
  const out = new Float32Array(pre.size);
  for (let i = 0; i < 3000; i++) pre.process(windows[i % 2]!, out, 0);
  const calls = 2000;
  const profiler = new GCProfiler();
  const before = process.memoryUsage();
  profiler.start();
  for (let i = 0; i < calls; i++) pre.process(windows[i % 2]!, out, 0);
  const gcs = profiler.stop()?.statistics.length ?? 0;
  const after = process.memoryUsage();
  // Even one boxed double per call would be 16 bytes × 2000 = 32 KiB of heap; one clip copy per
  // call would be 6.4 KiB of ArrayBuffer each time.
  assert.equal(gcs, 0, `${gcs} garbage collections during ${calls} process() calls`);
  assert.ok(
    after.heapUsed - before.heapUsed < 16 * 1024,
    `heap grew ${after.heapUsed - before.heapUsed} bytes`,
  );
  assert.ok(after.arrayBuffers - before.arrayBuffers < 1024, 'ArrayBuffer memory grew');
});

test('AudioWindowPreprocessor rejects misuse at once', () => {
  assert.throws(() => new AudioWindowPreprocessor(params, 399), {
    name: 'TypeError',
    message: /window of 399 samples: audio is too short/,
  });
  assert.throws(() => new AudioWindowPreprocessor(params, 0), TypeError);
  const pre = new AudioWindowPreprocessor(params, 32000);
  assert.throws(() => pre.process(new Float32Array(31999), new Float32Array(pre.size)), TypeError);
  assert.throws(() => pre.process(new Float32Array(32000), new Float32Array(pre.size), 1), RangeError);
});

test('AudioWindowPreprocessor on [n, 2] windows = the file path on two channels (centred on both)', () => {
  const left = tone(40000, 440, 0.4);
  const right = tone(40000, 900, 0.3);
  for (let i = 0; i < right.length; i++) right[i] = right[i]! + 0.2; // a DC offset on one channel only
  const pre = new AudioWindowPreprocessor(params, 40000, 2);
  assert.equal(pre.channelCount, 2);
  const data = new Float32Array(80000);
  for (let i = 0; i < 40000; i++) {
    data[2 * i] = left[i]!;
    data[2 * i + 1] = right[i]!;
  }
  const out = new Float32Array(pre.size);
  pre.process(data, out);
  const file = audioFeaturesFromWav({ sampleRateHz: 16000, channels: [left, right] }, params).data;
  assert.deepEqual(out, file);
  assert.throws(() => pre.process(new Float32Array(40000), out), {
    name: 'TypeError',
    message: 'AudioWindowPreprocessor: expected 40000 samples × 2 channels (80000 values), got 40000 values',
  });
  assert.throws(() => new AudioWindowPreprocessor(params, 32000, 0), {
    name: 'TypeError',
    message: 'AudioWindowPreprocessor: channelCount must be a positive integer, got 0',
  });
});
