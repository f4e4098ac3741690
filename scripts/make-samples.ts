/**
 * Writes the small bundled sample recordings in samples/ (the demo and tests replay them).
 * A 20 s scripted scene in one room: quiet, then an alarm beeps (4-10 s), a person walks in
 * (8 s onward, warm blob in thermal, near object in depth), a dog barks (12-16 s) and a machine
 * vibrates the device (14-18 s). Deterministic: same bytes on every run.
 *
 *   npx tsx scripts/make-samples.ts [--out samples]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrameFile, type FrameFileHeader } from '../src/sensors/formats/frame-file.js';
import { encodeWav16 } from '../src/sensors/formats/wav.js';

const SECONDS = 20;
const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : 'samples';
mkdirSync(out, { recursive: true });

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

// Audio, 16 kHz mono.
{
  const r = rng(1);
  const rate = 16000;
  const x = new Float32Array(SECONDS * rate);
  for (let i = 0; i < x.length; i++) {
    const t = i / rate;
    let v = 0.004 * gauss(r); // room tone
    if (t >= 4 && t < 10 && t % 0.5 < 0.25) v += 0.3 * Math.sin(2 * Math.PI * 3100 * t); // alarm beeps
    if (t >= 12 && t < 16) {
      const k = (t - 12) % 0.7; // a bark every 0.7 s: a short harmonic burst with falling pitch
      if (k < 0.18) {
        const f0 = 450 - 600 * k;
        const env = Math.sin((Math.PI * k) / 0.18);
        for (let h = 1; h <= 6; h++) v += (0.25 / h) * env * Math.sin(2 * Math.PI * f0 * h * t);
        v += 0.05 * env * gauss(r);
      }
    }
    x[i] = Math.max(-1, Math.min(1, v));
  }
  writeFileSync(join(out, 'room-audio.wav'), encodeWav16({ sampleRateHz: rate, channels: [x] }));
}

function images(
  file: string,
  header: Omit<FrameFileHeader, 'version' | 'scale'> & { scale: number },
  pixel: (x: number, y: number, t: number, r: () => number) => number,
  seed: number,
) {
  const r = rng(seed);
  const [h, w] = header.sampleShape as [number, number];
  const frames = [];
  for (let f = 0; f < SECONDS * header.rateHz; f++) {
    const t = f / header.rateHz;
    const data = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = pixel(x / w, y / h, t, r);
    frames.push({ tMs: t * 1000, data });
  }
  writeFileSync(join(out, file), encodeFrameFile({ version: 1, ...header }, frames));
}

/** Where the walking person is (normalised image x), or undefined before 8 s. */
const personX = (t: number) => (t < 8 ? undefined : Math.min(0.55, 0.05 + 0.12 * (t - 8)));
const inPerson = (x: number, y: number, t: number) => {
  const px = personX(t);
  return px !== undefined && Math.abs(x - px) < 0.08 && y > 0.2 && y < 0.95;
};

images(
  'room-thermal.ebf',
  {
    modality: 'thermal',
    unit: 'degC',
    dtype: 'int16',
    scale: 0.01,
    sampleShape: [24, 32],
    rateHz: 4,
    source: 'samples',
  },
  (x, y, t, r) => {
    let c = 21 + 0.8 * y + 0.1 * gauss(r); // warmer near the floor-heated bottom rows
    if (inPerson(x, y, t)) c = y < 0.35 ? 35 : 31 + 0.2 * gauss(r); // face warmer than clothing
    return c;
  },
  2,
);

images(
  'room-depth.ebf',
  {
    modality: 'depth',
    unit: 'mm',
    dtype: 'uint16',
    scale: 1,
    sampleShape: [60, 80],
    rateHz: 2,
    source: 'samples',
  },
  (x, y, t, r) => {
    if (r() < 0.02) return 0; // invalid pixels, as structured-light sensors report them
    let mm = y > 0.6 ? 4000 - 2500 * (y - 0.6) : 4000; // back wall, floor coming closer
    if (inPerson(x, y, t)) mm = 2200;
    return mm + 8 * gauss(r);
  },
  3,
);

// IMU, 100 Hz, device lying flat: gravity on z; a machine at 30 Hz shakes it from 14 to 18 s.
{
  const r = rng(4);
  const rate = 100;
  const frames = [];
  for (let i = 0; i < SECONDS * rate; i += 10) {
    const data = new Float32Array(10 * 6);
    for (let k = 0; k < 10; k++) {
      const t = (i + k) / rate;
      const shake = t >= 14 && t < 18 ? 1 : 0;
      const s = Math.sin(2 * Math.PI * 30 * t);
      data.set(
        [
          0.02 * gauss(r) + shake * 0.8 * s,
          0.02 * gauss(r) + shake * 0.5 * s,
          9.81 + 0.02 * gauss(r) + shake * 1.2 * s,
          0.002 * gauss(r) + shake * 0.05 * s,
          0.002 * gauss(r),
          0.002 * gauss(r) + shake * 0.03 * s,
        ],
        k * 6,
      );
    }
    frames.push({ tMs: (i * 1000) / rate, data });
  }
  writeFileSync(
    join(out, 'room-imu.ebf'),
    encodeFrameFile(
      {
        version: 1,
        modality: 'imu',
        unit: 'm/s2,rad/s',
        dtype: 'float32',
        scale: 1,
        sampleShape: [6],
        rateHz: rate,
        source: 'samples',
      },
      frames,
    ),
  );
}
console.log(`wrote samples to ${out}/`);
