/**
 * The contract every sensor driver follows. A driver turns one device into a stream of Frames in
 * native units; the agent's supervisor restarts it with backoff when the stream throws, and
 * reports its health.
 */
import type { Clock } from '../pipeline/clock.js';
import type { Frame } from '../pipeline/types.js';

/** ok: frames flow; degraded: frames flow but some were rejected or late; down: no frames. */
export type HealthState = 'ok' | 'degraded' | 'down';

export interface SensorHealth {
  state: HealthState;
  /** Why, in a few words, when not ok. */
  reason?: string;
  /** Frames delivered, and frames rejected as garbage, since start. */
  frames: number;
  rejected: number;
  /** Reconnects after unplug or errors. */
  restarts: number;
}

export interface SensorContext {
  clock: Clock;
  signal: AbortSignal;
  /** Drivers report health changes here (the agent logs them and publishes them on `health`). */
  onHealth?: (health: SensorHealth) => void;
}

/**
 * A driver's stream. It yields frames until the signal aborts; it throws a DeviceError
 * (`disconnected: true` for unplug) when the device fails, and the supervisor reopens it.
 * Garbage input is rejected frame by frame (counted in `rejected`), never thrown.
 */
export type FrameSource = (ctx: SensorContext) => AsyncIterable<Frame>;
