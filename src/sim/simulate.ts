/**
 * Renders a scene into synchronised recordings in the replay format (docs/replay-format.md) plus
 * the ground truth (`truth.json`) and the RGB anchor camera (`camera.rgbf`, docs/simulator.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeFrameFile, type FrameFileHeader } from '../sensors/formats/frame-file.js';
import { encodeWav16 } from '../sensors/formats/wav.js';
import { OBSERVED_BY, type SimClass } from './classes.js';
import { SIM_RATES } from './pack-params.js';
import { AUDIO_RATE_HZ, renderAudio } from './render-audio.js';
import { renderDepth, renderRgb, renderThermal } from './render-images.js';
import { renderImu } from './render-imu.js';
import type { Scene } from './scene.js';

export interface StreamRates {
  thermalHz: number;
  depthHz: number;
  imuHz: number;
  rgbHz: number;
}

export interface TruthInterval {
  label: SimClass;
  startS: number;
  endS: number;
  observedBy: readonly string[];
}

export interface Truth {
  scenario: string;
  seed: number;
  durationS: number;
  files: Record<'audio' | 'thermal' | 'depth' | 'imu' | 'camera', string>;
  rates: StreamRates & { audioHz: number };
  events: TruthInterval[];
}

export const TRUTH_FILE = 'truth.json';
const RGB_MAGIC = 'EBRGB001';
export const RGB_SIZE = 32;

/** `camera.rgbf`: magic, u32 width, u32 height, f32 rateHz, u32 frames; per frame f64 tMs + RGB bytes. */
export function encodeRgbFile(
  rateHz: number,
  size: number,
  frames: { tMs: number; rgb: Float32Array }[],
): Buffer {
  const frameBytes = 8 + size * size * 3;
  const buf = Buffer.alloc(24 + frames.length * frameBytes);
  buf.write(RGB_MAGIC, 0, 'ascii');
  buf.writeUInt32LE(size, 8);
  buf.writeUInt32LE(size, 12);
  buf.writeFloatLE(rateHz, 16);
  buf.writeUInt32LE(frames.length, 20);
  frames.forEach((f, i) => {
    const o = 24 + i * frameBytes;
    buf.writeDoubleLE(f.tMs, o);
    const plane = size * size;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) buf[o + 8 + p * 3 + c] = Math.round(f.rgb[c * plane + p]! * 255);
    }
  });
  return buf;
}

function imageFile(
  scene: Scene,
  header: Omit<FrameFileHeader, 'version'>,
  render: (t: number) => Float32Array,
): Buffer {
  const frames = [];
  const count = Math.floor(scene.durationS * header.rateHz);
  for (let f = 0; f < count; f++) {
    const t = f / header.rateHz;
    frames.push({ tMs: t * 1000, data: render(t) });
  }
  return encodeFrameFile({ version: 1, ...header }, frames);
}

export interface WriteSceneOptions {
  rates?: Partial<StreamRates>;
  /** File name prefix, e.g. `room-` for the bundled samples. */
  prefix?: string;
  /** Also write the RGB camera stream (training only; default true). */
  camera?: boolean;
}

/** Writes every stream of `scene` and its truth into `dir`; returns the truth. */
export async function writeScene(scene: Scene, dir: string, opts: WriteSceneOptions = {}): Promise<Truth> {
  const rates: StreamRates = {
    thermalHz: SIM_RATES.thermalHz,
    depthHz: SIM_RATES.depthHz,
    imuHz: SIM_RATES.imuHz,
    rgbHz: SIM_RATES.rgbHz,
    ...opts.rates,
  };
  const p = opts.prefix ?? '';
  const files = {
    audio: `${p}audio.wav`,
    thermal: `${p}thermal.ebf`,
    depth: `${p}depth.ebf`,
    imu: `${p}imu.ebf`,
    camera: `${p}camera.rgbf`,
  };
  await mkdir(dir, { recursive: true });
  const source = `edgebind simulate ${scene.name} seed ${scene.seed}`;
  const audio = renderAudio(scene, 0, scene.durationS);
  await writeFile(join(dir, files.audio), encodeWav16({ sampleRateHz: AUDIO_RATE_HZ, channels: [audio] }));
  await writeFile(
    join(dir, files.thermal),
    imageFile(
      scene,
      {
        modality: 'thermal',
        unit: 'degC',
        dtype: 'int16',
        scale: 0.01,
        sampleShape: [24, 32],
        rateHz: rates.thermalHz,
        source,
      },
      (t) => renderThermal(scene, t),
    ),
  );
  await writeFile(
    join(dir, files.depth),
    imageFile(
      scene,
      {
        modality: 'depth',
        unit: 'mm',
        dtype: 'uint16',
        scale: 1,
        sampleShape: [60, 80],
        rateHz: rates.depthHz,
        source,
      },
      (t) => renderDepth(scene, t),
    ),
  );
  // IMU: records of 0.1 s, as a driver reading the sensor's FIFO would write them.
  const imu = renderImu(scene, 0, scene.durationS, rates.imuHz);
  const per = Math.max(1, Math.round(rates.imuHz / 10));
  const imuRecords = [];
  for (let i = 0; i * 6 < imu.length; i += per) {
    imuRecords.push({
      tMs: (i * 1000) / rates.imuHz,
      data: imu.subarray(i * 6, Math.min(imu.length, (i + per) * 6)),
    });
  }
  await writeFile(
    join(dir, files.imu),
    encodeFrameFile(
      {
        version: 1,
        modality: 'imu',
        unit: 'm/s2,rad/s',
        dtype: 'int16',
        scale: 0.001,
        sampleShape: [6],
        rateHz: rates.imuHz,
        source,
      },
      imuRecords,
    ),
  );
  if (opts.camera ?? true) {
    const frames = [];
    for (let f = 0; f < Math.floor(scene.durationS * rates.rgbHz); f++) {
      const t = f / rates.rgbHz;
      frames.push({ tMs: t * 1000, rgb: renderRgb(scene, t, RGB_SIZE) });
    }
    await writeFile(join(dir, files.camera), encodeRgbFile(rates.rgbHz, RGB_SIZE, frames));
  }
  const truth: Truth = {
    scenario: scene.name,
    seed: scene.seed,
    durationS: scene.durationS,
    files,
    rates: { audioHz: AUDIO_RATE_HZ, ...rates },
    events: scene.events.map((e) => ({
      label: e.cls,
      startS: round3(e.startS),
      endS: round3(e.endS),
      observedBy: OBSERVED_BY[e.cls],
    })),
  };
  await writeFile(join(dir, TRUTH_FILE), `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
