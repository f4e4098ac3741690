/**
 * What every I2C driver shares: open the bus, initialise the chip, poll it for frames, count and
 * report rejected (garbage) frames, and reconnect with exponential backoff when the device stops
 * answering (unplug, NACK, EIO). A driver only supplies `open(bus)` → a `DeviceSession`.
 *
 * Errors (STYLE §8): I/O faults stay inside the sensor. A disconnect-class error (see
 * `isI2cDisconnect`) or a DeviceError with `disconnected: true` closes the bus, reports `down`
 * and retries after `reconnectMinMs`, doubling up to `reconnectMaxMs`; after `maxReconnects`
 * failed attempts in a row the stream throws a DeviceError (`disconnected: true`) for the
 * supervisor. A DeviceError with `disconnected: false` (wrong chip id) is thrown at once.
 */
import { z } from 'zod';
import { DeviceError } from '../../errors.js';
import { sleep } from '../../pipeline/clock.js';
import type { Frame } from '../../pipeline/types.js';
import type { Clock } from '../../pipeline/clock.js';
import type { FrameSource, HealthState, SensorContext, SensorHealth } from '../types.js';
import { isI2cDisconnect, type I2cBus, type OpenI2cBus } from '../bus/i2c.js';

export interface I2cDriverDeps {
  openBus: OpenI2cBus;
}

/** Config fields every I2C driver shares (spread into its schema beside `sensorBase`). */
export const i2cCommon = {
  bus: z.int().min(0).max(255).meta({
    description: 'I2C bus number N of /dev/i2c-N (Jetson Orin Nano pins 3/5 = 7, pins 27/28 = 1). Restart.',
  }),
  reconnectMinMs: z.int().min(1).max(60000).default(250).meta({
    description: 'First reconnect delay after the device stops answering, ms; doubles per failure.',
  }),
  reconnectMaxMs: z
    .int()
    .min(1)
    .max(60000)
    .default(1000)
    .meta({ description: 'Longest reconnect delay, ms. Bounds how long after replug frames resume.' }),
  maxReconnects: z.int().min(0).optional().meta({
    description:
      'Failed reconnects in a row before the stream gives up and the supervisor takes over. Default: never.',
  }),
};

/** Why a frame was rejected; the stream goes on. */
export class RejectedFrame {
  constructor(readonly reason: string) {}
}

/** One initialised chip on an open bus. */
export interface DeviceSession {
  /**
   * Waits for and returns the next frame, or a RejectedFrame for garbage. Throws on I/O faults
   * (classified by the runner) and DeviceError for conditions that need a re-initialisation.
   */
  next(signal: AbortSignal): Promise<Frame | RejectedFrame>;
  /**
   * Called after a short read (fewer bytes than asked: a glitch on the wire) was counted as a
   * rejected frame, to realign the chip's state (e.g. reset a FIFO). Optional.
   */
  resync?(): Promise<void>;
}

/** What `runDevice` needs besides the link: identity, backoff and how to initialise the chip. */
export interface RunDeviceOptions<L> {
  sensorId: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxReconnects?: number | undefined;
  /** Good frames in a row after a rejection before health returns from degraded to ok. Default 10. */
  recoverAfterFrames?: number;
  /** Opens the transport (an I2C bus, a serial port…); closed by the runner after each session. */
  openLink(): Promise<L>;
  open(link: L, signal: AbortSignal): Promise<DeviceSession>;
}

export interface RunOptions extends Omit<RunDeviceOptions<I2cBus>, 'openLink'> {
  busNumber: number;
}

