/**
 * Shared driver plumbing: health bookkeeping, reconnect with backoff, and sample timestamps taken
 * from the injected clock. Every hardware driver reconnects through `reconnecting` (ALSA, V4L2 and
 * serial directly, the I2C chips and the BNO055 UART through i2c/runner.ts), so there is one
 * contract: a device that goes away is retried forever with capped exponential backoff, reported
 * `down` (with the reason and a `restarts` count) meanwhile, and streams again by itself. Only
 * errors that retrying cannot fix (a missing executable, a wrong chip, bad options) end the stream.
 */
import { z } from 'zod';
import { DeviceError } from '../errors.js';
import { sleep, type Clock } from '../pipeline/clock.js';
import type { Frame } from '../pipeline/types.js';
import type { FrameSource, HealthState, SensorContext, SensorHealth } from './types.js';

/** Config fields every reconnecting driver has. Spread into a driver's schema. */
export const reconnectFields = {
  reconnectMinMs: z
    .int()
    .min(10)
    .max(60_000)
    .default(100)
    .meta({ description: 'First delay before reopening a failed device, ms; doubles per failure.' }),
  reconnectMaxMs: z.int().min(10).max(60_000).default(1000).meta({
    description:
      'Longest delay between reopen attempts, ms. Keep it ≤ 1000 so a replugged device is back within 2 s.',
  }),
};

/**
 * A reject-rate rule with hysteresis, for streams where an occasional bad item is normal (a serial
 * line in a few hundred, issue 17 item 12): over the last `windowItems` items (accepted and
 * rejected alike), `degradedAt` rejections make an ok sensor degraded, and a degraded one is ok
 * again once at most `okAt` remain. Between the two the state stays as it is, so a steady low
 * error rate never flaps.
 */
export interface RejectRateRule {
  windowItems: number;
  degradedAt: number;
  okAt: number;
}

/**
 * When a camera or an I2C chip counts as degraded: 3 rejected frames among its last 100; ok again
 * at 1 or none. A lone bad frame (bus noise, one torn image) is not a fault, and a thermal array
 * at 4 Hz must not flap between ok and degraded on it, as a serial board must not on one bad line.
 */
export const FRAME_REJECT_RATE: RejectRateRule = { windowItems: 100, degradedAt: 3, okAt: 1 };

/**
 * Counts frames, rejections and restarts; calls `onHealth` whenever the state or reason changes
 * (and, with a reject-rate rule, on each rejection that leaves it ok, for the count).
 * Without a `RejectRateRule` one rejection makes the sensor degraded and `okAfterFrames` good
 * frames in a row make it ok; with one, the driver reports each accepted item (`accept`) and the
 * rule decides.
 */
export class HealthTracker {
  private readonly h: SensorHealth = {
    state: 'down',
    reason: 'starting',
    frames: 0,
    rejected: 0,
    restarts: 0,
  };
  private goodSinceReject = Number.POSITIVE_INFINITY;
  /** The rule's last `windowItems` outcomes, 1 = rejected; allocated once. */
  private readonly ring: Uint8Array;
  private ringAt = 0;
  private ringFill = 0;
  private ringRejects = 0;

  constructor(
    private readonly onHealth: ((health: SensorHealth) => void) | undefined,
    /** Consecutive good frames after a rejection before the state returns to ok (no rule). */
    private readonly okAfterFrames = 10,
    private readonly rule?: RejectRateRule,
  ) {
    if (rule && !(rule.okAt < rule.degradedAt && rule.degradedAt <= rule.windowItems))
      throw new TypeError('RejectRateRule needs okAt < degradedAt <= windowItems');
    this.ring = new Uint8Array(rule?.windowItems ?? 0);
  }

  snapshot(): SensorHealth {
    return { ...this.h };
  }

  frame(): void {
    this.h.frames++;
    if (!this.rule) this.goodSinceReject++;
    if (
      this.h.state === 'down' ||
      (!this.rule && this.h.state === 'degraded' && this.goodSinceReject >= this.okAfterFrames)
    )
      this.set('ok', undefined);
  }

