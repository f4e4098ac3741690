/**
 * `node --import tsx bench/history.ts [--windows N] [--dims 128,1024] [--runs R]`: the embedding
 * history's costs (issue #18), with the real writer and reader of src/history/.
 *
 * Per dimension it writes N windows (default 345,600: 4 sensors × 24 h × 1 window/s) of
 * clustered unit vectors through HistoryWriter, then times text-like searches over all of them
 * (scanHistory + moments, what `edgebind history search` runs after embedding its query). It
 * prints one JSON line per dimension:
 *
 * - `writeCpuUsPerWindow`: CPU time of push (quantise into the ring) plus the asynchronous write,
 *   per window; `coreShareAt4Hz` is that at 4 windows/s as a share of one core (budget 1 %).
 * - `bytesPerWindow`: bytes on disk per window (segment headers included).
 * - `searchMs` / `searchCpuMs`: wall and CPU time per search over every window (median of R),
 *   read from the page cache.
 * - `recallAt10`: the int8 store's 10 best windows against the exact fp32 top 10, mean over the
 *   queries.
 *
 * CPU time is the figure to compare on a shared machine: wall time there mostly measures the queue
 * for a core.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { scanHistory } from '../src/history/reader.js';
import { mergeMoments } from '../src/history/search.js';
import { normalizeInPlace } from '../src/util/vectors.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { benchWindow, benchWriter, SENSORS, T0 } from './lib/history-writer.js';

const { values } = parseArgs({
  options: {
    windows: { type: 'string', default: '345600' },
    dims: { type: 'string', default: '128,1024' },
    runs: { type: 'string', default: '5' },
    queries: { type: 'string', default: '5' },
  },
});
const N = Number(values.windows);
const RUNS = Number(values.runs);
const QUERIES = Number(values.queries);
let seed = 1;
const rnd = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(dim: number) {
  // 40 scenes; a window is its scene's centroid plus noise from a pool (cheap to generate).
  const centroids = Array.from({ length: 40 }, () =>
    normalizeInPlace(Float32Array.from({ length: dim }, gauss)),
  );
  const pool = Array.from({ length: 2048 }, () =>
    Float32Array.from({ length: dim }, () => (2.7 * gauss()) / Math.sqrt(dim)),
  );
  const queries = Array.from({ length: QUERIES }, (_, k) =>
    normalizeInPlace(
      Float32Array.from(centroids[(k * 7) % 40]!, (x) => x + (0.5 * gauss()) / Math.sqrt(dim)),
    ),
  );
  const exact = queries.map(() => new Float32Array(N));
  const dir = mkdtempSync(join(tmpdir(), `edgebind-history-bench-${dim}-`));
  const writer = benchWriter(dir, dim);
  const v = new Float32Array(dim);
  let writeCpu = 0;
  return (async () => {
    for (let i = 0; i < N; i++) {
      const c = centroids[Math.floor(i / 97) % 40]!;
      const z = pool[(i * 7919) % 2048]!;
      const w = 0.5 + (i % 13) / 13;
      for (let d = 0; d < dim; d++) v[d] = c[d]! + w * z[d]!;
      normalizeInPlace(v);
      queries.forEach((q, k) => {
        let a = 0;
        for (let d = 0; d < dim; d++) a += v[d]! * q[d]!;
        exact[k]![i] = a;
      });
      const t = cpuMs();
      writer.push(benchWindow(i, v), v);
      if ((i + 1) % 4096 === 0) await writer.flush();
      writeCpu += cpuMs() - t;
    }
    const t = cpuMs();
    await writer.close();
    writeCpu += cpuMs() - t;
    const bytes = readdirSync(dir).reduce((s, n) => s + statSync(join(dir, n)).size, 0);

    const wall: number[] = [];
    const cpu: number[] = [];
    let recall = 0;
    for (let r = 0; r < RUNS; r++) {
      const q = queries[r % QUERIES]!;
      const t0 = performance.now();
      const c0 = cpuMs();
      const { hits } = scanHistory(dir, { vector: q, keep: 1000 });
      mergeMoments(hits, 1000);
      cpu.push(cpuMs() - c0);
      wall.push(performance.now() - t0);
    }
    for (let k = 0; k < QUERIES; k++) {
      const got = scanHistory(dir, { vector: queries[k]!, keep: 10 }).hits.map((h) => {
        const sensor = SENSORS.findIndex((s) => s.id === h.sensorId);
        return ((h.startWallMs - T0) / 1000) * 4 + sensor;
      });
      const e = exact[k]!;
      const top = Array.from(e.keys())
        .sort((a, b) => e[b]! - e[a]!)
        .slice(0, 10);
      recall += got.filter((x) => top.includes(x)).length / 10 / QUERIES;
    }
    rmSync(dir, { recursive: true, force: true });
    const writeCpuUsPerWindow = (writeCpu / N) * 1000;
    return {
      dim,
      windows: N,
      writeCpuUsPerWindow: +writeCpuUsPerWindow.toFixed(2),
      coreShareAt4Hz: +((writeCpuUsPerWindow * 4) / 1e6).toFixed(6),
      bytesPerWindow: +(bytes / N).toFixed(1),
      searchMs: Math.round(median(wall)),
      searchCpuMs: Math.round(median(cpu)),
      searchMsAll: wall.map(Math.round),
      searchCpuMsAll: cpu.map(Math.round),
      recallAt10: +recall.toFixed(3),
    };
  })();
}

for (const dim of values.dims.split(',').map(Number)) console.log(JSON.stringify(await measure(dim)));
