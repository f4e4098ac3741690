/**
 * What the agent knows about each sensor's health: its state machine (ok, degraded, down) and its
 * counters, stitched across the sources the supervisor replaces. Drivers report changes through
 * `onHealth` (an unplugged device is reported `down` and retried, it does not throw); replays
 * report nothing and count as ok once frames flow. The encode loop adds what only it sees: an
 * encoder that fails, or embeds a window to NaN.
 */
import type { Logger } from 'pino';
import { printable } from '../printable.js';
import type { SensorModality } from '../pipeline/types.js';
import type { HealthState, SensorHealth } from './types.js';

/** One sensor's entry in the `sensors` map of the health message (mqtt/payloads.ts). */
export interface SensorStatus {
  state: HealthState;
  reason?: string;
  modality: SensorModality;
  frames: number;
  rejected: number;
  restarts: number;
  nonFinite?: number;
  fused: boolean;
}

export interface SensorBooksOptions {
  sensors: readonly { id: string; modality: SensorModality }[];
  logger: Logger;
  /**
   * Called on every change of state or reason, after the books changed. The agent drops a `down`
   * sensor from fusion here, and on a change of state updates the metric and publishes health.
   */
  onChange?: (sensorId: string, state: HealthState, prev: HealthState) => void;
}

interface Book {
  modality: SensorModality;
  state: HealthState;
  reason: string | undefined;
  /** Frames delivered since start, counted here (a report's count is as of its state change). */
  frames: number;
  /** The running source's counters, from its last report. */
  rejected: number;
  restarts: number;
  /** Counters of sources the supervisor replaced after they threw, plus one restart per throw. */
  pastRejected: number;
  pastRestarts: number;
  /** Windows dropped because their embedding had NaN or ±Infinity. */
  nonFinite: number;
}

export class SensorBooks {
  private readonly books = new Map<string, Book>();

  constructor(private readonly opts: SensorBooksOptions) {
    for (const s of opts.sensors)
      this.books.set(s.id, {
        modality: s.modality,
        state: 'down',
        reason: 'starting',
        frames: 0,
        rejected: 0,
        restarts: 0,
        pastRejected: 0,
        pastRestarts: 0,
        nonFinite: 0,
      });
  }

  /** Moves a sensor to `state`; logs the transitions people care about unless `logIt` is false. */
  set(sensorId: string, state: HealthState, rawReason: string | undefined, logIt = true): void {
    const b = this.book(sensorId);
    // Reasons may quote device bytes: escaped and bounded before they reach health or the log.
    const reason = rawReason === undefined ? undefined : printable(rawReason);
    const prev = b.state;
    const prevReason = b.reason;
    if (state === prev && reason === prevReason) return;
    b.state = state;
    b.reason = reason;
    if (logIt) this.logChange(sensorId, b, prev, prevReason);
    this.opts.onChange?.(sensorId, state, prev);
  }

  /** A driver's report: its counters are as of the change it reports. */
  report(sensorId: string, h: SensorHealth): void {
    const b = this.book(sensorId);
    b.rejected = h.rejected;
    b.restarts = h.restarts;
    this.set(sensorId, h.state, h.reason);
  }

  /** A frame arrived: a replay, or a restarted source, is up with its first frame. */
  frame(sensorId: string): void {
    const b = this.book(sensorId);
    b.frames++;
    if (b.state === 'down') this.set(sensorId, 'ok', undefined);
  }

  /**
   * The source threw and will be replaced: the next one starts its counters at zero, so keep this
   * one's, plus this restart. Reported `down` with the error, not logged (the supervisor does).
   */
  sourceFailed(sensorId: string, message: string): void {
    const b = this.book(sensorId);
    b.pastRejected += b.rejected;
    b.pastRestarts += b.restarts + 1;
    b.rejected = 0;
    b.restarts = 0;
    this.set(sensorId, 'down', message, false);
  }

  /** The encoder failed on a window of this sensor: degraded until its windows embed again. */
  encoderFailed(sensorId: string, message: string): void {
    if (this.books.get(sensorId)?.state !== 'down')
      this.set(sensorId, 'degraded', `encoder failed: ${message}`.slice(0, 200), false);
  }

  /** A window's embedding was not finite and was dropped; returns the count so far (0: unknown). */
  nonFinite(sensorId: string): number {
    const b = this.books.get(sensorId);
    if (!b) return 0;
    b.nonFinite++;
    if (b.state !== 'down')
      this.set(sensorId, 'degraded', `encoder output not finite (${b.nonFinite} windows dropped)`, false);
    return b.nonFinite;
  }

  /** A window embedded: a sensor degraded by its encoder is ok again. */
  embedded(sensorId: string): void {
    const b = this.books.get(sensorId);
    if (b?.state === 'degraded' && b.reason?.startsWith('encoder ')) this.set(sensorId, 'ok', undefined);
  }

  isDown(sensorId: string): boolean {
    return this.books.get(sensorId)?.state === 'down';
  }

  /** Every sensor's entry for the health message; `fused` lists those fusion counts now. */
  status(fused: Iterable<string>): Record<string, SensorStatus> {
    const fresh = new Set(fused);
    return Object.fromEntries(
      [...this.books].map(([id, b]) => [
        id,
        {
          state: b.state,
          ...(b.reason !== undefined ? { reason: b.reason } : {}),
          modality: b.modality,
          frames: b.frames,
          rejected: b.pastRejected + b.rejected,
          restarts: b.pastRestarts + b.restarts,
          ...(b.nonFinite > 0 ? { nonFinite: b.nonFinite } : {}),
          fused: fresh.has(id),
        },
      ]),
    );
  }

  private book(sensorId: string): Book {
    const b = this.books.get(sensorId);
    if (!b) throw new TypeError(`unknown sensor "${sensorId}"`);
    return b;
  }

  private logChange(id: string, b: Book, prev: HealthState, prevReason: string | undefined): void {
    const { state, reason } = b;
    const log = this.opts.logger;
    const fields = { sensor: id, state, reason, restarts: b.pastRestarts + b.restarts };
    if (state === 'down' && (prev !== 'down' || prevReason === 'starting'))
      log.warn(fields, `sensor ${id} down: ${reason ?? 'no reason given'}`);
    else if (prev === 'down' && state !== 'down')
      log.info(
        fields,
        prevReason === 'starting' ? `sensor ${id} up` : `sensor ${id} back (was down: ${prevReason})`,
      );
    else if (state === 'degraded' && prev === 'ok')
      log.info(fields, `sensor ${id} degraded: ${reason ?? 'frames rejected'}`);
    else log.debug(fields, `sensor ${id} ${state}${reason ? `: ${reason}` : ''}`);
  }
}
