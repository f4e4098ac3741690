/**
 * The clip recorder (issue #18) on real files: a clip spans pre-roll to post-roll of every
 * sensor, is written off the event path with WAV, PNG, CSV and event.json; a long event is cut at
 * maxClipS and gets its end later; a full disk fails the clip, logs once, counts, and the next
 * clip is written once there is room; retention by age and size with an injected clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode } from 'fast-png';
import { ClipRecorder, nodeClipFiles, type ClipFiles } from '../../src/clips/recorder.js';
import { listClips, readClipFile, type ClipInfo, type ClipManifest } from '../../src/clips/store.js';
import { ManualClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import { tempDir } from '../helpers/agent-config.js';
import { enospc } from '../helpers/faulty-files.js';
import { captureLogger } from '../helpers/log-capture.js';

const ORIGIN = Date.UTC(2026, 11, 6, 12, 0, 0);
const SENSORS = [
  { id: 'mic', modality: 'audio' as const, rateHz: 100, shape: [] as number[] },
  { id: 'thermal', modality: 'thermal' as const, rateHz: 2, shape: [3, 4] },
  { id: 'imu', modality: 'imu' as const, rateHz: 10, shape: [6] },
];

interface Rig {
  rec: ClipRecorder;
  dir: string;
  clips: ClipInfo[];
  lines: string[];
  /** Feeds every sensor 1 s of frames from second `fromS` to `toS` (exclusive). */
  feed(fromS: number, toS: number): void;
  event(type: 'start' | 'end', id: string, startS: number, endS?: number): void;
  wall: { ms: number };
}

function rig(o: Partial<ConstructorParameters<typeof ClipRecorder>[0]> = {}): Rig {
  const dir = join(tempDir('clips-rec'), 'clips');
  const clock = new ManualClock(0, ORIGIN);
  const wall = { ms: ORIGIN };
  const clips: ClipInfo[] = [];
  const { logger, lines } = captureLogger('info');
  const rec = new ClipRecorder({
    dir,
    sensors: SENSORS.map((s) => ({ id: s.id, modality: s.modality })),
    preRollS: 2,
    postRollS: 1,
    maxClipS: 30,
    maxAgeS: 3600,
    maxBytes: 100 * 1024 * 1024,
    clock,
    now: () => wall.ms,
    logger,
    onClip: (info) => clips.push(info),
    ...o,
  });
  const frames = SENSORS.map((s) => {
    const size = s.shape.reduce((a, b) => a * b, 1);
    return { s, size, data: new Float32Array(s.rateHz * size) };
  });
  return {
    rec,
    dir,
    clips,
    lines,
    wall,
    feed(fromS, toS) {
      for (let t = fromS; t < toS; t++) {
        wall.ms = ORIGIN + (t + 1) * 1000;
        for (const { s, data } of frames) {
          // Values: the second they belong to (thermal: hotter from second 10).
          data.fill(s.modality === 'audio' ? 0.25 : t >= 10 && s.modality === 'thermal' ? 30 + t : t);
          const f: Frame = {
            sensorId: s.id,
            modality: s.modality,
            tMs: t * 1000,
            rateHz: s.rateHz,
            data,
            shape: [s.rateHz, ...s.shape],
          };
          rec.frame(f);
        }
      }
    },
    event(type, id, startS, endS) {
      rec.event({
        type,
        id,
        label: 'fire',
        startTime: new Date(ORIGIN + startS * 1000).toISOString(),
        endTime: endS === undefined ? null : new Date(ORIGIN + endS * 1000).toISOString(),
        score: 0.5,
      });
    },
  };
}

