// Store candidates for the embedding history (issue #18): write cost, bytes per window and brute-force
// search over N windows, for the README's comparison. A scratch bench, not part of `npm run bench`:
// the candidates are not dependencies, so install them outside the repository first:
//   mkdir -p /tmp/storebench/bs /tmp/storebench/dk /tmp/storebench/run
//   (cd /tmp/storebench/bs && npm init -y && npm install better-sqlite3@12)
//   (cd /tmp/storebench/dk && npm init -y && npm install @duckdb/node-api)
// then: node bench/history-stores.mjs files|sqlite|duckdb DIM N [f32|f16|i8]   (files: the encoding)
// It prints one JSON line; searchCpuMs is the figure to compare on a shared machine. The store
// edgebind uses is measured with its own code by bench/history.ts.
/* global process, Buffer, console */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const [, , which, dimArg, nArg, enc = 'f32'] = process.argv;
const DIM = Number(dimArg),
  N = Number(nArg);
const DIR = `/tmp/storebench/run/${which}-${DIM}-${enc}`;
fs.rmSync(DIR, { recursive: true, force: true });
fs.mkdirSync(DIR, { recursive: true });
// clustered unit vectors: 40 "scenes", each window = centroid + noise
let seed = 1;
const rnd = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
const C = 40;
const cents = Array.from({ length: C }, () => norm(Float32Array.from({ length: DIM }, gauss)));
function norm(v) {
  let s = 0;
  for (const x of v) s += x * x;
  s = 1 / Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i] *= s;
  return v;
}
const q = norm(Float32Array.from(cents[7], (x) => x + (0.5 * gauss()) / Math.sqrt(DIM)));
const POOL = 2048;
const noise = Array.from({ length: POOL }, () =>
  Float32Array.from({ length: DIM }, () => (2.7 * gauss()) / Math.sqrt(DIM)),
);
const truth = new Float32Array(N);
function vec(i, out) {
  const c = cents[((i / 97) | 0) % C];
  const z = noise[(i * 7919) % POOL];
  const w = 0.5 + (i % 13) / 13;
  for (let d = 0; d < DIM; d++) out[d] = c[d] + w * z[d];
  norm(out);
  let a = 0;
  for (let d = 0; d < DIM; d++) a += out[d] * q[d];
  truth[i] = a;
  return out;
}
const K = 10;
function topk(scores) {
  const best = [];
  let min = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const x = scores[i];
    if (best.length < K || x > min) {
      best.push(i);
      best.sort((a, b) => scores[b] - scores[a]);
      if (best.length > K) best.pop();
      min = scores[best[best.length - 1]];
    }
  }
  return best;
}
function cpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
const out = { which, dim: DIM, n: N, enc };
const v = new Float32Array(DIM);
const t0 = Date.now();
if (which === 'files') {
  const META = 32;
  const vb = enc === 'f32' ? DIM * 4 : enc === 'f16' ? DIM * 2 : DIM;
  const REC = META + vb;
  const perSeg = 14400;
  const batch = 4;
  const buf = Buffer.alloc(REC * batch);
  let fd = -1,
    written = 0;
  let tw = performance.now();
  for (let i = 0; i < N; i += batch) {
    if (i % perSeg === 0) {
      if (fd >= 0) fs.closeSync(fd);
      fd = fs.openSync(path.join(DIR, `${i / perSeg}.seg`), 'a');
    }
    for (let b = 0; b < batch; b++) {
      vec(i + b, v);
      const o = b * REC;
      buf.writeDoubleLE(1e12 + i + b, o);
      buf.writeDoubleLE(1e12 + i + b + 2000, o + 8);
      buf.writeUInt16LE(b, o + 16);
      let scale = 1;
      if (enc === 'i8') {
        let m = 0;
        for (const x of v) m = Math.max(m, Math.abs(x));
        scale = m / 127;
        buf.writeFloatLE(scale, o + 20);
      }
      for (let d = 0; d < DIM; d++) {
        if (enc === 'f32') buf.writeFloatLE(v[d], o + META + 4 * d);
        else if (enc === 'i8') buf.writeInt8(Math.round(v[d] / scale), o + META + d);
        else buf.writeUInt16LE(toF16(v[d]), o + META + 2 * d);
      }
    }
    const tws = performance.now();
    fs.writeSync(fd, buf);
    written += performance.now() - tws;
  }
  fs.closeSync(fd);
  out.writeSyscallUsPerWindow = +((written / N) * 1000).toFixed(2);
  out.buildS = +((performance.now() - tw) / 1000).toFixed(1);
  const bytes = fs.readdirSync(DIR).reduce((s, f) => s + fs.statSync(path.join(DIR, f)).size, 0);
  out.bytesPerWindow = bytes / N;
  // search: read every segment, score, keep top K
  const times = [];
  const cpus = [];
  let top;
  const f16tab = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) f16tab[h] = fromF16(h);
  for (let rep = 0; rep < 5; rep++) {
    const ts = performance.now();
    const c0 = cpu();
    const scores = new Float32Array(N);
    let r = 0;
    for (let s = 0; s < Math.ceil(N / perSeg); s++) {
      const b = fs.readFileSync(path.join(DIR, `${s}.seg`));
      const n = b.length / REC;
      if (enc === 'f32') {
        const f = new Float32Array(b.buffer, b.byteOffset, b.length / 4);
        const st = REC / 4;
        for (let k = 0; k < n; k++) {
          let acc = 0;
          const base = k * st + 8;
          for (let d = 0; d < DIM; d++) acc += f[base + d] * q[d];
          scores[r++] = acc;
        }
      } else if (enc === 'i8') {
        const i8 = new Int8Array(b.buffer, b.byteOffset, b.length);
        const dv = new DataView(b.buffer, b.byteOffset);
        for (let k = 0; k < n; k++) {
          let acc = 0;
          const base = k * REC + META;
          for (let d = 0; d < DIM; d++) acc += i8[base + d] * q[d];
          scores[r++] = acc * dv.getFloat32(k * REC + 20, true);
        }
      } else {
        const u = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
        const st = REC / 2;
        for (let k = 0; k < n; k++) {
          let acc = 0;
          const base = k * st + 16;
          for (let d = 0; d < DIM; d++) acc += f16tab[u[base + d]] * q[d];
          scores[r++] = acc;
        }
      }
    }
    top = topk(scores);
    times.push(performance.now() - ts);
    cpus.push(cpu() - c0);
  }
  out.searchMs = times.map((t) => +t.toFixed(0));
  out.searchCpuMs = cpus.map((t) => +t.toFixed(0));
  const exact = topk(truth);
  out.recallAt10 = top.filter((x) => exact.includes(x)).length / K;
} else if (which === 'sqlite') {
  const Database = require('/tmp/storebench/bs/node_modules/better-sqlite3');
  const db = new Database(path.join(DIR, 'h.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'create table w (id integer primary key, sensor integer, modality integer, start_ms real, end_ms real, vec blob)',
  );
  const ins = db.prepare('insert into w (sensor, modality, start_ms, end_ms, vec) values (?,?,?,?,?)');
  const tx = db.transaction((i) => {
    for (let b = 0; b < 4; b++) {
      vec(i + b, v);
      ins.run(b, b, 1e12 + i + b, 1e12 + i + b + 2000, Buffer.from(v.buffer.slice(0)));
    }
  });
  let tw = 0;
  const tb = performance.now();
  for (let i = 0; i < N; i += 4) {
    const a = performance.now();
    tx(i);
    tw += performance.now() - a;
  }
  out.insertUsPerWindow = +((tw / N) * 1000).toFixed(1);
  out.buildS = +((performance.now() - tb) / 1000).toFixed(1);
  db.pragma('wal_checkpoint(TRUNCATE)');
  out.bytesPerWindow = fs.statSync(path.join(DIR, 'h.db')).size / N;
  const sel = db.prepare('select vec from w').raw();
  const times = [];
  const cpus = [];
  let top;
  for (let rep = 0; rep < 3; rep++) {
    const ts = performance.now();
    const c0 = cpu();
    const scores = new Float32Array(N);
    let r = 0;
    for (const [b] of sel.iterate()) {
      const f = new Float32Array(b.buffer, b.byteOffset, DIM);
      let acc = 0;
      for (let d = 0; d < DIM; d++) acc += f[d] * q[d];
      scores[r++] = acc;
    }
    top = topk(scores);
    times.push(performance.now() - ts);
    cpus.push(cpu() - c0);
  }
  out.searchMs = times.map((t) => +t.toFixed(0));
  out.searchCpuMs = cpus.map((t) => +t.toFixed(0));
  const exact = topk(truth);
  out.recallAt10 = top.filter((x) => exact.includes(x)).length / K;
} else if (which === 'duckdb') {
  const { DuckDBInstance, arrayValue, ARRAY, FLOAT } =
    await import('/tmp/storebench/dk/node_modules/@duckdb/node-api/lib/index.js');
  const inst = await DuckDBInstance.create(path.join(DIR, 'h.duckdb'), { threads: '2' });
  const con = await inst.connect();
  await con.run(
    `create table w (sensor integer, modality integer, start_ms double, end_ms double, vec FLOAT[${DIM}])`,
  );
  // per-window write cost with the appender (first 3600 windows), rest bulk-generated in SQL
  const nApp = Math.min(N, 3600);
  const app = await con.createAppender('w');
  const ta = performance.now();
  for (let i = 0; i < nApp; i++) {
    vec(i, v);
    app.appendInteger(i % 4);
    app.appendInteger(i % 4);
    app.appendDouble(1e12 + i);
    app.appendDouble(1e12 + i + 2000);
    app.appendValue(arrayValue(Array.from(v)), ARRAY(FLOAT, DIM));
    app.endRow();
    if (i % 4 === 3) app.flushSync();
  }
  app.closeSync();
  out.appendUsPerWindow = +(((performance.now() - ta) / nApp) * 1000).toFixed(1);
  const tb = performance.now();
  await con.run(
    `insert into w select i % 4, i % 4, 1e12 + i, 1e12 + i + 2000, list_transform(range(${DIM}), x -> (random() - 0.5)::FLOAT)::FLOAT[${DIM}] from range(${nApp}, ${N}) t(i)`,
  );
  await con.run('checkpoint');
  out.bulkS = +((performance.now() - tb) / 1000).toFixed(1);
  out.bytesPerWindow = fs.statSync(path.join(DIR, 'h.duckdb')).size / N;
  const times = [];
  const cpus = [];
  let top;
  const qs = `[${Array.from(q).join(',')}]::FLOAT[${DIM}]`;
  for (let rep = 0; rep < 3; rep++) {
    const ts = performance.now();
    const c0 = cpu();
    const r = await con.runAndReadAll(
      `select rowid, array_inner_product(vec, ${qs}) s from w order by s desc limit ${K}`,
    );
    top = r.getRows().map((x) => Number(x[0]));
    times.push(performance.now() - ts);
    cpus.push(cpu() - c0);
  }
  out.searchMs = times.map((t) => +t.toFixed(0));
  out.searchCpuMs = cpus.map((t) => +t.toFixed(0));
  const exact = topk(truth);
  out.recallAt10 = top.filter((x) => exact.includes(x)).length / K;
}
out.totalS = (Date.now() - t0) / 1000;
console.log(JSON.stringify(out));
function toF16(x) {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const s = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 112;
  const m = u & 0x7fffff;
  if (e <= 0) return s;
  if (e >= 31) return s | 0x7c00;
  let h = s | (e << 10) | (m >>> 13);
  if (m & 0x1000) h++;
  return h;
}
function fromF16(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
