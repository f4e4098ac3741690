/**
 * The history store (issue #18): the real writer writes segment files, the real reader searches
 * them. Covers the round trip (int8 scores against fp32 cosines), filters, moments, the ring that
 * drops and counts when full, retention by age and size, a torn tail, and a full disk.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { HistoryError } from '../../src/errors.js';
import { HEADER_BYTES, recordBytesFor } from '../../src/history/format.js';
import { SegmentScorer } from '../../src/history/kernel.js';
import { listSegments, scanHistory } from '../../src/history/reader.js';
import { mergeMoments, searchHistory } from '../../src/history/search.js';
import { HistoryWriter, nodeHistoryFiles, type HistoryFiles } from '../../src/history/writer.js';
import type { SensorModality, Window } from '../../src/pipeline/types.js';
import { dot, normalizeInPlace } from '../../src/util/vectors.js';
import { tempDir } from '../helpers/agent-config.js';
import { enospc } from '../helpers/faulty-files.js';

const logger = pino({ level: 'silent' });
const T0 = Date.UTC(2026, 11, 5, 22, 0, 0);
const SENSORS = [
  { id: 'mic', modality: 'audio' as const },
  { id: 'thermal', modality: 'thermal' as const },
];

function win(sensorId: string, modality: SensorModality, startWallMs: number, lengthMs = 2000): Window {
  return {
    sensorId,
    modality,
    seq: 0,
    startMs: 0,
    endMs: lengthMs,
    startWallMs,
    endWallMs: startWallMs + lengthMs,
    rateHz: 1,
    data: new Float32Array(0),
    shape: [0],
  };
}

let seed = 7;
function random(dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    v[i] = seed / 2 ** 32 - 0.5;
  }
  return normalizeInPlace(v);
}

function writer(dir: string, o: Partial<ConstructorParameters<typeof HistoryWriter>[0]> = {}): HistoryWriter {
  return new HistoryWriter({
    dir,
    deviceId: 'dev',
    dim: 64,
    pack: { id: 'p', version: '1' },
    sensors: SENSORS,
    maxAgeS: 24 * 3600,
    maxBytes: 64 * 1024 * 1024,
    now: () => T0 + 3600_000,
    logger,
    ...o,
  });
}

test('written windows come back with their metadata and int8 scores within 0.01 of the fp32 cosine', async () => {
  const dir = tempDir('history-rt');
  const w = writer(dir);
  const vectors: Float32Array[] = [];
  for (let i = 0; i < 200; i++) {
    const v = random(64);
    vectors.push(v);
    assert.equal(w.push(win(i % 2 ? 'thermal' : 'mic', i % 2 ? 'thermal' : 'audio', T0 + i * 1000), v), true);
  }
  await w.close();
  assert.deepEqual(
    { written: w.stats().written, dropped: w.stats().dropped, state: w.stats().state },
    { written: 200, dropped: 0, state: 'ok' },
  );
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.equal(statSync(join(dir, files[0]!)).size, HEADER_BYTES + 200 * recordBytesFor(64));

  const q = vectors[37]!;
  const { hits, stats } = scanHistory(dir, { vector: q, keep: 200 });
  assert.equal(stats.windows, 200);
  assert.equal(hits[0]!.startWallMs, T0 + 37_000);
  assert.equal(hits[0]!.sensorId, 'thermal');
  assert.equal(hits[0]!.modality, 'thermal');
  assert.equal(hits[0]!.endWallMs - hits[0]!.startWallMs, 2000);
  assert.deepEqual(hits[0]!.pack, { id: 'p', version: '1' });
  for (const h of hits) {
    const i = (h.startWallMs - T0) / 1000;
    assert.ok(
      Math.abs(h.score - dot(q, vectors[i]!)) < 0.01,
      `window ${i}: ${h.score} vs ${dot(q, vectors[i]!)}`,
    );
  }
  for (let k = 1; k < hits.length; k++) assert.ok(hits[k - 1]!.score >= hits[k]!.score);

  const audioOnly = scanHistory(dir, { vector: q, keep: 5, modalities: ['audio'] });
  assert.ok(audioOnly.hits.every((h) => h.modality === 'audio'));
  assert.equal(audioOnly.stats.windows, 100);
  const micSince = scanHistory(dir, { vector: q, keep: 500, sensors: ['mic'], sinceWallMs: T0 + 150_000 });
  assert.ok(micSince.hits.every((h) => h.sensorId === 'mic' && h.endWallMs >= T0 + 150_000));
  assert.equal(micSince.hits.length, 26); // starts 148 … 198 s, even ones
});

test('hits within the gap merge into moments with their best score and sensors', () => {
  const hit = (sensorId: string, modality: SensorModality, s: number, score: number) => ({
    score,
    startWallMs: T0 + s * 1000,
    endWallMs: T0 + s * 1000 + 2000,
    sensorId,
    modality,
    pack: { id: 'p', version: '1' },
  });
  const moments = mergeMoments(
    [
      hit('mic', 'audio', 10, 0.5),
      hit('thermal', 'thermal', 11, 0.7),
      hit('mic', 'audio', 12.5, 0.4),
      hit('mic', 'audio', 40, 0.9),
    ],
    1000,
  );
  assert.equal(moments.length, 2);
  assert.equal(moments[0]!.score, 0.9);
  assert.deepEqual(
    { start: moments[1]!.startWallMs - T0, end: moments[1]!.endWallMs - T0, score: moments[1]!.score },
    { start: 10_000, end: 14_500, score: 0.7 },
  );
  assert.deepEqual(moments[1]!.sensors, ['mic', 'thermal']);
  assert.deepEqual(moments[1]!.modalities, ['audio', 'thermal']);
  assert.equal(moments[1]!.windows, 3);
});

test('a vector query finds the moment around the window it was taken from', async () => {
  const dir = tempDir('history-moment');
  const w = writer(dir);
  const target = random(64);
  for (let i = 0; i < 300; i++) {
    // Windows 100-104 of both sensors lie close to the target; the rest are random.
    const near = i >= 100 && i < 105;
    const v = near ? normalizeInPlace(target.map((x, k) => x + 0.1 * (random(64)[k] ?? 0))) : random(64);
    w.push(win('mic', 'audio', T0 + i * 1000), v);
    w.push(win('thermal', 'thermal', T0 + i * 1000), near ? v : random(64));
  }
  await w.close();
  const { moments } = await searchHistory({ dir, query: { vector: target }, top: 3, candidates: 10 });
  assert.equal(moments[0]!.startWallMs, T0 + 100_000);
  assert.equal(moments[0]!.endWallMs, T0 + 106_000);
  assert.deepEqual(moments[0]!.sensors, ['mic', 'thermal']);
  assert.ok(moments[0]!.score > 0.9);
});

test('a full ring drops and counts windows; the pipeline never waits', async () => {
  const dir = tempDir('history-ring');
  const w = writer(dir, { queueWindows: 8 });
  let accepted = 0;
  for (let i = 0; i < 20; i++) if (w.push(win('mic', 'audio', T0 + i * 1000), random(64))) accepted++;
  assert.equal(accepted, 8);
  assert.deepEqual({ dropped: w.stats().dropped, queued: w.stats().queued }, { dropped: 12, queued: 8 });
  // Unknown sensors and another dimension are dropped too, never written wrong.
  assert.equal(w.push(win('nope', 'audio', T0), random(64)), false);
  assert.equal(w.push(win('mic', 'audio', T0), random(32)), false);
  await w.flush();
  assert.deepEqual({ written: w.stats().written, queued: w.stats().queued }, { written: 8, queued: 0 });
  await w.close();
});

test('windows of a new hour start a new segment; retention deletes by age and then by size', async () => {
  const dir = tempDir('history-retention');
  let now = T0;
  const w = writer(dir, { now: () => now, maxAgeS: 2 * 3600, maxBytes: 64 * 1024 * 1024 });
  for (let h = 0; h < 5; h++) {
    for (let i = 0; i < 10; i++) w.push(win('mic', 'audio', T0 + h * 3600_000 + i * 1000), random(64));
    now = T0 + 60_000; // nothing is old yet
    await w.flush();
  }
  assert.equal(listSegments(dir).length, 5);
  // Five hours and a minute later than the first: the segments of hours 0-2 end before now − 2 h.
  now = T0 + 5 * 3600_000 + 60_000;
  w.push(win('mic', 'audio', T0 + 5 * 3600_000), random(64));
  await w.flush();
  const left = listSegments(dir).map((s) => (s.startWallMs - T0) / 3600_000);
  assert.deepEqual(left, [3, 4, 5]);
  assert.equal(w.stats().segments, 3);
  await w.close();

  // By size: a cap of 1 MiB makes segments of 64 KiB; the total stays under the cap.
  const dir2 = tempDir('history-size');
  const w2 = writer(dir2, { dim: 1024, maxBytes: 1024 * 1024, queueWindows: 4096 });
  for (let i = 0; i < 3000; i++) w2.push(win('mic', 'audio', T0 + i * 1000), random(1024));
  await w2.flush();
  w2.push(win('mic', 'audio', T0 + 3000 * 1000), random(1024));
  // Retention runs at most once a minute: a later writer (the next start) applies the cap.
  await w2.close();
  const w3 = writer(dir2, { dim: 1024, maxBytes: 1024 * 1024 });
  const total = readdirSync(dir2).reduce((s, n) => s + statSync(join(dir2, n)).size, 0);
  assert.ok(total <= 1024 * 1024, `${total} bytes on disk`);
  assert.ok(w3.stats().bytes <= 1024 * 1024);
  await w3.close();
  // The newest windows survive.
  const newest = scanHistory(dir2, { vector: random(1024), keep: 5000 }).hits;
  assert.ok(newest.some((h) => h.startWallMs === T0 + 3000 * 1000));
});

test('a torn or zero-filled tail is not read; a foreign file is named', async () => {
  const dir = tempDir('history-torn');
  const w = writer(dir);
  for (let i = 0; i < 10; i++) w.push(win('mic', 'audio', T0 + i * 1000), random(64));
  await w.close();
  const [seg] = listSegments(dir);
  appendFileSync(seg!.path, Buffer.alloc(recordBytesFor(64) + 17)); // a zero record and a partial one
  writeFileSync(join(dir, 'seg-0000000000001-1.ebh'), 'not a segment at all, nothing like one'.repeat(200));
  const { hits, stats } = scanHistory(dir, { vector: random(64), keep: 100 });
  assert.equal(hits.length, 10);
  assert.equal(stats.damaged, 1);
  assert.equal(stats.skippedSegments, 1);
  assert.match(stats.problems[0]!, /seg-0000000000001-1\.ebh: not a history segment/);
  // A query of another dimension skips the segment and says why.
  const other = scanHistory(dir, { vector: random(32), keep: 10 });
  assert.equal(other.hits.length, 0);
  assert.match(other.stats.problems.at(-1)!, /64-d embeddings of pack p 1, the query is 32-d/);
});

test('no history directory is a HistoryError that names it', () => {
  const dir = join(tempDir('history-none'), 'history');
  assert.throws(
    () => scanHistory(dir, { vector: random(8), keep: 1 }),
    (err: unknown) => err instanceof HistoryError && err.code === 'HISTORY_UNREADABLE' && err.file === dir,
  );
});

test('a full disk degrades the history with HISTORY_DISK_FULL, keeps the ring, and recovers', async () => {
  const dir = tempDir('history-full');
  let full = false;
  let shortOnce = false;
  const files: HistoryFiles = {
    write: async (fd, data, offset, length) => {
      if (shortOnce) {
        shortOnce = false;
        return nodeHistoryFiles.write(fd, data, offset, Math.min(length, 50));
      }
      if (full) throw enospc('write');
      return nodeHistoryFiles.write(fd, data, offset, length);
    },
    datasync: (fd) => nodeHistoryFiles.datasync(fd),
  };
  let now = T0;
  const w = writer(dir, { files, now: () => now, retryMs: 5000, queueWindows: 16 });
  for (let i = 0; i < 4; i++) w.push(win('mic', 'audio', T0 + i * 1000), random(64));
  await w.flush();
  full = true;
  shortOnce = true; // a short write, then ENOSPC: the torn record must not stay
  for (let i = 4; i < 8; i++) w.push(win('mic', 'audio', T0 + i * 1000), random(64));
  await w.flush();
  const s = w.stats();
  assert.equal(s.state, 'degraded');
  assert.equal(s.code, 'HISTORY_DISK_FULL');
  assert.match(s.reason!, /ENOSPC: no space left on device.*detection goes on/);
  assert.equal(s.queued, 4);
  const first = listSegments(dir)[0]!;
  assert.equal(statSync(first.path).size, HEADER_BYTES + 4 * recordBytesFor(64));
  // While degraded: the ring fills, then drops and counts; nothing is retried before retryMs.
  for (let i = 8; i < 30; i++) w.push(win('mic', 'audio', T0 + i * 1000), random(64));
  assert.equal(w.stats().dropped, 30 - 8 - 12);
  full = false;
  await w.flush();
  assert.equal(w.stats().state, 'degraded');
  now += 5000;
  await w.flush();
  assert.deepEqual(
    { state: w.stats().state, written: w.stats().written, queued: w.stats().queued },
    { state: 'ok', written: 20, queued: 0 },
  );
  await w.close();
  assert.equal(scanHistory(dir, { vector: random(64), keep: 100 }).hits.length, 20);
});

test("the WebAssembly kernel gives the JavaScript kernel's scores within the int16 query rounding", async () => {
  for (const dim of [64, 100, 1024]) {
    const dir = tempDir(`history-kernel-${dim}`);
    const w = writer(dir, { dim, queueWindows: 512 });
    for (let i = 0; i < 500; i++)
      w.push(win(i % 2 ? 'thermal' : 'mic', i % 2 ? 'thermal' : 'audio', T0 + i * 1000), random(dim));
    await w.close();
    const q = random(dim);
    const wasm = scanHistory(dir, { vector: q, keep: 500 });
    const js = scanHistory(dir, { vector: q, keep: 500, kernel: 'js' });
    assert.equal(wasm.hits.length, 500);
    const byStart = new Map(js.hits.map((h) => [h.startWallMs, h.score]));
    for (const h of wasm.hits)
      assert.ok(Math.abs(h.score - byStart.get(h.startWallMs)!) < 1e-3, `${dim}-d at ${h.startWallMs}`);
    assert.deepEqual(
      wasm.hits.slice(0, 5).map((h) => h.startWallMs),
      js.hits.slice(0, 5).map((h) => h.startWallMs),
    );
  }
  assert.equal(new SegmentScorer(random(8)).kernel, 'wasm');
});