test('a clip: pre-roll to post-roll of every sensor, WAV, PNGs, CSV and event.json, written after the post-roll', async () => {
  const r = rig();
  await r.rec.start();
  r.feed(0, 11);
  r.event('start', 'ev1', 10);
  r.feed(11, 12);
  r.event('end', 'ev1', 10, 12);
  assert.equal(r.rec.stats().recording, 1, 'post-roll: not finished before 13 s');
  r.feed(12, 13);
  assert.equal(r.rec.stats().recording, 0, 'every sensor has reached 13 s');
  await r.rec.settled();
  assert.equal(r.rec.stats().written, 1);
  assert.equal(r.clips.length, 1);
  const info = r.clips[0]!;
  assert.deepEqual(
    info.files.map((f) => [f.name, f.mediaType, f.sensorId, f.modality]),
    [
      ['event.json', 'application/json', undefined, undefined],
      ['mic.wav', 'audio/wav', 'mic', 'audio'],
      ['thermal.png', 'image/png', 'thermal', 'thermal'],
      ['thermal-sheet.png', 'image/png', 'thermal', 'thermal'],
      ['imu.csv', 'text/csv', 'imu', 'imu'],
    ],
  );
  assert.equal(info.start, '2026-12-06T12:00:10.000Z');
  assert.equal(info.end, '2026-12-06T12:00:12.000Z');
  assert.deepEqual(await listClips(r.dir), [info]);

  // 8 s → 13 s: 500 audio samples, 10 thermal frames, 50 IMU rows from t = -2 s.
  const wav = await readClipFile(r.dir, 'ev1', 'mic.wav');
  assert.equal(wav.readUInt32LE(40), 500 * 2);
  assert.equal(wav.readInt16LE(44), Math.round(0.25 * 32767));
  const csv = (await readClipFile(r.dir, 'ev1', 'imu.csv')).toString().trimEnd().split('\n');
  assert.equal(csv.length, 51);
  assert.equal(csv[0], 't,ax,ay,az,gx,gy,gz');
  assert.equal(csv[1], '-2.000,8,8,8,8,8,8');
  assert.equal(csv[50], '2.900,12,12,12,12,12,12');
  const manifest = JSON.parse(readFileSync(join(r.dir, 'ev1', 'event.json'), 'utf8')) as ClipManifest;
  assert.equal(manifest.clipFrom, '2026-12-06T12:00:08.000Z');
  assert.equal(manifest.clipTo, '2026-12-06T12:00:13.000Z');
  assert.equal(manifest.truncated, false);
  assert.equal(manifest.start.id, 'ev1');
  assert.equal(manifest.end!.endTime, '2026-12-06T12:00:12.000Z');
  const png = manifest.files.find((f) => f.name === 'thermal.png')!;
  assert.deepEqual(png.range, { min: 8, max: 42, unit: '°C' });
  // The key frame differs most from the frame before the event: 42 °C at 12 s against 9 °C at 9.5 s.
  assert.match(png.frames!, /key frame at 2026-12-06T12:00:12.000Z/);
  const sheet = decode(await readClipFile(r.dir, 'ev1', 'thermal-sheet.png'));
  assert.match(sheet.text.Description!, /10 of 10 frames/);
  assert.equal(sheet.width, 4 * 128 + 3 * 2);
  assert.deepEqual(readdirSync(join(r.dir, 'ev1')).sort(), [
    'event.json',
    'imu.csv',
    'mic.wav',
    'thermal-sheet.png',
    'thermal.png',
  ]);
  await r.rec.close();
});

test('a long event is cut at maxClipS and written at once; its end message reaches event.json later', async () => {
  const r = rig({ maxClipS: 6 });
  await r.rec.start();
  r.feed(0, 11);
  r.event('start', 'long', 10); // clip 8 s → 14 s
  r.feed(11, 15);
  await r.rec.settled();
  assert.equal(r.clips.length, 1);
  assert.equal(r.clips[0]!.end, null);
  let m = JSON.parse((await readClipFile(r.dir, 'long', 'event.json')).toString()) as ClipManifest;
  assert.equal(m.truncated, true);
  assert.equal(m.end, null);
  assert.equal(m.clipTo, '2026-12-06T12:00:14.000Z');
  r.feed(15, 40);
  r.event('end', 'long', 10, 38);
  await r.rec.settled();
  m = JSON.parse((await readClipFile(r.dir, 'long', 'event.json')).toString()) as ClipManifest;
  assert.equal(m.truncated, true);
  assert.equal(m.end!.endTime, '2026-12-06T12:00:38.000Z');
  assert.equal((await listClips(r.dir))[0]!.end, '2026-12-06T12:00:38.000Z');
  assert.equal(r.rec.stats().written, 1);
  await r.rec.close();
});

test('sensors that went quiet are not waited for; close writes open clips with what there is', async () => {
  const r = rig();
  await r.rec.start();
  r.feed(0, 11);
  r.event('start', 'quiet', 10);
  r.event('end', 'quiet', 10, 11); // wants data to 12 s, which never comes
  r.wall.ms += 6000;
  // The timer polls once a second; poll() is what it calls.
  (r.rec as unknown as { poll(): void }).poll();
  await r.rec.settled();
  assert.equal(r.rec.stats().written, 1);
  r.event('start', 'open', 10);
  await r.rec.close();
  assert.deepEqual((await listClips(r.dir)).map((c) => c.eventId).sort(), ['open', 'quiet']);
});

