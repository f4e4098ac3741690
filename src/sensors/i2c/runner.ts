/**
 * What every I2C driver shares: open the bus, initialise the chip, poll it for frames and count
 * rejected (garbage) frames. A driver only supplies `open(bus)` → a `DeviceSession`.
 *
 * Reconnecting is the one contract of every driver (`reconnecting` in ../reconnect.ts): when the
 * device stops answering (unplug, NACK, EIO; see `isRecoverable`) the session ends, the bus is
 * closed, health goes `down` with the reason, and the device is reopened and re-initialised after
 * `reconnectMinMs`, doubling up to `reconnectMaxMs`, forever. Errors that a reopen cannot heal end
 * the stream at once with a DeviceError (`disconnected: false`): a wrong chip id, bad options
 * (TypeError), a missing `i2ctransfer`.
 */
import { z } from 'zod';
import { DeviceError } from '../../errors.js';
import type { Frame } from '../../pipeline/types.js';
import type { Clock } from '../../pipeline/clock.js';
import { FRAME_REJECT_RATE, messageOf, reconnectingSource, type HealthTracker } from '../reconnect.js';
import type { FrameSource } from '../types.js';
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
    description:
      'First reconnect delay after the device stops answering, ms; doubles per failure. Retried forever.',
  }),
  reconnectMaxMs: z
    .int()
    .min(1)
    .max(60000)
    .default(1000)
    .meta({ description: 'Longest reconnect delay, ms. Bounds how long after replug frames resume.' }),
};

/** Why a frame was rejected; the stream goes on. */
export class RejectedFrame {
  constructor(readonly reason: string) {}
}

/** One initialised chip on an open bus. */
export interface DeviceSession {
  /**
   * Waits for and returns the next frame, or a RejectedFrame for garbage. Throws on I/O faults
   * (classified by `isRecoverable`) and DeviceError for conditions that need a re-initialisation.
   */
  next(signal: AbortSignal): Promise<Frame | RejectedFrame>;
  /**
   * Called after a short read (fewer bytes than asked: a glitch on the wire) was counted as a
   * rejected frame, to realign the chip's state (e.g. reset a FIFO). Optional.
   */
  resync?(): Promise<void>;
}

/** What `deviceFrames` needs besides the link: identity, backoff and how to initialise the chip. */
export interface DeviceFramesOptions<L> {
  sensorId: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Opens the transport (an I2C bus, a serial port…); closed after each session. */
  openLink(): Promise<L>;
  open(link: L, signal: AbortSignal, ids: { clock: Clock; sensorId: string }): Promise<DeviceSession>;
}

/**
 * True for errors that a reopen may heal: disconnect-class errno codes (`isI2cDisconnect`), a
 * DeviceError or transport error marked `disconnected` (serialport's SerialClosedError too), and
 * short reads (a glitch on the wire, e.g. while reading the chip id during init).
 */
export function isRecoverable(err: unknown): boolean {
  if (err instanceof DeviceError) return err.disconnected;
  const { disconnected, code } = (err ?? {}) as { disconnected?: unknown; code?: unknown };
  if (disconnected === true || code === 'SHORT_READ') return true;
  return isI2cDisconnect(err);
}

/** A chip on a link (an I2C bus, a serial port) as a FrameSource, reconnecting like every driver. */
export function deviceFrames<L extends { close(): Promise<void> }>(
  opts: DeviceFramesOptions<L>,
): FrameSource {
  return reconnectingSource({
    sensorId: opts.sensorId,
    reconnectMinMs: opts.reconnectMinMs,
    reconnectMaxMs: opts.reconnectMaxMs,
    rejectRate: FRAME_REJECT_RATE,
    isFatal: (err) => !isRecoverable(err),
    session: (signal, health, ctx) => deviceSession(opts, health, signal, ctx.clock),
  });
}

/** One open of the link and the chip: polls frames until an error, closing the link on the way out. */
async function* deviceSession<L extends { close(): Promise<void> }>(
  opts: DeviceFramesOptions<L>,
  health: HealthTracker,
  signal: AbortSignal,
  clock: Clock,
): AsyncGenerator<Frame> {
  const link = await opts.openLink();
  try {
    const session = await opts.open(link, signal, { clock, sensorId: opts.sensorId });
    for (;;) {
      let out: Frame | RejectedFrame;
      try {
        out = await session.next(signal);
      } catch (err) {
        if ((err as { code?: unknown } | null)?.code !== 'SHORT_READ' || signal.aborted) throw err;
        out = new RejectedFrame(messageOf(err));
        await session.resync?.();
      }
      if (out instanceof RejectedFrame) health.reject(out.reason);
      else {
        health.accept();
        yield out;
      }
    }
  } finally {
    await link.close().catch(() => undefined);
  }
}

/** What an I2C driver file's config has (its schema spreads `sensorBase` and `i2cCommon`). */
export interface I2cSensorConfig {
  id: string;
  bus: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/**
 * An I2C driver's frame source: `create` builds the driver on an open bus; `deviceFrames`
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
  return deviceFrames({
    sensorId: config.id,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    openLink: () => deps.openBus(config.bus),
    open: async (bus, signal, ids) => {
      const driver = create(bus, ids);
      await driver.init(signal);
      return driver;
    },
  });
}
