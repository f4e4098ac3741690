/**
 * scanHistoryAsync (issue #18: history/search in the agent) reads and scores in chunks with the
 * event loop running between them, and finds exactly what scanHistory finds: chunks that end
 * mid-record, a segment of another pack skipped and named, the longest slice reported.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { recordBytesFor } from '../../src/history/format.js';
import { scanHistory, scanHistoryAsync } from '../../src/history/reader.js';
import { HistoryWriter } from '../../src/history/writer.js';
import type { Window } from '../../src/pipeline/types.js';
import { normalizeInPlace } from '../../src/util/vectors.js';
import { tempDir } from '../helpers/agent-config.js';

const T0 = Date.UTC(2026, 11, 5, 22, 0, 0);
const DIM = 64;
let seed = 11;
const random = () =>
  normalizeInPlace(
    Float32Array.from({ length: DIM }, () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32 - 0.5;
    }),
  );
const win = (sensorId: string, startWallMs: number): Window => ({
  sensorId,
  modality: sensorId === 'mic' ? 'audio' : 'thermal',
  seq: 0,
  startMs: 0,
  endMs: 1000,
  startWallMs,
  endWallMs: startWallMs + 1000,
  rateHz: 1,
  data: new Float32Array(0),
  shape: [0],
});

async function history(dir: string, pack: string, windows: number, from: number): Promise<void> {
  const w = new HistoryWriter({
    dir,
    deviceId: 'dev',
    dim: DIM,
    pack: { id: pack, version: '1' },
    sensors: [
      { id: 'mic', modality: 'audio' },
      { id: 'thermal', modality: 'thermal' },
    ],
    maxAgeS: 24 * 3600,
    maxBytes: 64 * 1024 * 1024,
    now: () => T0 + 3600_000,
    logger: pino({ level: 'silent' }),
  });
  w.start();
  for (let i = 0; i < windows; i++) {
    w.push(win(i % 2 ? 'thermal' : 'mic', from + i * 500), random());
    if (i % 512 === 511) await w.flush();
  }
  await w.close();
}

test('chunked scans find what the one-piece scan finds, with the event loop turning between chunks', async () => {
  const dir = tempDir('history-async');
  await history(dir, 'p', 3000, T0);
  const query = { vector: random(), keep: 50, sinceWallMs: T0 + 60_000, sensors: ['mic'] };
  const whole = scanHistory(dir, query);
  // 1000 bytes: chunk ends fall inside records (88 bytes each), the next chunk picks them up.
  assert.notEqual(1000 % recordBytesFor(DIM), 0);
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  const chunked = await scanHistoryAsync(dir, query, { chunkBytes: 1000 });
  clearInterval(ticker);
  assert.deepEqual(chunked.hits, whole.hits);
  const { longestSliceMs, ...stats } = chunked.stats;
  assert.deepEqual(stats, whole.stats);
  assert.ok(turns > 10, `the event loop turned ${turns} times during the scan`);
  assert.equal(typeof longestSliceMs, 'number');
  // mic windows (even i) that end at or after since: i = 118, 120, …, 2998.
  assert.equal(whole.stats.windows, 1441);
});

test('a segment of another pack is skipped and named; an aborted scan stops', async () => {
  const dir = tempDir('history-async-pack');
  await history(dir, 'old', 100, T0);
  await history(dir, 'new', 100, T0 + 7200_000);
  const r = await scanHistoryAsync(dir, { vector: random(), keep: 10, pack: { id: 'new', version: '1' } });
  assert.equal(r.stats.segments, 1);
  assert.equal(r.stats.skippedSegments, 1);
  assert.equal(r.stats.windows, 100);
  assert.match(r.stats.problems[0]!, /written with pack old 1, the query is embedded with new 1$/);
  const stop = new AbortController();
  stop.abort(new Error('enough'));
  await assert.rejects(
    scanHistoryAsync(dir, { vector: random(), keep: 10 }, { signal: stop.signal }),
    /enough/,
  );
});
