/**
 * UVC thermal camera streaming radiometric Y16 over V4L2 (FLIR Lepton 2.5/3.5 on a GroupGets
 * PureThermal board, hardware reference §2.3). With TLinear on, each 16-bit little-endian value is
 * a temperature in centikelvin: °C = value × kelvinPerCount − 273.15 (`kelvinPerCount` 0.01; 0.1
 * when TLinear resolution is 0.1 K). Frames are `[1, height, width]` in °C. Values outside
 * [minC, maxC] count as bad pixels; an image with too many is rejected as garbage.
 */
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { createVideoDevice, type VideoDevice } from '../bus/video.js';
import type { FrameSource } from '../types.js';
import { v4l2Fields, v4l2Frames } from './common.js';

export const ThermalY16ConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('thermal').default('thermal').meta({ description: 'Always thermal.' }),
  driver: z.literal('thermal-y16'),
  ...v4l2Fields,
  width: z
    .int()
    .positive()
    .max(4096)
    .default(160)
    .meta({ description: 'Image width: 160 (Lepton 3.x), 80 (2.x).' }),
  height: z
    .int()
    .positive()
    .max(4096)
    .default(120)
    .meta({ description: 'Image height: 120 (Lepton 3.x), 60 (2.x).' }),
  fps: v4l2Fields.fps.default(9),
  kelvinPerCount: z.number().positive().max(10).default(0.01).meta({
    description: 'Kelvin per Y16 count: 0.01 (TLinear, 0.01 K resolution), 0.1 (0.1 K resolution).',
  }),
  offsetC: z.number().default(-273.15).meta({
    description: '°C = value × kelvinPerCount + offsetC; −273.15 converts kelvin to °C.',
  }),
  minC: z.number().default(-60).meta({ description: 'Lowest plausible temperature, °C.' }),
  maxC: z.number().default(650).meta({ description: 'Highest plausible temperature, °C.' }),
  maxBadPixelFraction: v4l2Fields.maxBadPixelFraction.default(0.02),
});
export type ThermalY16Config = z.infer<typeof ThermalY16ConfigSchema>;

export interface ThermalY16Deps {
  /** Default: `v4l2-ctl` from PATH. */
  video?: VideoDevice;
}

export function thermalY16Frames(config: ThermalY16Config, deps: ThermalY16Deps = {}): FrameSource {
  const { kelvinPerCount: k, offsetC, minC, maxC } = config;
  if (minC >= maxC) throw new TypeError(`${config.id}: minC (${minC}) must be below maxC (${maxC})`);
  return v4l2Frames(
    config,
    {
      modality: 'thermal',
      pixelFormat: 'Y16 ',
      convert: (raw) => raw * k + offsetC,
      // A dead or saturated pixel in an otherwise good image is clamped, never NaN.
      replaceBad: (c) => (c < minC ? minC : c > maxC ? maxC : undefined),
    },
    deps.video ?? createVideoDevice(),
  );
}
