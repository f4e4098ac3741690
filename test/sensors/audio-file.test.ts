/**
 * The one audio loader (issue 20 item 2): every command and the replay sensor hear a file the same
 * way, and that way is ImageBind's, stereo included (clips centred on all channels, channel 0 read).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AudioWindowPreprocessor, audioFeaturesFromWav } from '../../src/encoders/audio/preprocess.js';
import { AudioPreprocessSchema } from '../../src/encoders/manifest.js';
import { cutRecording } from '../../src/sensors/replay/recording.js';
import { ManualClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import { interleaved, loadAudio } from '../../src/sensors/formats/audio-file.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { replayFrames } from '../../src/sensors/replay/replay.js';
import { goldenAudioCases, goldenAudioDir, maxAbsDiff, readF32 } from '../helpers/golden.js';

const params = AudioPreprocessSchema.parse({});
const GOLDEN = goldenAudioDir();
const dir = mkdtempSync(join(tmpdir(), 'edgebind-audio-file-'));

test('loadAudio keeps every channel and resamples each to 16 kHz (torchaudio length ceil(N·16000/sr))', () => {
  // dog_audio.wav: 44.1 kHz stereo, 115 110 samples → 41 764 (reference §3.3 step 2).
  const dog = loadAudio(readFileSync(`${GOLDEN}dog_audio.wav`), 'dog_audio.wav');
  assert.equal(dog.fileRateHz, 44100);
  assert.equal(dog.sampleRateHz, 16000);
  assert.equal(dog.channels.length, 2);
  assert.deepEqual(
    dog.channels.map((c) => c.length),
    [41764, 41764],
  );
  // bird_audio.wav: stereo with different channels, both kept.
  const bird = loadAudio(readFileSync(`${GOLDEN}bird_audio.wav`), 'bird_audio.wav');
  assert.equal(bird.channels.length, 2);
  assert.ok(maxAbsDiff(bird.channels[0]!, bird.channels[1]!) > 0.01, 'the two channels differ');
});

test('interleaved: [n, channels] sample-major; one channel is a view of itself', () => {
  const a = Float32Array.from([1, 2, 3, 4]);
  const b = Float32Array.from([10, 20, 30, 40]);
  assert.deepEqual([...interleaved([a, b], 1, 3)], [2, 20, 3, 30]);
  assert.deepEqual([...interleaved([a, b])], [1, 10, 2, 20, 3, 30, 4, 40]);
  assert.equal(interleaved([a]).buffer, a.buffer);
});

test('a WAV without samples is a FormatError naming the file', () => {
  const bytes = encodeWav16({ sampleRateHz: 16000, channels: [new Float32Array(0)] });
  assert.throws(() => loadAudio(bytes, 'empty.wav'), {
    name: 'FormatError',
    message: 'empty.wav: the WAV file holds no samples',
  });
});

async function frames(file: string): Promise<Frame[]> {
  const out: Frame[] = [];
  const it = replayFrames(
    { sensorId: 'mic', modality: 'audio', file, speed: 0, loop: false, clock: new ManualClock() },
    new AbortController().signal,
  );
  for await (const f of it) out.push(f);
  return out;
}

test('the replay sensor plays a stereo file as [n, 2] frames at 16 kHz, both channels kept', async () => {
  const file = join(dir, 'stereo8k.wav');
  const left = Float32Array.from({ length: 8000 }, (_, i) => Math.sin(i / 7) * 0.3);
  const right = Float32Array.from({ length: 8000 }, () => 0.25);
  writeFileSync(file, encodeWav16({ sampleRateHz: 8000, channels: [left, right] }));
  const fs = await frames(file);
  assert.deepEqual(fs[0]!.shape, [1600, 2]);
  assert.equal(fs[0]!.rateHz, 16000);
  const n = fs.reduce((a, f) => a + f.shape[0]!, 0);
  assert.equal(n, 16000, '1 s of audio at 8 kHz resamples to 16 000 samples');
  // Channel 1 (constant 0.25, away from the edges) survives resampling in the odd slots.
  const mid = fs[5]!.data;
  assert.ok(Math.abs(mid[1]! - 0.25) < 1e-3 && Math.abs(mid[801]! - 0.25) < 1e-3, `${mid[1]}`);
});

test('every golden WAV: the replay → window path gives exactly the features of `features audio`, within the golden tolerance of ImageBind', async () => {
  const cases = goldenAudioCases(GOLDEN);
  assert.ok(
    cases.some((c) => c.channels === 2),
    'the goldens include stereo files',
  );
  for (const c of cases) {
    const path = `${GOLDEN}${c.wav}`;
    // embed/classify/label from-example: the whole file as one window (cut by the replay sensor).
    const { windows } = await cutRecording({
      file: path,
      modality: 'audio',
      window: { lengthMs: 600_000, hopMs: 600_000 },
    });
    assert.equal(windows.length, 1, c.name);
    const w = windows[0]!;
    assert.deepEqual(w.shape.slice(1), c.channels === 1 ? [] : [c.channels], `${c.name}: window shape`);
    const pre = new AudioWindowPreprocessor(params, w.shape[0]!, w.shape[1] ?? 1);
    const viaWindow = new Float32Array(pre.size);
    pre.process(w.data, viaWindow);
    // features audio: the file through the loader, then ImageBind's preprocessing.
    const viaFile = audioFeaturesFromWav(loadAudio(readFileSync(path), c.wav), params).data;
    assert.deepEqual(viaWindow, viaFile, `${c.name}: window path = file path, bit for bit`);
    const golden = readF32(`${GOLDEN}${c.features}`);
    const tol = c.sampleRate === 16000 ? 1e-3 : 1e-2;
    const d = maxAbsDiff(viaWindow, golden);
    assert.ok(d <= tol, `${c.name}: max |Δ| vs ImageBind ${d}`);
  }
});
