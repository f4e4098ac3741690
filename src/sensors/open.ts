/**
 * Opens a sensor by its config: maps `driver` to its frame source. The schemas it accepts are
 * listed once, in schemas.ts, which the config schema also builds its sensor union from.
 */
import { alsaMicFrames } from './audio/alsa-mic.js';
import { realI2cBus, type OpenI2cBus } from './bus/i2c.js';
import { amg8833Frames } from './i2c/amg8833.js';
import { bno055Frames, bno055UartFrames } from './i2c/bno055.js';
import { mlx90640Frames } from './i2c/mlx90640.js';
import { mpu6050Frames } from './i2c/mpu6050.js';
import type { PcmSource } from './bus/pcm.js';
import { createSerialLink, type SerialLink } from './bus/serial.js';
import type { VideoDevice } from './bus/video.js';
import { replayFrames } from './replay/replay.js';
import { SensorConfigSchema, type SensorConfig } from './schemas.js';
import { serialLinesFrames } from './serial/line-protocol.js';
import type { FrameSource } from './types.js';
import { depthZ16Frames } from './v4l2/depth-z16.js';
import { thermalY16Frames } from './v4l2/thermal-y16.js';

/** Every sensor config this module can open, keyed on `driver` (the list is in schemas.ts). */
export const OpenableSensorSchema = SensorConfigSchema;
export type OpenableSensorConfig = SensorConfig;

/** Bus bindings; each defaults to the real one (arecord, v4l2-ctl, serialport). Tests inject fakes. */
export interface OpenDeps {
  pcm?: PcmSource;
  video?: VideoDevice;
  serial?: SerialLink;
  i2c?: OpenI2cBus;
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
    case 'mpu6050':
      return mpu6050Frames(config, { openBus: deps.i2c ?? realI2cBus() });
    case 'bno055':
      return bno055Frames(config, { openBus: deps.i2c ?? realI2cBus() });
    case 'amg8833':
      return amg8833Frames(config, { openBus: deps.i2c ?? realI2cBus() });
    case 'mlx90640':
      return mlx90640Frames(config, { openBus: deps.i2c ?? realI2cBus() });
    case 'bno055-uart': {
      const link = deps.serial ?? createSerialLink();
      return bno055UartFrames(config, {
        openLink: (path, baudRate) => link.open({ path, baudRate }, new AbortController().signal),
      });
    }
  }
}
