/**
 * The pieces of the config schema that sensor drivers build on. Kept apart from schema.ts so that
 * driver modules (which schema.ts imports for the sensor union) do not import schema.ts back.
 */
import { z } from 'zod';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const id = (what: string) =>
  z.string().regex(ID_PATTERN, `${what}: 1-64 letters, digits, _ or -, starting with a letter or digit`);

export const WindowSchema = z
  .strictObject({
    lengthMs: z.number().positive().max(60_000).meta({ description: 'Window length in milliseconds.' }),
    hopMs: z
      .number()
      .positive()
      .max(60_000)
      .meta({ description: 'Time between window starts in milliseconds; smaller = more windows, more CPU.' }),
  })
  .meta({ description: 'Rolling window cut from the stream.' });

/** Default window per modality: audio and IMU follow ImageBind's clip lengths (2 s, 5 s). */
export const DEFAULT_WINDOWS: Record<SensorModality, { lengthMs: number; hopMs: number }> = {
  audio: { lengthMs: 2000, hopMs: 1000 },
  thermal: { lengthMs: 1000, hopMs: 1000 },
  depth: { lengthMs: 1000, hopMs: 1000 },
  imu: { lengthMs: 5000, hopMs: 1000 },
};

/** Fields every sensor has, whatever its driver; drivers spread this into their own schema. */
export const sensorBase = {
  id: id('sensor id').meta({ description: 'Unique sensor id; appears in events and topics.' }),
  modality: z.enum(SENSOR_MODALITIES).meta({ description: 'What the sensor measures.' }),
  enabled: z.boolean().default(true),
  window: WindowSchema.optional().meta({
    description:
      'Rolling window. Default per modality: audio 2000/1000 ms, thermal and depth 1000/1000 ms, imu 5000/1000 ms.',
  }),
  queueSize: z
    .int()
    .min(1)
    .max(64)
    .default(4)
    .meta({ description: 'Windows waiting for the encoder; when full the oldest is dropped and counted.' }),
};

export const ReplaySensorSchema = z.strictObject({
  ...sensorBase,
  driver: z.literal('replay'),
  file: z.string().min(1).meta({
    description: 'Recording to play: .wav for audio, .ebf frame file otherwise. Relative to the config file.',
  }),
  speed: z
    .number()
    .min(0)
    .max(1000)
    .default(1)
    .meta({ description: '1 = real time, 10 = ten times faster, 0 = as fast as possible.' }),
  loop: z.boolean().default(true).meta({ description: 'Start again at the end of the recording.' }),
});
