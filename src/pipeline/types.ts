/**
 * The messages that flow through the pipeline:
 * sensors → Frame → windows → Window → encoders → Embedding → fusion → Scored → tracker → LabelEvent → MQTT.
 */

export const SENSOR_MODALITIES = ['audio', 'thermal', 'depth', 'imu'] as const;
export type SensorModality = (typeof SENSOR_MODALITIES)[number];
export type Modality = SensorModality | 'text';

/**
 * A chunk of `shape[0]` consecutive samples from one sensor, each sample of shape `shape.slice(1)`:
 * - audio: `[n]` mono PCM in [-1, 1], or `[n, channels]` interleaved from a multi-channel replay
 * - imu: `[n, 6]` accel x,y,z in m/s², gyro x,y,z in rad/s
 * - thermal: `[n, h, w]` degrees C
 * - depth: `[n, h, w]` millimetres, 0 = invalid
 */
export interface Frame {
  readonly sensorId: string;
  readonly modality: SensorModality;
  /** Monotonic time of the first sample, milliseconds (see clock.ts). */
  readonly tMs: number;
  /** Samples (or images) per second. */
  readonly rateHz: number;
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A fixed-length slice of a sensor's stream, cut every hop. Never changed once yielded. */
export interface Window {
  readonly sensorId: string;
  readonly modality: SensorModality;
  /** Per-sensor window counter, starting at 0. */
  readonly seq: number;
  /** Monotonic start and end, milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
  /** Wall-clock start and end, Unix epoch milliseconds. */
  readonly startWallMs: number;
  readonly endWallMs: number;
  readonly rateHz: number;
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** A window's embedding, L2-normalised (unit length). */
export interface Embedding {
  readonly window: Window;
  readonly vector: Float32Array;
  /** Execution provider that produced it, e.g. `cpu`, `cuda`. */
  readonly provider: string;
}

/** Per-label scores for one window (or one fused group of windows). */
export interface Scored {
  readonly tMs: number;
  readonly wallMs: number;
  /** Modalities whose windows contributed, with their sensor ids. */
  readonly contributions: readonly { sensorId: string; modality: SensorModality; score: number }[];
  /** `scores[i]` belongs to `labels[i]` of the active label set. */
  readonly labels: readonly string[];
  readonly scores: Float32Array;
  /** Raw cosine similarities, same order. */
  readonly cosines: Float32Array;
}

export type LabelEventType = 'start' | 'update' | 'end';

/**
 * Why an event ended: `belowThreshold` (endWindows windows in a row under the off-threshold),
 * `unseen` (nothing matching for unseenMs), `maxDuration` (cut at maxDurationMs), `labelRemoved`
 * (its label was removed or replaced by a reload or request), `stopped` (the agent stopped or
 * every sensor ended; the score is then the last one seen, the event was still on).
 */
export const END_REASONS = ['belowThreshold', 'unseen', 'maxDuration', 'labelRemoved', 'stopped'] as const;
export type EndReason = (typeof END_REASONS)[number];

export interface LabelEvent {
  readonly id: string;
  readonly type: LabelEventType;
  readonly label: string;
  readonly score: number;
  readonly peakScore: number;
  readonly modalities: readonly SensorModality[];
  readonly sensors: readonly string[];
  /** ISO-8601 wall times. */
  readonly startTime: string;
  readonly endTime: string | null;
  /** Why it ended; null on start and update. */
  readonly endReason: EndReason | null;
  readonly timestamp: string;
  readonly windows: number;
}
