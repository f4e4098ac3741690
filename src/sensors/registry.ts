/** Maps a sensor's configured `driver` to the source of its frames (see open.ts). */
import type { SensorConfig } from '../config/schema.js';
import type { Frame } from '../pipeline/types.js';
import { openSensor } from './open.js';
import type { SensorContext } from './types.js';

export function sensorFrames(sensor: SensorConfig, ctx: SensorContext): AsyncIterable<Frame> {
  return openSensor(sensor)(ctx);
}
