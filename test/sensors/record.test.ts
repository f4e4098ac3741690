/**
 * Record → replay round trip: frames from the fakes/emulators (fake arecord, fake v4l2-ctl, a socat
 * pty board) are recorded in the replay format while windows are cut from them; replaying the
 * recording through the replay driver yields exactly the same windows.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemClock } from '../../src/pipeline/clock.js';
import type { Frame, Window } from '../../src/pipeline/types.js';
import { windows } from '../../src/pipeline/windows.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { OpenableSensorSchema, openSensor } from '../../src/sensors/open.js';
import { RecordingWriter, recordSensors, recorded } from '../../src/sensors/record.js';
import { fakesOnPath, requireTool, tempDir } from './fakes.js';
import { SerialBoardEmulator } from './serial-board.emulator.js';

requireTool('sh');
requireTool('socat');
fakesOnPath();
const dir = tempDir('record');

async function* limit(frames: AsyncIterable<Frame>, n: number): AsyncGenerator<Frame> {
  let i = 0;
  for await (const f of frames) {
    yield f;
    if (++i === n) return;
  }
}

async function collect(ws: AsyncIterable<Window>): Promise<Window[]> {
  const out: Window[] = [];
  for await (const w of ws) out.push({ ...w, data: w.data.slice() });
  return out;
}

/** Records `n` live frames of `sensor` while windowing them, then replays and windows the file. */
async function roundTrip(
  sensor: Record<string, unknown>,
  n: number,
  win: { lengthMs: number; hopMs: number },
) {
  const config = OpenableSensorSchema.parse(sensor);
  const ac = new AbortController();
  const writer = new RecordingWriter(dir, config.id, config.modality);
  const live = await collect(
    windows(limit(recorded(openSensor(config)({ clock: systemClock, signal: ac.signal }), writer), n), {
      ...win,
      clock: systemClock,
    }),
  );
  ac.abort();
  const summary = await writer.close();
  assert.ok(existsSync(summary.file));
  const replay = OpenableSensorSchema.parse({
    id: config.id,
    modality: config.modality,
    driver: 'replay',
    file: summary.file,
    speed: 0,
    loop: false,
  });
  const again = await collect(
    windows(openSensor(replay)({ clock: systemClock, signal: new AbortController().signal }), {
      ...win,
      clock: systemClock,
    }),
  );
  return { live, again, summary };
}

/**
 * The replay must cut the same windows as the live run. How many the live run cuts depends on how
 * late frames arrived (a late frame is a time jump that restarts windowing, see windows.ts), so
 * only one is required: the recording carries the same times and must reproduce the same cuts.
 */
function assertSameWindows(live: Window[], again: Window[]): void {
  assert.ok(live.length >= 1, `${live.length} live windows`);
  assert.equal(again.length, live.length, 'same number of windows');
  live.forEach((w, i) => {
    assert.deepEqual(again[i]!.shape, w.shape);
    assert.equal(again[i]!.rateHz, w.rateHz);
    assert.deepEqual(again[i]!.data, w.data, `window ${i} data`);
  });
}

test('audio: fake arecord → WAV → replay gives identical windows', async () => {
  const device = join(dir, 'mic.json');
  writeFileSync(device, JSON.stringify({ freqHz: 300, amplitude: 0.7 }));
  const { live, again, summary } = await roundTrip(
    { id: 'mic', driver: 'alsa-mic', device, audioType: 'wav' },
    12,
    { lengthMs: 500, hopMs: 250 },
  );
  assert.equal(summary.samples, 12 * 1600);
  assertSameWindows(live, again);
});

test('depth: fake v4l2-ctl Z16 → .ebf → replay gives identical windows', async () => {
  const device = join(dir, 'depth.json');
  writeFileSync(device, JSON.stringify({ pattern: 'depth', pixelFormat: 'Z16 ' }));
  const { live, again } = await roundTrip(
    { id: 'depth', driver: 'depth-z16', device, width: 32, height: 24, fps: 30, depthScaleMm: 0.1 },
    20,
    { lengthMs: 200, hopMs: 100 },
  );
  assertSameWindows(live, again);
});

test('thermal: fake v4l2-ctl Y16 → .ebf → replay gives identical windows', async () => {
  const device = join(dir, 'thermal.json');
  writeFileSync(device, JSON.stringify({ pattern: 'thermal', pixelFormat: 'Y16 ' }));
  const { live, again } = await roundTrip(
    { id: 'thermal', driver: 'thermal-y16', device, width: 16, height: 12, fps: 20 },
    12,
    { lengthMs: 200, hopMs: 100 },
  );
  assertSameWindows(live, again);
});