test('a full disk: the clip fails, is removed, logged once, counted; events go on; the next clip is written', async () => {
  let full = true;
  let writes = 0;
  const files: ClipFiles = {
    ...nodeClipFiles,
    writeFile: async (path, data) => {
      writes++;
      if (full) throw enospc('write');
      return nodeClipFiles.writeFile(path, data);
    },
  };
  const r = rig({ files });
  await r.rec.start();
  r.feed(0, 5);
  for (const id of ['a', 'b']) {
    r.event('start', id, 3);
    r.event('end', id, 3, 4);
  }
  r.feed(5, 6);
  await r.rec.settled();
  const s = r.rec.stats();
  assert.equal(s.state, 'degraded');
  assert.equal(s.code, 'CLIP_DISK_FULL');
  assert.match(s.reason!, /ENOSPC: no space left on device.*detection goes on/);
  assert.equal(s.failed, 2);
  assert.equal(s.written, 0);
  assert.ok(writes >= 2);
  assert.equal(r.lines.filter((l) => l.includes('CLIP_DISK_FULL')).length, 1, 'logged once');
  assert.ok(!existsSync(join(r.dir, 'a')) && !existsSync(join(r.dir, 'b')), 'no half-written clip left');
  assert.deepEqual(await listClips(r.dir), []);

  full = false;
  r.event('start', 'c', 5);
  r.event('end', 'c', 5, 6);
  r.feed(6, 8);
  await r.rec.settled();
  assert.equal(r.rec.stats().state, 'ok');
  assert.equal(r.rec.stats().written, 1);
  assert.deepEqual(
    (await listClips(r.dir)).map((c) => c.eventId),
    ['c'],
  );
  assert.ok(r.lines.some((l) => l.includes('clips: writing again')));
  await r.rec.close();
});

test('retention: clips older than maxAgeS go, then the oldest while over maxBytes (injected clock)', async () => {
  const r = rig({ maxAgeS: 60, maxBytes: 1 });
  await r.rec.start();
  // maxBytes 1: every clip but the newest goes at each write.
  r.feed(0, 4);
  r.event('start', 'a', 2);
  r.event('end', 'a', 2, 3);
  r.feed(4, 5);
  await r.rec.settled();
  r.event('start', 'b', 4);
  r.event('end', 'b', 4, 5);
  r.feed(5, 7);
  await r.rec.settled();
  assert.deepEqual(
    (await listClips(r.dir)).map((c) => c.eventId),
    ['b'],
  );
  assert.equal(r.rec.stats().clips, 1);
  assert.ok(r.rec.stats().bytes > 0);
  await r.rec.close();

  // Age: a second recorder on the same directory, its wall clock 2 min on, deletes it at start.
  const r2 = rig({ maxAgeS: 60, dir: r.dir });
  r2.wall.ms = ORIGIN + 30_000;
  await r2.rec.start();
  assert.equal((await listClips(r.dir)).length, 1, 'not yet 60 s old');
  await r2.rec.close();
  const r3 = rig({ maxAgeS: 60, dir: r.dir });
  r3.wall.ms = ORIGIN + 125_000;
  await r3.rec.start();
  assert.deepEqual(await listClips(r.dir), []);
  assert.equal(r3.rec.stats().clips, 0);
  await r3.rec.close();
});

test('a clip directory a crash left without event.json is removed at start', async () => {
  const r = rig();
  await r.rec.start();
  r.feed(0, 4);
  r.event('start', 'ok', 2);
  r.event('end', 'ok', 2, 3);
  r.feed(4, 5);
  await r.rec.close();
  const torn = join(r.dir, 'torn');
  await nodeClipFiles.mkdir(torn);
  await nodeClipFiles.writeFile(join(torn, 'mic.wav'), 'x');
  const r2 = rig({ dir: r.dir });
  r2.wall.ms = ORIGIN + 5000;
  await r2.rec.start();
  assert.ok(!existsSync(torn));
  assert.deepEqual(
    (await listClips(r.dir)).map((c) => c.eventId),
    ['ok'],
  );
  await r2.rec.close();
});
