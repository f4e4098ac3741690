/**
 * Preprocessing and windowing of the mini pack (models/mini): one source for the training-data
 * dump, the exported manifest (train/export.py copies these from the dump's meta.json) and the
 * evaluation, so training, evaluation and the agent see identical encoder inputs.
 */
import type {
  AudioPreprocess,
  DepthPreprocess,
  ImuPreprocess,
  ThermalPreprocess,
} from '../encoders/manifest.js';
import type { SensorModality } from '../pipeline/types.js';

export const MINI_PREPROCESS: {
  audio: AudioPreprocess;
  thermal: ThermalPreprocess;
  depth: DepthPreprocess;
  imu: ImuPreprocess;
} = {
  audio: {
    sampleRateHz: 16000,
    numMelBins: 128,
    targetLength: 204,
    clipDurationS: 2,
    clipsPerWindow: 3,
    mean: -4.268,
    std: 9.138,
  },
  thermal: {
    size: 224,
    range: { mode: 'fixed', minC: 10, maxC: 50 },
    reduce: 'last',
    interpolation: 'bicubic',
  },
  depth: {
    size: 224,
    focalLengthPx: 518.857901,
    baselineM: 0.075,
    minDisparity: 0.01,
    maxDisparity: 75,
    mean: 0.0418,
    std: 0.0295,
    reduce: 'last',
    fillInvalid: 'nearest',
    interpolation: 'bicubic',
  },
  imu: { sampleRateHz: 400, samples: 2000, accelScale: 0.1, gyroScale: 1 },
};

/** Windows the pack was trained on (and the demo config uses). */
export const MINI_WINDOWS: Record<SensorModality, { lengthMs: number; hopMs: number }> = {
  audio: { lengthMs: 2000, hopMs: 1000 },
  thermal: { lengthMs: 1000, hopMs: 1000 },
  depth: { lengthMs: 1000, hopMs: 1000 },
  imu: { lengthMs: 5000, hopMs: 1000 },
};

/**
 * Non-overlapping average pooling the exported encoders apply first. The training dump stores
 * the pooled tensors (the same arithmetic), which keeps it small.
 */
export const POOL = { audio: [2, 2], thermal: [8, 8], depth: [4, 4], imu: [1, 4] } as const;

/** Sensor rates the simulator renders at by default. */
export const SIM_RATES = { audioHz: 16000, thermalHz: 4, depthHz: 5, imuHz: 100, rgbHz: 2 } as const;

/** Mean-pools a `[h, w]` plane by `[ph, pw]` into `out` at `offset`; returns the pooled size. */
export function avgPool2d(
  src: Float32Array,
  srcOffset: number,
  h: number,
  w: number,
  ph: number,
  pw: number,
  out: Float32Array,
  offset: number,
): number {
  const oh = Math.floor(h / ph);
  const ow = Math.floor(w / pw);
  const inv = 1 / (ph * pw);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let dy = 0; dy < ph; dy++) {
        const row = srcOffset + (y * ph + dy) * w + x * pw;
        for (let dx = 0; dx < pw; dx++) s += src[row + dx]!;
      }
      out[offset + y * ow + x] = s * inv;
    }
  }
  return oh * ow;
}
