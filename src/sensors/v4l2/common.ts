/**
 * What the V4L2 16-bit drivers (depth-z16.ts, thermal-y16.ts) share: the config fields, and a
 * session that turns a VideoDevice's raw little-endian uint16 images into frames `[1, h, w]`,
 * rejecting images whose pixels are mostly implausible (garbage on the wire, a desynchronised
 * stream) one by one.
 */
import { z } from 'zod';
import { DeviceError } from '../../errors.js';
import type { Clock } from '../../pipeline/clock.js';
import type { Frame, SensorModality } from '../../pipeline/types.js';
import { ChildExitError } from '../bus/child.js';
import type { VideoDevice } from '../bus/video.js';
import {
  FRAME_REJECT_RATE,
  SampleTimer,
  reconnectFields,
  reconnectingSource,
  type HealthTracker,
} from '../reconnect.js';
import type { FrameSource } from '../types.js';

export const v4l2Fields = {
  device: z.string().min(1).meta({
    description: 'V4L2 node, e.g. /dev/video2 (see `edgebind sensors probe`). Needs restart.',
  }),
  fps: z
    .number()
    .positive()
    .max(1000)
    .meta({ description: 'Frame rate requested with --set-parm and used as the frame rate, Hz.' }),
  bytesPerLine: z.int().positive().optional().meta({
    description:
      'Bytes per image row when the driver pads rows (v4l2-ctl --get-fmt-video). Default: width × 2.',
  }),
  maxBadPixelFraction: z.number().min(0).max(1).meta({
    description: 'An image with a larger fraction of out-of-range pixels is rejected as garbage.',
  }),
  stallMs: z.int().min(0).max(60_000).default(3000).meta({
    description: 'Restart v4l2-ctl when no bytes arrive for this long, ms (0 = never).',
  }),
  ...reconnectFields,
};

export interface V4l2SessionConfig {
  id: string;
  device: string;
  width: number;
  height: number;
  fps: number;
  bytesPerLine?: number | undefined;
  maxBadPixelFraction: number;
  stallMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export interface V4l2Format {
  modality: SensorModality;
  /** `'Z16 '`, `'Y16 '`. */
  pixelFormat: string;
  /** Converts one raw pixel value to the native unit. */
  convert: (raw: number) => number;
  /**
   * For an implausible value, what to store instead (counted towards maxBadPixelFraction);
   * undefined for a good value.
   */
  replaceBad: (value: number) => number | undefined;
}

export function v4l2Frames(config: V4l2SessionConfig, format: V4l2Format, video: VideoDevice): FrameSource {
  return reconnectingSource({
    sensorId: config.id,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    // Only a missing executable is final; everything else is retried.
    isFatal: (err) => err instanceof DeviceError && !err.disconnected,
    rejectRate: FRAME_REJECT_RATE,
    session: (signal, health, ctx) => session(config, format, video, ctx.clock, health, signal),
  });
}

async function* session(
  config: V4l2SessionConfig,
  format: V4l2Format,
  video: VideoDevice,
  clock: Clock,
  health: HealthTracker,
  signal: AbortSignal,
): AsyncGenerator<Frame> {
  const { width, height } = config;
  const stride = config.bytesPerLine ?? width * 2;
  if (stride < width * 2) throw new TypeError(`bytesPerLine ${stride} < width × 2 (${width * 2})`);
  const maxBad = Math.floor(config.maxBadPixelFraction * width * height);
  const timer = new SampleTimer(clock, config.fps);
  try {
    const images = video.frames(
      {
        device: config.device,
        width,
        height,
        pixelFormat: format.pixelFormat,
        bytesPerLine: stride,
        fps: config.fps,
        stallMs: config.stallMs,
      },
      signal,
    );
    for await (const raw of images) {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const data = new Float32Array(width * height);
      let bad = 0;
      for (let y = 0; y < height; y++) {
        const row = y * stride;
        for (let x = 0; x < width; x++) {
          const v = format.convert(view.getUint16(row + 2 * x, true));
          const fixed = format.replaceBad(v);
          if (fixed !== undefined) bad++;
          data[y * width + x] = fixed ?? v;
        }
      }
      if (bad > maxBad) {
        health.reject(`${bad} of ${width * height} pixels out of range`);
        timer.stamp(1);
        continue;
      }
      health.accept();
      yield {
        sensorId: config.id,
        modality: format.modality,
        tMs: timer.stamp(1),
        rateHz: config.fps,
        data,
        shape: [1, height, width],
      };
    }
  } catch (err) {
    if (err instanceof DeviceError) throw err;
    if (err instanceof ChildExitError && err.info.notFound) {
      throw new DeviceError(
        config.id,
        `${config.id}: v4l2-ctl not found on PATH; install v4l-utils (apt install v4l-utils)`,
        { cause: err },
      );
    }
    const msg = err instanceof Error ? err.message : String(err);
    throw new DeviceError(config.id, `${config.id}: ${config.device}: ${msg}`, {
      disconnected: true,
      cause: err,
    });
  }
}