  /** An item (a serial line) passed validation; only a `RejectRateRule` counts these. */
  accept(): void {
    if (!this.rule) return;
    this.push(0);
    if (this.h.state === 'degraded' && this.ringRejects <= this.rule.okAt) this.set('ok', undefined);
  }

  reject(reason: string): void {
    this.h.rejected++;
    if (!this.rule) {
      this.goodSinceReject = 0;
      if (this.h.state !== 'down') this.set('degraded', reason, true);
      return;
    }
    this.push(1);
    // Degraded keeps the reason it entered with: a new one per bad line would be a health message
    // per bad line.
    if (this.h.state === 'ok' && this.ringRejects >= this.rule.degradedAt)
      this.set('degraded', `${this.ringRejects} of the last ${this.ringFill} rejected, latest: ${reason}`);
    // Below the rule nothing changes, but health must still count it (it read 0 until the next
    // change): the same state again, which the agent neither logs nor publishes as a change.
    else if (this.h.state === 'ok') this.onHealth?.(this.snapshot());
  }

  down(reason: string): void {
    // A reopened device starts with a clean record.
    this.ring.fill(0);
    this.ringAt = this.ringFill = this.ringRejects = 0;
    this.set('down', reason);
  }

  restart(): void {
    this.h.restarts++;
  }

  private push(bad: 0 | 1): void {
    const n = this.ring.length;
    if (this.ringFill === n) this.ringRejects -= this.ring[this.ringAt]!;
    else this.ringFill++;
    this.ring[this.ringAt] = bad;
    this.ringRejects += bad;
    this.ringAt = (this.ringAt + 1) % n;
  }

  private set(state: HealthState, reason: string | undefined, always = false): void {
    if (!always && state === this.h.state && reason === this.h.reason) return;
    const changed = state !== this.h.state || reason !== this.h.reason;
    this.h.state = state;
    this.h.reason = reason;
    if (reason === undefined) delete this.h.reason;
    if (changed) this.onHealth?.(this.snapshot());
  }
}

/**
 * Capped exponential backoff: `minMs`, doubling per failure, never above `maxMs`. No jitter: each
 * agent owns its devices, so there is no fleet of clients to de-synchronise.
 */
export class Backoff {
  private nextMs: number;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.nextMs = Math.min(minMs, maxMs);
  }

  /** The delay before the next attempt; doubles the one after it, up to `maxMs`. */
  next(): number {
    const ms = this.nextMs;
    this.nextMs = Math.min(this.maxMs, ms * 2);
    return ms;
  }

  /** Back to `minMs`, after an attempt that worked. */
  reset(): void {
    this.nextMs = Math.min(this.minMs, this.maxMs);
  }
}

export interface ReconnectOptions {
  sensorId: string;
  ctx: SensorContext;
  health: HealthTracker;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Opens the device once and yields its frames; ends or throws when the device goes away. */
  session: (signal: AbortSignal) => AsyncIterable<Frame>;
  /** Errors that retrying cannot fix (a missing executable): thrown out of the source instead. */
  isFatal?: (err: unknown) => boolean;
}

/**
 * Runs `session` again and again until the signal aborts: after an unplug, an error or an
 * unexpected end it counts a restart, reports `down` with the reason, waits (min → doubling →
 * max) and reopens, forever. The delay resets once a session delivers a frame, so a replugged
 * device is back within `reconnectMaxMs` plus its open time.
 */
