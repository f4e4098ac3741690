/**
 * The clip writers (issue #18): WAV header fields and samples, PNG structure read back by hand
 * (signature, IHDR, tEXt, IDAT inflated with node:zlib) and by fast-png, IMU CSV rows, the key
 * frame and the contact sheet's frames.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { decode } from 'fast-png';
import {
  encodeWav,
  heatMapPng,
  heatRange,
  IMU_CSV_HEADER,
  imuCsv,
  inferno,
  keyFrame,
  sheetFrames,
} from '../../src/clips/media.js';
import type { RingSpan } from '../../src/clips/ring.js';

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

test('WAV: RIFF header of 16-bit PCM mono at the sensor rate; channels averaged, clipped', () => {
  const data = new Float32Array([0.5, 0.5, -1, -0.5, 2, 2, 0, 0]); // 4 samples × 2 channels
  const wav = encodeWav({ data, samples: 4, fromWallMs: T0, rateHz: 16_000, sampleShape: [2] });
  assert.equal(wav.length, 44 + 8);
  assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
  assert.equal(wav.readUInt32LE(4), 36 + 8);
  assert.equal(wav.toString('ascii', 8, 16), 'WAVEfmt ');
  assert.equal(wav.readUInt32LE(16), 16);
  assert.equal(wav.readUInt16LE(20), 1, 'PCM');
  assert.equal(wav.readUInt16LE(22), 1, 'mono');
  assert.equal(wav.readUInt32LE(24), 16_000);
  assert.equal(wav.readUInt32LE(28), 32_000);
  assert.equal(wav.readUInt16LE(32), 2);
  assert.equal(wav.readUInt16LE(34), 16);
  assert.equal(wav.toString('ascii', 36, 40), 'data');
  assert.equal(wav.readUInt32LE(40), 8);
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => wav.readInt16LE(44 + i * 2)),
    [16384, -24575, 32767, 0],
  );
});

test('IMU CSV: header, then t (s from the event start) and six values a row', () => {
  const data = new Float32Array([0.1, 0.2, 9.81, 0.01, 0.02, 0.03, 1, 2, 3, 4, 5, 6]);
  const csv = imuCsv({ data, samples: 2, fromWallMs: T0 - 10, rateHz: 100, sampleShape: [6] }, T0);
  const lines = csv.trimEnd().split('\n');
  assert.equal(lines[0], IMU_CSV_HEADER);
  assert.equal(IMU_CSV_HEADER, 't,ax,ay,az,gx,gy,gz');
  assert.equal(lines[1], '-0.010,0.1,0.2,9.81,0.01,0.02,0.03');
  assert.equal(lines[2], '0.000,1,2,3,4,5,6');
  assert.equal(lines.length, 3);
});

/** PNG chunks by hand: [type, data]. */
function chunks(png: Uint8Array): [string, Buffer][] {
  const b = Buffer.from(png);
  const out: [string, Buffer][] = [];
  for (let off = 8; off < b.length;) {
    const len = b.readUInt32BE(off);
    out.push([b.toString('ascii', off + 4, off + 8), b.subarray(off + 8, off + 8 + len)]);
    off += 12 + len;
  }
  return out;
}

function thermalSpan(frames: number, h = 24, w = 32): RingSpan {
  const data = new Float32Array(frames * h * w).fill(20);
  // Frame 3 has a hot spot: the key frame once the event starts at frame 2.
  for (let y = 5; y < 10; y++) for (let x = 5; x < 10; x++) data[3 * h * w + y * w + x] = 36;
  return { data, samples: frames, fromWallMs: T0, rateHz: 2, sampleShape: [h, w] };
}

test('PNG heat map: signature, IHDR size, tEXt range, IDAT inflates to the coloured pixels', () => {
  const span = thermalSpan(6);
  const range = heatRange(span, 'thermal');
  assert.deepEqual(range, { min: 20, max: 36, unit: '°C' });
  const key = keyFrame(span, T0 + 1000, T0 + 3000); // frames 2..6 at 2 Hz
  assert.equal(key, 3);
  const png = heatMapPng(span, [key], {
    range,
    modality: 'thermal',
    tilePx: 320,
    columns: 1,
    text: { Range: '20 36 °C' },
  });
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const cs = chunks(png);
  assert.equal(cs[0]![0], 'IHDR');
  const ihdr = cs[0]![1];
  assert.equal(ihdr.readUInt32BE(0), 320); // 32 × 10
  assert.equal(ihdr.readUInt32BE(4), 240);
  assert.equal(ihdr[8], 8, 'bit depth');
  assert.equal(ihdr[9], 2, 'RGB');
  const text = cs.find(([t]) => t === 'tEXt')![1];
  assert.equal(text.toString('latin1'), 'Range\u000020 36 °C');
  const raw = inflateSync(Buffer.concat(cs.filter(([t]) => t === 'IDAT').map(([, d]) => d)));
  const stride = 1 + 320 * 3;
  assert.equal(raw.length, 240 * stride);
  // fast-png reads it back: cold pixels are inferno's bottom, the hot spot its top.
  const img = decode(png);
  assert.equal(img.width, 320);
  assert.equal(img.channels, 3);
  const px = (x: number, y: number) => [...img.data.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3)];
  assert.deepEqual(px(0, 0), inferno(0));
  assert.deepEqual(px(75, 75), inferno(1));
  assert.equal(img.text.Range, '20 36 °C');
  // matplotlib's ends are (0, 0, 4) and (252, 255, 164); the fit is within a few levels.
  assert.deepEqual(inferno(0), [0, 0, 0]);
  assert.deepEqual(inferno(1), [250, 255, 168]);
  assert.deepEqual(inferno(0.5), [186, 54, 81]); // matplotlib (188, 55, 84)
});

test('contact sheet: up to 12 frames evenly spread in a grid; depth 0 is grey and out of the range', () => {
  assert.deepEqual(sheetFrames(5), [0, 1, 2, 3, 4]);
  const picked = sheetFrames(100);
  assert.equal(picked.length, 12);
  assert.equal(picked[0], 0);
  assert.equal(picked.at(-1), 99);
  const h = 60;
  const w = 80;
  const data = new Float32Array(5 * h * w).fill(1500);
  data[0] = 0;
  data[1] = 3000;
  const span: RingSpan = { data, samples: 5, fromWallMs: T0, rateHz: 1, sampleShape: [h, w] };
  const range = heatRange(span, 'depth');
  assert.deepEqual(range, { min: 1500, max: 3000, unit: 'mm' });
  const png = heatMapPng(span, sheetFrames(5), {
    range,
    modality: 'depth',
    tilePx: 128,
    columns: 4,
    text: {},
  });
  const img = decode(png);
  // 4 columns of 128×96 tiles, 2 rows, 2 px apart.
  assert.equal(img.width, 4 * 128 + 3 * 2);
  assert.equal(img.height, 2 * 96 + 2);
  assert.deepEqual([...img.data.subarray(0, 3)], [128, 128, 128]);
  assert.deepEqual([...img.data.subarray(3 * 2, 3 * 2 + 3)], inferno(1));
  assert.deepEqual([...img.data.subarray(3 * 300, 3 * 300 + 3)], inferno(0));
});
