/**
 * `node --import tsx bench/history-block.ts [--windows N] [--dims 128,1024]`: how long a search
 * of the embedding history holds the event loop (issue #18, history/search in the agent).
 *
 * Per dimension it writes N windows (default 345,600: 4 sensors × 24 h × 1 window/s) of random
 * unit vectors through HistoryWriter, then searches them twice while a 1 ms timer probes the loop:
 * `scanHistory` in one piece (what `edgebind history search` runs; it holds the loop throughout)
 * and `scanHistoryAsync` (what the agent runs: 1 MiB reads and chunks). One JSON line per
 * dimension: wall and CPU ms of each, the longest gap between two probe ticks (`maxGapMs`, what a
 * window waiting on the event loop would wait at most) and the scan's own longest slice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { scanHistory, scanHistoryAsync } from '../src/history/reader.js';
import { HistoryWriter } from '../src/history/writer.js';
import type { SensorModality, Window } from '../src/pipeline/types.js';
import { normalizeInPlace } from '../src/util/vectors.js';

const { values } = parseArgs({
  options: { windows: { type: 'string', default: '345600' }, dims: { type: 'string', default: '128,1024' } },
});
const N = Number(values.windows);
const SENSORS: { id: string; modality: SensorModality }[] = [
  { id: 'mic', modality: 'audio' },
  { id: 'thermal', modality: 'thermal' },
  { id: 'depth', modality: 'depth' },
  { id: 'imu', modality: 'imu' },
];
const T0 = Date.UTC(2026, 11, 5, 0, 0, 0);
let seed = 1;
const rnd = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
};
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Runs `fn` with a 1 ms probe timer; the longest gap between two of its ticks, ms. */
async function probed<T>(
  fn: () => Promise<T> | T,
): Promise<{ value: T; wallMs: number; cpuMs: number; maxGapMs: number }> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  last = performance.now();
  maxGap = 0;
  const t0 = performance.now();
  const c0 = cpuMs();
  const value = await fn();
  const wallMs = performance.now() - t0;
  const cpu = cpuMs() - c0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { value, wallMs, cpuMs: cpu, maxGapMs: maxGap };
}

async function measure(dim: number) {
  const dir = mkdtempSync(join(tmpdir(), `edgebind-history-block-${dim}-`));
  const writer = new HistoryWriter({
    dir,
    deviceId: 'bench',
    dim,
    pack: { id: 'bench', version: '1' },
    sensors: SENSORS,
    maxAgeS: 366 * 24 * 3600,
    maxBytes: 64 * 1024 * 1024 * 1024,
    queueWindows: 4096,
    now: () => T0 + 25 * 3600_000,
    logger: pino({ level: 'silent' }),
  });
  const pool = Array.from({ length: 1024 }, () => normalizeInPlace(Float32Array.from({ length: dim }, rnd)));
  for (let i = 0; i < N; i++) {
    const s = SENSORS[i % 4]!;
    const start = T0 + Math.floor(i / 4) * 1000;
    const w: Window = {
      sensorId: s.id,
      modality: s.modality,
      seq: i,
      startMs: 0,
      endMs: 2000,
      startWallMs: start,
      endWallMs: start + 2000,
      rateHz: 1,
      data: new Float32Array(0),
      shape: [0],
    };
    writer.push(w, pool[(i * 7919) % 1024]!);
    if ((i + 1) % 4096 === 0) await writer.flush();
  }
  await writer.close();
  const query = { vector: normalizeInPlace(Float32Array.from({ length: dim }, rnd)), keep: 1000 };
  scanHistory(dir, query); // page cache and WebAssembly compiled, as on a running agent
  const whole = await probed(() => scanHistory(dir, query));
  const chunked = await probed(() => scanHistoryAsync(dir, query));
  rmSync(dir, { recursive: true, force: true });
  const r = (x: number) => +x.toFixed(1);
  return {
    dim,
    windows: whole.value.stats.windows,
    oneScan: { wallMs: r(whole.wallMs), cpuMs: r(whole.cpuMs), maxGapMs: r(whole.maxGapMs) },
    chunkedScan: {
      wallMs: r(chunked.wallMs),
      cpuMs: r(chunked.cpuMs),
      maxGapMs: r(chunked.maxGapMs),
      longestSliceMs: chunked.value.stats.longestSliceMs,
    },
  };
}

for (const dim of values.dims.split(',').map(Number)) console.log(JSON.stringify(await measure(dim)));
