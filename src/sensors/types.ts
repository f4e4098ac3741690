/**
 * The contract every sensor driver follows. A driver turns one device into a stream of Frames in
 * native units, reconnects by itself when the device goes away (reconnect.ts), and reports its
 * health.
 */
import type { Clock } from '../pipeline/clock.js';
import type { Frame } from '../pipeline/types.js';

/**
 * ok: frames flow; degraded: frames flow but some were rejected or late; down: no frames (starting,
 * or disconnected and being reopened with backoff; `reason` says why).
 */
export type HealthState = 'ok' | 'degraded' | 'down';

export interface SensorHealth {
  state: HealthState;
  /** Why, in a few words, when not ok. */
  reason?: string;
  /** Frames delivered, and frames rejected as garbage, since start. */
  frames: number;
  rejected: number;
  /** Reopens after an unplug or error; every failed attempt of a long outage counts. */
  restarts: number;
}

export interface SensorContext {
  clock: Clock;
  signal: AbortSignal;
  /**
   * Drivers report each change of state or reason here (serial-lines also each rejected line that
   * leaves it ok, with the same state, so the count is current). The agent logs a change, sets the sensor's
   * `edgebind_sensor_up` metric, drops a `down` sensor from fusion at once, and publishes it on
   * `health` (`sensors.<id>`) within about a second (sensors/supervisor.ts).
   */
  onHealth?: (health: SensorHealth) => void;
}

/**
 * A driver's stream. It yields frames until the signal aborts. An unplug or I/O fault never ends
 * it: the driver reports `down`, reopens the device with capped exponential backoff, forever, and
 * frames resume by themselves. It throws a DeviceError (`disconnected: false`) only for what a
 * reopen cannot fix (a missing tool, a wrong chip, bad options); the agent's supervisor logs that
 * and restarts the whole source later. Garbage input is rejected frame by frame (counted in
 * `rejected`), never thrown.
 */
export type FrameSource = (ctx: SensorContext) => AsyncIterable<Frame>;
