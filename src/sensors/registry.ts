/** Maps a sensor's configured `driver` to the source of its frames. */
import type { SensorConfig } from '../config/schema.js';
import { resamplerFor } from '../encoders/audio/resample.js';
import type { Frame } from '../pipeline/types.js';
import { replayFrames } from './replay/replay.js';
import type { SensorContext } from './types.js';

export function sensorFrames(sensor: SensorConfig, ctx: SensorContext): AsyncIterable<Frame> {
  switch (sensor.driver) {
    case 'replay':
      return replayFrames(
        {
          sensorId: sensor.id,
          modality: sensor.modality,
          file: sensor.file,
          speed: sensor.speed,
          loop: sensor.loop,
          clock: ctx.clock,
          resample: (samples, fromHz, toHz) => resamplerFor(fromHz, toHz).process(samples),
        },
        ctx.signal,
      );
  }
}
