import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock, systemClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import { encodeFrameFile } from '../../src/sensors/formats/frame-file.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { replayFrames } from '../../src/sensors/replay/replay.js';

const dir = mkdtempSync(join(tmpdir(), 'edgebind-replay-'));
const wav = join(dir, 'a.wav');
writeFileSync(
  wav,
  encodeWav16({
    sampleRateHz: 16000,
    channels: [Float32Array.from({ length: 8000 }, (_, i) => (i % 100) / 200)],
  }),
);

async function take(it: AsyncIterable<Frame>, n: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of it) {
    out.push(f);
    if (out.length === n) break;
  }
  return out;
}

test('WAV replays as 100 ms frames with continuous times, looping seamlessly', async () => {
  const clock = new ManualClock(1000);
  const frames = await take(
    replayFrames(
      { sensorId: 'mic', modality: 'audio', file: wav, speed: 0, loop: true, clock },
      new AbortController().signal,
    ),
    12,
  );
  assert.equal(frames.length, 12);
  frames.forEach((f, i) => {
    assert.equal(f.tMs, 1000 + i * 100, `frame ${i} time`);
    assert.deepEqual(f.shape, [1600]);
    assert.equal(f.rateHz, 16000);
  });
  assert.ok(Math.abs(frames[5]!.data[0]! - frames[0]!.data[0]!) < 1e-4, 'loop restarts the recording');
});

test('a looping WAV is decoded once: later loops replay the same samples without the file', async () => {
  const file = join(dir, 'once.wav');
  writeFileSync(
    file,
    encodeWav16({
      sampleRateHz: 16000,
      channels: [Float32Array.from({ length: 3200 }, (_, i) => Math.sin(i / 7) / 2)],
    }),
  );
  const it = replayFrames(
    { sensorId: 'mic', modality: 'audio', file, speed: 0, loop: true, clock: new ManualClock(0) },
    new AbortController().signal,
  );
  // Pulled one by one: `for await … break` would end the generator.
  const next = async (n: number) => {
    const out: Frame[] = [];
    for (let i = 0; i < n; i++) out.push((await it.next()).value as Frame);
    return out;
  };
  const first = await next(2); // the whole recording: two 100 ms frames
  rmSync(file); // a loop that read the file again would fail now
  const later = await next(4);
  assert.deepEqual(
    later.map((f) => f.tMs),
    [200, 300, 400, 500],
  );
  for (const [i, f] of later.entries()) {
    assert.deepEqual(f.data, first[i % 2]!.data, `loop frame ${i} has the first pass's samples`);
    assert.notEqual(f.data, first[i % 2]!.data, 'each frame still owns its data');
  }
});

test('real-time pacing: frames arrive no earlier than their capture time', async () => {
  const t0 = systemClock.nowMs();
  const frames = await take(
    replayFrames(
      { sensorId: 'mic', modality: 'audio', file: wav, speed: 1, loop: false, clock: systemClock },
      new AbortController().signal,
    ),
    3,
  );
  assert.equal(frames.length, 3);
  assert.ok(systemClock.nowMs() - t0 >= 290, 'three 100 ms frames take at least 300 ms');
});

test('abort stops a paced replay promptly', async () => {
  const ac = new AbortController();
  const it = replayFrames(
    { sensorId: 'mic', modality: 'audio', file: wav, speed: 0.01, loop: true, clock: systemClock },
    ac.signal,
  );
  setTimeout(() => ac.abort(new Error('stop')), 50);
  const t0 = Date.now();
  assert.deepEqual(await take(it, 1), []);
  assert.ok(Date.now() - t0 < 1000);
});

test('frame files replay with their header shape and rate', async () => {
  const file = join(dir, 'd.ebf');
  writeFileSync(
    file,
    encodeFrameFile(
      {
        version: 1,
        modality: 'depth',
        unit: 'mm',
        dtype: 'uint16',
        scale: 1,
        sampleShape: [2, 2],
        rateHz: 5,
      },
      [0, 200, 400].map((tMs) => ({ tMs, data: Float32Array.from([1000, 2000, 0, 4000]) })),
    ),
  );
  const frames = await take(
    replayFrames(
      { sensorId: 'd', modality: 'depth', file, speed: 0, loop: false, clock: new ManualClock() },
      new AbortController().signal,
    ),
    10,
  );
  assert.deepEqual(
    frames.map((f) => f.tMs),
    [0, 200, 400],
  );
  assert.deepEqual(frames[0]!.shape, [1, 2, 2]);
  assert.deepEqual([...frames[0]!.data], [1000, 2000, 0, 4000]);
});

test('wrong file kinds are clear errors', async () => {
  const run = (modality: 'audio' | 'imu', file: string) =>
    take(
      replayFrames(
        { sensorId: 's', modality, file, speed: 0, loop: false, clock: new ManualClock() },
        new AbortController().signal,
      ),
      1,
    );
  await assert.rejects(run('imu', wav), /imu replay needs an \.ebf frame file/);
  await assert.rejects(run('audio', join(dir, 'd.ebf')), /audio replay needs a \.wav file/);
  const empty = join(dir, 'empty.wav');
  writeFileSync(empty, encodeWav16({ sampleRateHz: 16000, channels: [new Float32Array(0)] }));
  await assert.rejects(run('audio', empty), /empty\.wav: the WAV file holds no samples/);
});

test('a WAV at another rate plays at 16 kHz, resampled by the one audio loader', async () => {
  const rate = join(dir, 'r8k.wav');
  writeFileSync(rate, encodeWav16({ sampleRateHz: 8000, channels: [new Float32Array(800)] }));
  const frames = await take(
    replayFrames(
      { sensorId: 's', modality: 'audio', file: rate, speed: 0, loop: false, clock: new ManualClock() },
      new AbortController().signal,
    ),
    10,
  );
  assert.deepEqual(
    frames.map((f) => [f.rateHz, ...f.shape]),
    [[16000, 1600]],
  );
});
