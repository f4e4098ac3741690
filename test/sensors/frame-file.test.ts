import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import {
  encodeFrameFile,
  encodeHeader,
  encodeRecord,
  readFrameFileHeader,
  readFrameRecords,
  type FrameFileHeader,
} from '../../src/sensors/formats/frame-file.js';

const dir = mkdtempSync(join(tmpdir(), 'edgebind-ebf-'));
const thermal: FrameFileHeader = {
  version: 1,
  modality: 'thermal',
  unit: 'degC',
  dtype: 'int16',
  scale: 0.01,
  sampleShape: [2, 3],
  rateHz: 4,
};

async function readAll(path: string) {
  const out = [];
  for await (const r of readFrameRecords(path)) out.push({ tMs: r.tMs, n: r.n, data: [...r.data] });
  return out;
}

test('round trip: values come back in native units within the stored precision', async () => {
  const path = join(dir, 't.ebf');
  const a = Float32Array.from([20.5, 21.25, 36.6, -5.01, 0, 100]);
  const b = a.map((x) => x + 1);
  writeFileSync(
    path,
    encodeFrameFile(thermal, [
      { tMs: 0, data: a },
      { tMs: 250, data: b },
    ]),
  );
  const { header } = await readFrameFileHeader(path);
  assert.deepEqual(header.sampleShape, [2, 3]);
  const recs = await readAll(path);
  assert.deepEqual(
    recs.map((r) => [r.tMs, r.n]),
    [
      [0, 1],
      [250, 1],
    ],
  );
  recs[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - a[i]!) < 0.006, `value ${i}`));
  recs[1]!.data.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 0.006, `value ${i}`));
});

test('float32 IMU records with several samples each', async () => {
  const path = join(dir, 'imu.ebf');
  const h: FrameFileHeader = {
    ...thermal,
    modality: 'imu',
    unit: 'm/s2,rad/s',
    dtype: 'float32',
    scale: 1,
    sampleShape: [6],
    rateHz: 100,
  };
  const data = Float32Array.from({ length: 30 }, (_, i) => i * 0.5);
  writeFileSync(path, encodeFrameFile(h, [{ tMs: 0, data }]));
  const [r] = await readAll(path);
  assert.equal(r!.n, 5);
  assert.deepEqual(r!.data, [...data]);
});

test('a truncated last record ends the stream quietly (power loss mid-write)', async () => {
  const path = join(dir, 'cut.ebf');
  const full = Buffer.from(
    encodeFrameFile(thermal, [
      { tMs: 0, data: new Float32Array(6) },
      { tMs: 250, data: new Float32Array(6) },
    ]),
  );
  writeFileSync(path, full.subarray(0, full.length - 3));
  assert.equal((await readAll(path)).length, 1);
});

test('garbage is rejected with the file and what is wrong', async () => {
  const notEbf = join(dir, 'x.ebf');
  writeFileSync(notEbf, 'RIFF1234WAVE');
  await assert.rejects(
    readFrameFileHeader(notEbf),
    (e: unknown) => e instanceof FormatError && /expected magic "EBFRAMES"/.test(e.message),
  );

  const badHeader = join(dir, 'h.ebf');
  const json = Buffer.from(JSON.stringify({ ...thermal, rateHz: -1 }));
  const head = Buffer.alloc(12);
  head.write('EBFRAMES');
  head.writeUInt32LE(json.length, 8);
  writeFileSync(badHeader, Buffer.concat([head, json]));
  await assert.rejects(readFrameFileHeader(badHeader), /header\.rateHz/);

  const badRecord = join(dir, 'r.ebf');
  writeFileSync(badRecord, encodeHeader(thermal));
  const rec = Buffer.from(encodeRecord(thermal, 0, new Float32Array(6)));
  rec.writeUInt32LE(0, 8); // zero samples
  appendFileSync(badRecord, rec);
  await assert.rejects(readAll(badRecord), /r\.ebf@\d+: bad record header/);
});

test('encodeRecord refuses a partial sample', () => {
  assert.throws(() => encodeRecord(thermal, 0, new Float32Array(5)), TypeError);
});