export async function* reconnecting(opts: ReconnectOptions): AsyncGenerator<Frame> {
  const { ctx, health } = opts;
  const backoff = new Backoff(opts.reconnectMinMs, opts.reconnectMaxMs);
  while (!ctx.signal.aborted) {
    let gotFrame = false;
    try {
      for await (const frame of opts.session(ctx.signal)) {
        if (ctx.signal.aborted) return;
        gotFrame = true;
        health.frame();
        yield frame;
      }
      if (ctx.signal.aborted) return;
      health.restart();
      health.down('device stream ended');
    } catch (err) {
      if (ctx.signal.aborted) return;
      if (opts.isFatal?.(err)) {
        health.down(reasonOf(err, opts.sensorId));
        throw err instanceof DeviceError
          ? err
          : new DeviceError(opts.sensorId, messageOf(err), { cause: err });
      }
      // Counted before `down` is reported, so that report already carries the restart.
      health.restart();
      health.down(reasonOf(err, opts.sensorId));
    }
    if (gotFrame) backoff.reset();
    try {
      await sleep(backoff.next(), ctx.signal);
    } catch {
      return;
    }
  }
}

/** What `reconnectingSource` needs: a driver's identity, backoff and one session of its device. */
export interface ReconnectingSourceOptions {
  sensorId: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Consecutive good frames after a rejection before health returns to ok. Default 10. */
  okAfterFrames?: number | undefined;
  /** A reject-rate rule instead (the driver then calls `health.accept()` per good item). */
  rejectRate?: RejectRateRule | undefined;
  isFatal?: (err: unknown) => boolean;
  /** One open of the device; `health` takes its rejected frames. */
  session: (signal: AbortSignal, health: HealthTracker, ctx: SensorContext) => AsyncIterable<Frame>;
}

/** A driver's FrameSource: a HealthTracker on `ctx.onHealth` and `session` run by `reconnecting`. */
export function reconnectingSource(opts: ReconnectingSourceOptions): FrameSource {
  return (ctx) => {
    const health = new HealthTracker(ctx.onHealth, opts.okAfterFrames, opts.rejectRate);
    return reconnecting({
      sensorId: opts.sensorId,
      ctx,
      health,
      reconnectMinMs: opts.reconnectMinMs,
      reconnectMaxMs: opts.reconnectMaxMs,
      isFatal: opts.isFatal,
      session: (signal) => opts.session(signal, health, ctx),
    });
  };
}

/**
 * A health reason from an error: its message without a leading `<sensorId>: `, which health and
 * the log already say (issue 17 item 12: "board: board: …").
 */
export function reasonOf(err: unknown, sensorId: string): string {
  const m = messageOf(err);
  return m.startsWith(`${sensorId}: `) ? m.slice(sensorId.length + 2) : m;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Monotonic time of each sample: counted from the first sample of a session at the nominal rate,
 * so windows see a continuous stream. Re-anchored to the clock when the count runs ahead of arrival
 * time by more than `aheadMs` (the device is slower than nominal), or falls behind it by more than
 * `maxLagMs` (samples lost, or a backlog larger than any buffer could hold). Smaller lags are
 * backlog: bytes that waited in a pipe while the consumer was busy still carry their capture time.
 */
export class SampleTimer {
  private nextMs = Number.NaN;
  private readonly aheadMs: number;
  private readonly maxLagMs: number;
  constructor(
    private readonly clock: Clock,
    private readonly rateHz: number,
    opts: { aheadMs?: number; maxLagMs?: number } = {},
  ) {
    const tol = Math.max(250, 2000 / rateHz);
    this.aheadMs = opts.aheadMs ?? tol;
    this.maxLagMs = opts.maxLagMs ?? tol;
  }

  /** Time of the first of `n` samples that have just arrived. */
  stamp(n: number): number {
    const periodMs = 1000 / this.rateHz;
    const arrivedStartMs = this.clock.nowMs() - n * periodMs;
    const lag = arrivedStartMs - this.nextMs;
    if (!Number.isFinite(lag) || lag < -this.aheadMs || lag > this.maxLagMs) {
      this.nextMs = arrivedStartMs;
    }
    const t = this.nextMs;
    this.nextMs += n * periodMs;
    return t;
  }

  reset(): void {
    this.nextMs = Number.NaN;
  }
}
