/**
 * Every sensor driver's config schema, keyed on `driver`: the list the config schema's sensor union
 * is built from. Only schemas: the frame-source factory lives in open.ts, so validating a config
 * (`edgebind config check`) opens nothing (issue 16).
 */
import { z } from 'zod';
import { ReplaySensorSchema } from '../config/sensor-base.js';
import { AlsaMicConfigSchema } from './audio/alsa-mic.js';
import { Amg8833ConfigSchema } from './i2c/amg8833.js';
import { Bno055ConfigSchema, Bno055UartConfigSchema } from './i2c/bno055.js';
import { Mlx90640ConfigSchema } from './i2c/mlx90640.js';
import { Mpu6050ConfigSchema } from './i2c/mpu6050.js';
import { SerialLinesConfigSchema } from './serial/line-protocol.js';
import { DepthZ16ConfigSchema } from './v4l2/depth-z16.js';
import { ThermalY16ConfigSchema } from './v4l2/thermal-y16.js';

/** Every sensor config src/sensors/open.ts can open, keyed on `driver`. */
export const SensorConfigSchema = z.discriminatedUnion('driver', [
  ReplaySensorSchema,
  AlsaMicConfigSchema,
  DepthZ16ConfigSchema,
  ThermalY16ConfigSchema,
  SerialLinesConfigSchema,
  Mpu6050ConfigSchema,
  Bno055ConfigSchema,
  Bno055UartConfigSchema,
  Amg8833ConfigSchema,
  Mlx90640ConfigSchema,
]);
export type SensorConfig = z.infer<typeof SensorConfigSchema>;
