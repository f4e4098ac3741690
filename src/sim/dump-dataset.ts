/**
 * Dumps simulator samples, preprocessed exactly as the agent does (its own preprocessors, then
 * the pack's fixed average pooling), for the Python trainer:
 *
 *   npx tsx src/sim/dump-dataset.ts --out DIR --seed 1 --per-class 150
 *
 * DIR/audio.f32 [N,64,102], thermal.f32 [N,28,28], depth.f32 [N,56,56], imu.f32 [N,6,500],
 * rgb.f32 [N,3,32,32] (float32 LE), meta.json (classes, labels, preprocessing, pooling, prompts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AudioWindowPreprocessor } from '../encoders/audio/preprocess.js';
import { DepthPreprocessor } from '../encoders/depth/preprocess.js';
import { ImuPreprocessor } from '../encoders/imu/preprocess.js';
import { ThermalPreprocessor } from '../encoders/thermal/preprocess.js';
import { OBSERVED_BY, SIM_CLASSES } from './classes.js';
import { makeSample, samples } from './dataset.js';
import { MINI_PREPROCESS, MINI_WINDOWS, POOL, SIM_RATES, avgPool2d } from './pack-params.js';
import { PROMPTS } from './prompts.js';

export interface DumpOptions {
  out: string;
  seed: number;
  perClass: number;
  log?: (msg: string) => void;
}

export function dumpDataset(opts: DumpOptions): { count: number } {
  const { out, seed, perClass } = opts;
  mkdirSync(out, { recursive: true });
  const P = MINI_PREPROCESS;
  const audioPre = new AudioWindowPreprocessor(
    P.audio,
    (MINI_WINDOWS.audio.lengthMs / 1000) * SIM_RATES.audioHz,
  );
  const thermalPre = new ThermalPreprocessor({ params: P.thermal, sampleShape: [24, 32] });
  const depthPre = new DepthPreprocessor({ params: P.depth, sampleShape: [60, 80] });
  const imuSamples = (MINI_WINDOWS.imu.lengthMs / 1000) * SIM_RATES.imuHz;
  const imuPre = new ImuPreprocessor({ params: P.imu, rateHz: SIM_RATES.imuHz, windowSamples: imuSamples });
  const list = [...samples(seed, perClass)];
  const N = list.length;
  const shapes = {
    audio: [64, 102],
    thermal: [28, 28],
    depth: [56, 56],
    imu: [6, 500],
    rgb: [3, 32, 32],
  };
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const bufs = {
    audio: new Float32Array(N * size(shapes.audio)),
    thermal: new Float32Array(N * size(shapes.thermal)),
    depth: new Float32Array(N * size(shapes.depth)),
    imu: new Float32Array(N * size(shapes.imu)),
    rgb: new Float32Array(N * size(shapes.rgb)),
  };
  const aFull = new Float32Array(audioPre.size);
  const img = new Float32Array(224 * 224);
  const imuFull = new Float32Array(imuPre.outputLength);
  const labels: number[] = [];
  const seeds: number[] = [];
  const t0 = Date.now();
  for (const { cls, seed: s, index } of list) {
    const smp = makeSample(cls, s);
    const w = smp.windows;
    audioPre.process(w.audio.data, aFull, 0);
    // The window is 2 s, so ImageBind's three clips coincide: clip 0 stands for all three.
    avgPool2d(aFull, 0, 128, 204, POOL.audio[0], POOL.audio[1], bufs.audio, index * size(shapes.audio));
    thermalPre.process(w.thermal.data, w.thermal.shape, w.thermal.rateHz, img, 0);
    avgPool2d(img, 0, 224, 224, POOL.thermal[0], POOL.thermal[1], bufs.thermal, index * size(shapes.thermal));
    depthPre.process(w.depth.data, w.depth.shape, w.depth.rateHz, img, 0);
    avgPool2d(img, 0, 224, 224, POOL.depth[0], POOL.depth[1], bufs.depth, index * size(shapes.depth));
    imuPre.process(w.imu.data, w.imu.shape, w.imu.rateHz, imuFull, 0);
    for (let c = 0; c < 6; c++) {
      avgPool2d(
        imuFull,
        c * 2000,
        1,
        2000,
        POOL.imu[0],
        POOL.imu[1],
        bufs.imu,
        index * size(shapes.imu) + c * 500,
      );
    }
    bufs.rgb.set(smp.rgb, index * size(shapes.rgb));
    labels.push(SIM_CLASSES.indexOf(cls));
    seeds.push(s);
    if (opts.log && (index + 1) % 200 === 0)
      opts.log(`${index + 1}/${N} samples (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  for (const [name, buf] of Object.entries(bufs)) {
    writeFileSync(join(out, `${name}.f32`), Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  }
  const meta = {
    count: N,
    seed,
    perClass,
    classes: SIM_CLASSES,
    observedBy: OBSERVED_BY,
    labels,
    seeds,
    shapes,
    pool: POOL,
    preprocess: MINI_PREPROCESS,
    windows: MINI_WINDOWS,
    prompts: PROMPTS,
  };
  writeFileSync(join(out, 'meta.json'), `${JSON.stringify(meta)}\n`);
  return { count: N };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'per-class': { type: 'string', default: '150' },
    },
  });
  if (!values.out) throw new TypeError('--out DIR is required');
  const r = dumpDataset({
    out: values.out,
    seed: Number(values.seed),
    perClass: Number(values['per-class']),
    log: (m) => console.log(m),
  });
  console.log(`wrote ${r.count} samples to ${values.out}`);
}
