/**
 * Opens a sensor by its config: the replay driver and the real drivers of issue #6 (ALSA mic,
 * V4L2 depth Z16 and thermal Y16, serial line protocol). To be merged into registry.ts; the I2C
 * drivers are added to the union and the switch the same way.
 */
import { z } from 'zod';
import { ReplaySensorSchema } from '../config/schema.js';
import { resamplerFor } from '../encoders/audio/resample.js';
import { AlsaMicConfigSchema, alsaMicFrames } from './audio/alsa-mic.js';
import type { PcmSource } from './bus/pcm.js';
import type { SerialLink } from './bus/serial.js';
import type { VideoDevice } from './bus/video.js';
import { replayFrames } from './replay/replay.js';
import { SerialLinesConfigSchema, serialLinesFrames } from './serial/line-protocol.js';
import type { FrameSource } from './types.js';
import { DepthZ16ConfigSchema, depthZ16Frames } from './v4l2/depth-z16.js';
import { ThermalY16ConfigSchema, thermalY16Frames } from './v4l2/thermal-y16.js';

/** Every sensor config this module can open, keyed on `driver`. */
export const OpenableSensorSchema = z.discriminatedUnion('driver', [
  ReplaySensorSchema,
  AlsaMicConfigSchema,
  DepthZ16ConfigSchema,
  ThermalY16ConfigSchema,
  SerialLinesConfigSchema,
]);
export type OpenableSensorConfig = z.infer<typeof OpenableSensorSchema>;

/** Bus bindings; each defaults to the real one (arecord, v4l2-ctl, serialport). Tests inject fakes. */
export interface OpenDeps {
  pcm?: PcmSource;
  video?: VideoDevice;
  serial?: SerialLink;
}

/** The frame source for one sensor. A replay `file` must already be absolute (or cwd-relative). */
export function openSensor(config: OpenableSensorConfig, deps: OpenDeps = {}): FrameSource {
  switch (config.driver) {
    case 'replay':
      return (ctx) =>
        replayFrames(
          {
            sensorId: config.id,
            modality: config.modality,
            file: config.file,
            speed: config.speed,
            loop: config.loop,
            clock: ctx.clock,
            resample: (samples, fromHz, toHz) => resamplerFor(fromHz, toHz).process(samples),
          },
          ctx.signal,
        );
    case 'alsa-mic':
      return alsaMicFrames(config, deps.pcm ? { pcm: deps.pcm } : {});
    case 'depth-z16':
      return depthZ16Frames(config, deps.video ? { video: deps.video } : {});
    case 'thermal-y16':
      return thermalY16Frames(config, deps.video ? { video: deps.video } : {});
    case 'serial-lines':
      return serialLinesFrames(config, deps.serial ? { link: deps.serial } : {});
  }
}
