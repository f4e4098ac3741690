/**
 * Depth camera over plain V4L2, pixel format Z16 (Intel RealSense D4xx, Orbbec UVC): 16-bit
 * little-endian depth per pixel × `depthScaleMm` → millimetres, 0 = no data (hardware reference §3.3).
 * Frames are `[1, height, width]`. Pixels beyond `maxRangeMm` are marked invalid (0); an image with
 * too many of them is rejected as garbage.
 */
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { createVideoDevice, type VideoDevice } from '../bus/video.js';
import type { FrameSource } from '../types.js';
import { v4l2Fields, v4l2Frames } from './common.js';

export const DepthZ16ConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('depth').default('depth').meta({ description: 'Always depth.' }),
  driver: z.literal('depth-z16'),
  ...v4l2Fields,
  width: z.int().positive().max(4096).default(848).meta({ description: 'Image width, pixels.' }),
  height: z.int().positive().max(4096).default(480).meta({ description: 'Image height, pixels.' }),
  fps: v4l2Fields.fps.default(30),
  depthScaleMm: z.number().positive().max(1000).default(1).meta({
    description:
      'Millimetres per raw unit: 1 for RealSense D400 (default depth units 0.001 m) and Orbbec, 0.1 for D405.',
  }),
  maxRangeMm: z.number().positive().default(20_000).meta({
    description: 'Readings beyond this are treated as invalid (0), millimetres.',
  }),
  maxBadPixelFraction: v4l2Fields.maxBadPixelFraction.default(0.25),
});
export type DepthZ16Config = z.infer<typeof DepthZ16ConfigSchema>;

export interface DepthZ16Deps {
  /** Default: `v4l2-ctl` from PATH. */
  video?: VideoDevice;
}

export function depthZ16Frames(config: DepthZ16Config, deps: DepthZ16Deps = {}): FrameSource {
  const scale = config.depthScaleMm;
  const max = config.maxRangeMm;
  return v4l2Frames(
    config,
    {
      modality: 'depth',
      pixelFormat: 'Z16 ',
      convert: (raw) => raw * scale,
      replaceBad: (mm) => (mm > max ? 0 : undefined),
    },
    deps.video ?? createVideoDevice(),
  );
}
