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
import { scanHistory, scanHistoryAsync } from '../src/history/reader.js';
import { normalizeInPlace } from '../src/util/vectors.js';
import { benchWindow, benchWriter } from './lib/history-writer.js';

const { values } = parseArgs({
  options: { windows: { type: 'string', default: '345600' }, dims: { type: 'string', default: '128,1024' } },
});
const N = Number(values.windows);
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
  const writer = benchWriter(dir, dim);
  const pool = Array.from({ length: 1024 }, () => normalizeInPlace(Float32Array.from({ length: dim }, rnd)));
  for (let i = 0; i < N; i++) {
    writer.push(benchWindow(i, new Float32Array(0)), pool[(i * 7919) % 1024]!);
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