test('imu over a socat pty → .ebf → replay gives identical windows', async () => {
  const board = new SerialBoardEmulator({
    dir,
    name: 'imu',
    rateHz: 100,
    batch: 2,
    line: (k) => [Math.sin(k / 10), 0.25, 9.81, k / 100, -0.5, 0.125].join(','),
  });
  await board.plug();
  try {
    const { live, again } = await roundTrip(
      {
        id: 'imu',
        driver: 'serial-lines',
        modality: 'imu',
        path: board.hostPath,
        sampleShape: [6],
        rateHz: 100,
      },
      60,
      { lengthMs: 200, hopMs: 100 },
    );
    assertSameWindows(live, again);
  } finally {
    await board.close();
  }
});

test('recordSensors captures N seconds of each sensor at once', async () => {
  const mic = join(dir, 'mic2.json');
  writeFileSync(mic, JSON.stringify({}));
  const cam = join(dir, 'cam2.json');
  writeFileSync(cam, JSON.stringify({ pattern: 'depth' }));
  const out = tempDir('record-out');
  const configs = [
    OpenableSensorSchema.parse({ id: 'mic2', driver: 'alsa-mic', device: mic }),
    OpenableSensorSchema.parse({
      id: 'cam2',
      driver: 'depth-z16',
      device: cam,
      width: 8,
      height: 6,
      fps: 10,
    }),
  ];
  const summaries = await recordSensors({
    sensors: configs.map((c) => ({ id: c.id, modality: c.modality, source: openSensor(c) })),
    dir: out,
    seconds: 1,
    clock: systemClock,
    signal: new AbortController().signal,
  });
  assert.deepEqual(
    summaries.map((s) => s.file),
    [join(out, 'mic2.wav'), join(out, 'cam2.ebf')],
  );
  assert.equal(summaries[0]!.samples, 16000);
  // 1 s of frame time at 10 fps. Frame times are counted at the nominal rate from the first
  // frame's arrival and re-anchored when arrival drifts more than 250 ms from the count (see
  // SampleTimer), which a loaded machine causes: the count of frames in that second varies then.
  assert.ok(summaries[1]!.samples >= 1, `${summaries[1]!.samples} depth frames`);
  for (const s of summaries) assert.ok(s.durationMs >= 999.999);
});

test('audio: a stereo replay records as a 2-channel WAV that replays to the same [n, 2] frames', async () => {
  const src = join(dir, 'stereo-src.wav');
  const left = Float32Array.from({ length: 4800 }, (_, i) => Math.round(Math.sin(i / 5) * 9000) / 32768);
  const right = Float32Array.from({ length: 4800 }, (_, i) => Math.round((i % 50) * 300 - 7000) / 32768);
  writeFileSync(src, encodeWav16({ sampleRateHz: 16000, channels: [left, right] }));
  const replayOf = (file: string) =>
    openSensor(
      OpenableSensorSchema.parse({
        id: 'st',
        modality: 'audio',
        driver: 'replay',
        file,
        speed: 0,
        loop: false,
      }),
    )({ clock: systemClock, signal: new AbortController().signal });
  const writer = new RecordingWriter(join(dir, 'stereo-out'), 'st', 'audio');
  mkdirSync(join(dir, 'stereo-out'), { recursive: true });
  const first: Frame[] = [];
  for await (const f of recorded(replayOf(src), writer)) first.push(f);
  const summary = await writer.close();
  const second: Frame[] = [];
  for await (const f of replayOf(summary.file)) second.push(f);
  assert.deepEqual(first[0]!.shape, [1600, 2]);
  assert.deepEqual(
    second.map((f) => f.shape),
    first.map((f) => f.shape),
  );
  second.forEach((f, i) => assert.deepEqual(f.data, first[i]!.data, `frame ${i}`));
  // A mono frame cannot join a stereo recording.
  const mono = new RecordingWriter(join(dir, 'stereo-out'), 'mixed', 'audio');
  await mono.write(first[0]!);
  await assert.rejects(
    mono.write({ ...first[0]!, data: new Float32Array(4), shape: [4] }),
    /mixed: audio frame of shape \[4\] in a 2-channel recording/,
  );
  await mono.close();
});