/** True for errors that a re-open may heal. Short reads count too (a glitch on the wire). */
function isRecoverable(err: unknown): boolean {
  if (err instanceof DeviceError) return err.disconnected;
  // Other transports (serialport's SerialClosedError) mark unplugs the same way.
  if ((err as { disconnected?: unknown } | null)?.disconnected === true) return true;
  return isI2cDisconnect(err);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The I2C case of `runDevice`: the link is `deps.openBus(opts.busNumber)`. */
export function runI2cDevice(
  opts: RunOptions,
  deps: I2cDriverDeps,
  ctx: SensorContext,
): AsyncGenerator<Frame> {
  return runDevice({ ...opts, openLink: () => deps.openBus(opts.busNumber) }, ctx);
}

/** What an I2C driver file's config has (its schema spreads `sensorBase` and `i2cCommon`). */
export interface I2cSensorConfig {
  id: string;
  bus: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  maxReconnects?: number | undefined;
}

/**
 * An I2C driver's frame source: `create` builds the driver on an open bus; the runner
 * initialises it, polls it and reconnects.
 */
export function i2cFrameSource(
  config: I2cSensorConfig,
  deps: I2cDriverDeps,
  create: (
    bus: I2cBus,
    ids: { clock: Clock; sensorId: string },
  ) => DeviceSession & { init(signal: AbortSignal): Promise<void> },
): FrameSource {
  return (ctx) =>
    runI2cDevice(
      {
        sensorId: config.id,
        busNumber: config.bus,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        maxReconnects: config.maxReconnects,
        open: async (bus, signal) => {
          const driver = create(bus, { clock: ctx.clock, sensorId: config.id });
          await driver.init(signal);
          return driver;
        },
      },
      deps,
      ctx,
    );
}

export async function* runDevice<L extends { close(): Promise<void> }>(
  opts: RunDeviceOptions<L>,
  ctx: SensorContext,
): AsyncGenerator<Frame> {
  const { signal } = ctx;
  const health: SensorHealth = { state: 'down', reason: 'starting', frames: 0, rejected: 0, restarts: 0 };
  let reported = '';
  const report = (state: HealthState, reason?: string) => {
    health.state = state;
    if (reason === undefined) delete health.reason;
    else health.reason = reason;
    const key = `${state}|${reason ?? ''}`;
    if (key !== reported) {
      reported = key;
      ctx.onHealth?.({ ...health });
    }
  };
  let failures = 0;
  let goodInRow = 0;
  const recoverAfter = opts.recoverAfterFrames ?? 10;

  while (!signal.aborted) {
    let bus: L | undefined;
    try {
      bus = await opts.openLink();
      const session = await opts.open(bus, signal);
      for (;;) {
        let out: Frame | RejectedFrame;
        try {
          out = await session.next(signal);
        } catch (err) {
          if ((err as { code?: unknown } | null)?.code !== 'SHORT_READ' || signal.aborted) throw err;
          out = new RejectedFrame(describe(err));
          await session.resync?.();
        }
        if (out instanceof RejectedFrame) {
          health.rejected++;
          goodInRow = 0;
          report('degraded', out.reason);
          continue;
        }
        failures = 0;
        health.frames++;
        goodInRow++;
        if (health.state === 'down' || (health.state === 'degraded' && goodInRow >= recoverAfter))
          report('ok');
        yield out;
      }
    } catch (err) {
      if (signal.aborted) break;
      if (!isRecoverable(err)) {
        report('down', describe(err));
        throw err instanceof DeviceError
          ? err
          : new DeviceError(opts.sensorId, `${opts.sensorId}: ${describe(err)}`, { cause: err });
      }
      failures++;
      health.restarts++;
      report('down', describe(err));
      if (opts.maxReconnects !== undefined && failures > opts.maxReconnects) {
        throw new DeviceError(
          opts.sensorId,
          `${opts.sensorId}: gave up after ${failures - 1} reconnects: ${describe(err)}`,
          {
            disconnected: true,
            cause: err,
          },
        );
      }
    } finally {
      await bus?.close().catch(() => undefined);
    }
    const delayMs = Math.min(opts.reconnectMaxMs, opts.reconnectMinMs * 2 ** Math.max(0, failures - 1));
    try {
      await sleep(delayMs, signal);
    } catch {
      break;
    }
  }
}

/** Sleeps until `ms` elapsed; resolves false instead of throwing when aborted. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, signal);
    return true;
  } catch {
    return false;
  }
}
