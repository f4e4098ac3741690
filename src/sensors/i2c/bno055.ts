/**
 * Bosch BNO055 9-axis IMU over I2C (issue #6): accelerometer + gyroscope as an imu stream.
 *
 * Native units: frames are imu `[1, 6]`: accel x, y, z in m/s² then gyro x, y, z in rad/s. The
 * driver selects exactly these units in UNIT_SEL (accel m/s²: 100 LSB per m/s²; gyro rad/s:
 * 900 LSB per rad/s; temperature °C), so no conversion guesswork is left. In fusion modes
 * (imu, ndof…) the accel/gyro registers still carry the calibrated sensor data. `tMs` is the
 * ctx.clock time of the read; the chip has no FIFO, so the driver polls at `rateHz` (≤ 100).
 *
 * Init: CHIP_ID 0xA0, CONFIG mode (registers are only writable there), normal power, UNIT_SEL,
 * page 1 ranges for non-fusion modes, then the operation mode (read back). Mode switches need
 * 7 ms (CONFIG → any) and 19 ms (any → CONFIG); the driver waits 10 and 20 ms.
 *
 * Garbage: a sample is rejected when the temperature (signed °C byte) is outside −40…100, or an
 * axis exceeds the range by more than 5 %. SYS_STATUS must say "running" (5 with fusion, 6
 * without); three reads in a row that do not (the chip reset itself and sits in CONFIG mode, or
 * reports an error) re-initialise it.
 *
 * UART variant (`bno055UartFrames`, PS1 high): the same driver over `Bno055UartRegisters`, which
 * speaks Bosch's framing at 115200 8N1: write `AA 00 reg len data…` → `EE 01`; read
 * `AA 01 reg len` → `BB len data…` or `EE status`. BUS_OVER_RUN (`EE 07`), a garbled reply and a
 * 100 ms silence are retried up to 3 times with a 2 ms gap, as Adafruit and Bosch advise.
 */
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { DeviceError } from '../../errors.js';
import { sleep, type Clock } from '../../pipeline/clock.js';
import type { Frame } from '../../pipeline/types.js';
import { readRegisters, type I2cBus } from '../bus/i2c.js';
import type { FrameSource } from '../types.js';
import {
  i2cCommon,
  RejectedFrame,
  deviceFrames,
  i2cFrameSource,
  type DeviceSession,
  type I2cDriverDeps,
} from './runner.js';

export const BNO_REG = {
  CHIP_ID: 0x00,
  PAGE_ID: 0x07,
  ACC_DATA: 0x08,
  GYR_DATA: 0x14,
  TEMP: 0x34,
  SYS_STATUS: 0x39,
  SYS_ERR: 0x3a,
  UNIT_SEL: 0x3b,
  OPR_MODE: 0x3d,
  PWR_MODE: 0x3e,
  SYS_TRIGGER: 0x3f,
  /** Page 1. */
  ACC_CONFIG: 0x08,
  GYR_CONFIG_0: 0x0a,
} as const;

/** Operation modes with accel and gyro (OPR_MODE values). */
export const BNO_MODES = { accgyro: 0x05, amg: 0x07, imu: 0x08, ndofFmcOff: 0x0b, ndof: 0x0c } as const;
const ACCEL_RANGES_G = [2, 4, 8, 16] as const;
/** GYR_Config_0 range codes: 0 = 2000 … 4 = 125 °/s. */
const GYRO_RANGES_DPS = [2000, 1000, 500, 250, 125] as const;
/** UNIT_SEL: accel m/s² (bit0 0), gyro rad/s (bit1 1), Euler degrees, °C, Windows orientation. */
export const BNO_UNIT_SEL = 0x02;
const G = 9.80665;

export const Bno055ConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('imu').default('imu').meta({ description: 'Always imu.' }),
  driver: z.literal('bno055'),
  ...i2cCommon,
  address: z
    .literal([0x28, 0x29])
    .default(0x28)
    .meta({ description: 'I2C address: 0x28 (COM3 low, Adafruit) or 0x29 (COM3 high). Restart.' }),
  rateHz: z
    .int()
    .min(1)
    .max(100)
    .default(100)
    .meta({ description: 'Polling rate, Hz (the chip outputs 100 Hz).' }),
  mode: z.enum(['accgyro', 'amg', 'imu', 'ndofFmcOff', 'ndof']).default('accgyro').meta({
    description:
      'Operation mode: accgyro/amg raw; imu/ndof run on-chip fusion (ranges fixed at 4 g, 2000 °/s).',
  }),
  accelRangeG: z
    .literal(ACCEL_RANGES_G)
    .default(4)
    .meta({ description: 'Accelerometer full scale, ±g (non-fusion modes).' }),
  gyroRangeDps: z
    .literal(GYRO_RANGES_DPS)
    .default(2000)
    .meta({ description: 'Gyroscope full scale, ±°/s (non-fusion modes).' }),
});
export type Bno055Config = z.infer<typeof Bno055ConfigSchema>;

export interface Bno055Options {
  address: number;
  rateHz: number;
  mode: keyof typeof BNO_MODES;
  accelRangeG: number;
  gyroRangeDps: number;
}

/** Register access, over I2C (`bno055I2cRegisters`) or UART (`Bno055UartRegisters`). */
export interface Bno055Registers {
  /** Reads `length` bytes from page register `reg` on; resolves with exactly `length` bytes. */
  read(reg: number, length: number): Promise<Buffer>;
  write(reg: number, value: number): Promise<void>;
}

/** BNO055 registers over I2C (SMBus byte writes, ≤ 32-byte block reads). */
export function bno055I2cRegisters(bus: I2cBus, address: number): Bno055Registers {
  return {
    read: (reg, length) => readRegisters(bus, address, reg, length),
    write: (reg, value) => bus.writeByte(address, reg, value),
  };
}

export class Bno055Driver implements DeviceSession {
  private nextDueMs = 0;
  private notRunning = 0;
  /** Last die temperature, °C. */
  temperatureC = Number.NaN;
  /** Last CALIB_STAT byte (sys, gyro, accel, mag: 2 bits each). */
  calibStat = 0;

  constructor(
    private readonly regs: Bno055Registers,
    private readonly opts: Bno055Options,
    private readonly deps: { clock: Clock; sensorId: string },
  ) {
    if (!(opts.mode in BNO_MODES)) throw new TypeError(`BNO055 mode ${opts.mode}`);
  }

  get fusion(): boolean {
    return BNO_MODES[this.opts.mode] >= 0x08;
  }

  /** Accel and gyro limits for plausibility, m/s² and rad/s. */
  private get limits(): [number, number] {
    const g = this.fusion ? 4 : this.opts.accelRangeG;
    const dps = this.fusion ? 2000 : this.opts.gyroRangeDps;
    return [g * G * 1.05, ((dps * Math.PI) / 180) * 1.05];
  }

  private async write(reg: number, value: number, verify = true): Promise<void> {
    await this.regs.write(reg, value);
    if (!verify) return;
    const [back = -1] = await this.regs.read(reg, 1);
    if (back !== value) {
      throw new DeviceError(
        this.deps.sensorId,
        `BNO055 register 0x${reg.toString(16)} reads 0x${back.toString(16)}, wrote 0x${value.toString(16)}`,
        {
          disconnected: true,
        },
      );
    }
  }

  async init(signal: AbortSignal): Promise<void> {
    const [id = -1] = await this.regs.read(BNO_REG.CHIP_ID, 1);
    if (id !== 0xa0)
      throw new DeviceError(
        this.deps.sensorId,
        `no BNO055 at 0x${this.opts.address.toString(16)}: CHIP_ID 0x${id.toString(16)}`,
      );
    await this.write(BNO_REG.PAGE_ID, 0);
    await this.write(BNO_REG.OPR_MODE, 0x00); // CONFIG
    await sleep(20, signal);
    await this.write(BNO_REG.PWR_MODE, 0x00); // normal
    await this.write(BNO_REG.SYS_TRIGGER, 0x00, false); // internal oscillator
    await this.write(BNO_REG.UNIT_SEL, BNO_UNIT_SEL);
    if (!this.fusion) {
      await this.write(BNO_REG.PAGE_ID, 1);
      const acc = ACCEL_RANGES_G.indexOf(this.opts.accelRangeG as 2);
      const gyr = GYRO_RANGES_DPS.indexOf(this.opts.gyroRangeDps as 2000);
      if (acc < 0 || gyr < 0) throw new TypeError('BNO055: bad range');
      await this.write(BNO_REG.ACC_CONFIG, 0x0c | acc); // 62.5 Hz bandwidth, normal power
      await this.write(BNO_REG.GYR_CONFIG_0, 0x38 | gyr); // 32 Hz bandwidth
      await this.write(BNO_REG.PAGE_ID, 0);
    }
    await this.write(BNO_REG.OPR_MODE, BNO_MODES[this.opts.mode]);
    await sleep(10, signal);
    this.notRunning = 0;
    this.nextDueMs = this.deps.clock.nowMs();
  }

  async next(signal: AbortSignal): Promise<Frame | RejectedFrame> {
    const periodMs = 1000 / this.opts.rateHz;
    const now = this.deps.clock.nowMs();
    if (this.nextDueMs > now) await sleep(this.nextDueMs - now, signal);
    this.nextDueMs = Math.max(this.nextDueMs + periodMs, this.deps.clock.nowMs());
    // Accel, mag, gyro in one burst (0x08–0x19), then temperature … SYS_STATUS (0x34–0x39).
    const d = await this.regs.read(BNO_REG.ACC_DATA, 18);
    const s = await this.regs.read(BNO_REG.TEMP, 6);
    const tMs = this.deps.clock.nowMs();
    const temp = s.readInt8(0);
    const [accelMax, gyroMax] = this.limits;
    const data = new Float32Array(6);
    for (let k = 0; k < 3; k++) {
      data[k] = d.readInt16LE(2 * k) / 100;
      data[3 + k] = d.readInt16LE(12 + 2 * k) / 900;
    }
    for (let k = 0; k < 3; k++) {
      if (Math.abs(data[k]!) > accelMax)
        return new RejectedFrame(`accel ${data[k]!.toFixed(1)} m/s² beyond range`);
      if (Math.abs(data[3 + k]!) > gyroMax)
        return new RejectedFrame(`gyro ${data[3 + k]!.toFixed(2)} rad/s beyond range`);
    }
    if (temp < -40 || temp > 100) return new RejectedFrame(`temperature ${temp} °C`);
    const sysStatus = s[5]!;
    if (sysStatus !== 5 && sysStatus !== 6) {
      if (++this.notRunning >= 3) {
        throw new DeviceError(
          this.deps.sensorId,
          `BNO055 not running (SYS_STATUS ${sysStatus}); re-initialising`,
          {
            disconnected: true,
          },
        );
      }
      return new RejectedFrame(`SYS_STATUS ${sysStatus}`);
    }
    this.notRunning = 0;
    this.temperatureC = temp;
    this.calibStat = s[1]!;
    return {
      sensorId: this.deps.sensorId,
      modality: 'imu',
      tMs,
      rateHz: this.opts.rateHz,
      data,
      shape: [1, 6],
    };
  }
}

/** The BNO055 (I2C) frame source: `bno055Frames(config, { openBus })`. */
export function bno055Frames(config: Bno055Config, deps: I2cDriverDeps): FrameSource {
  return i2cFrameSource(
    config,
    deps,
    (bus, ids) => new Bno055Driver(bno055I2cRegisters(bus, config.address), config, ids),
  );
}

/** The byte stream the UART variant needs; serialport's connection (SerialLink) fits it. */
export interface Bno055UartLink {
  write(bytes: Uint8Array): Promise<void>;
  /** Received bytes; ends or throws when the port goes away. */
  data(): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

/** UART status codes (0xEE replies). */
export const BNO_UART_STATUS: Record<number, string> = {
  0x01: 'WRITE_SUCCESS',
  0x02: 'READ_FAIL',
  0x03: 'WRITE_FAIL',
  0x04: 'REGMAP_INVALID_ADDRESS',
  0x05: 'REGMAP_WRITE_DISABLED',
  0x06: 'WRONG_START_BYTE',
  0x07: 'BUS_OVER_RUN_ERROR',
  0x08: 'MAX_LENGTH_ERROR',
  0x09: 'MIN_LENGTH_ERROR',
  0x0a: 'RECEIVE_CHARACTER_TIMEOUT',
};

/** BNO055 registers over its UART protocol, with retries for BUS_OVER_RUN and lost replies. */
export class Bno055UartRegisters implements Bno055Registers {
  private pending = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private closed: Error | undefined;
  /** Requests retried (BUS_OVER_RUN, garbled or missing replies). */
  retries = 0;

  constructor(
    private readonly link: Bno055UartLink,
    private readonly opts: { timeoutMs?: number; attempts?: number } = {},
  ) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for await (const chunk of this.link.data()) {
        this.pending = Buffer.concat([this.pending, chunk]);
        this.wake?.();
      }
      this.closed = Object.assign(new Error('BNO055 UART closed'), { disconnected: true });
    } catch (err) {
      this.closed = Object.assign(
        new Error(`BNO055 UART: ${err instanceof Error ? err.message : String(err)}`),
        {
          disconnected: true,
          cause: err,
        },
      );
    }
    this.wake?.();
  }

  /** Waits until `n` bytes are buffered; resolves false on timeout. */
  private async bytes(n: number, deadline: number): Promise<boolean> {
    while (this.pending.length < n) {
      if (this.closed) throw this.closed;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return true;
  }

  private take(n: number): Buffer {
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return out;
  }

  /** One request; returns the data of a 0xBB reply, or the status of a 0xEE reply. */
  private async once(request: Uint8Array): Promise<{ data: Buffer } | { status: number } | undefined> {
    this.pending = Buffer.alloc(0); // drop stale bytes from an earlier, timed-out request
    if (this.closed) throw this.closed;
    await this.link.write(request);
    const deadline = performance.now() + (this.opts.timeoutMs ?? 100);
    if (!(await this.bytes(2, deadline))) return undefined;
    const [head = 0, second = 0] = this.take(2);
    if (head === 0xee) return { status: second };
    if (head !== 0xbb) return undefined;
    if (!(await this.bytes(second, deadline))) return undefined;
    return { data: Buffer.from(this.take(second)) };
  }

  private async request(request: Uint8Array, what: string): Promise<{ data: Buffer } | { status: number }> {
    const attempts = this.opts.attempts ?? 4;
    let last = 'no reply';
    for (let i = 0; i < attempts; i++) {
      if (i > 0) {
        this.retries++;
        await new Promise((r) => setTimeout(r, 2));
      }
      const reply = await this.once(request);
      if (reply === undefined) last = 'no or garbled reply';
      else if (
        'status' in reply &&
        (reply.status === 0x07 || reply.status === 0x0a || reply.status === 0x06)
      ) {
        last = BNO_UART_STATUS[reply.status] ?? `status ${reply.status}`;
      } else return reply;
    }
    throw Object.assign(new Error(`BNO055 UART ${what}: ${last} after ${attempts} attempts`), {
      code: 'EIO',
    });
  }

  async read(reg: number, length: number): Promise<Buffer> {
    if (length < 1 || length > 128) throw new RangeError(`BNO055 UART read length ${length}`);
    const reply = await this.request(Uint8Array.of(0xaa, 0x01, reg, length), `read 0x${reg.toString(16)}`);
    if ('status' in reply) {
      throw Object.assign(
        new Error(`BNO055 UART read 0x${reg.toString(16)}: ${BNO_UART_STATUS[reply.status] ?? reply.status}`),
        {
          code: 'EIO',
        },
      );
    }
    if (reply.data.length !== length) {
      throw Object.assign(new Error(`short UART read: ${reply.data.length} of ${length}`), {
        code: 'SHORT_READ',
      });
    }
    return reply.data;
  }

  async write(reg: number, value: number): Promise<void> {
    const reply = await this.request(Uint8Array.of(0xaa, 0x00, reg, 1, value), `write 0x${reg.toString(16)}`);
    if (!('status' in reply) || reply.status !== 0x01) {
      const why = 'status' in reply ? (BNO_UART_STATUS[reply.status] ?? reply.status) : 'data reply';
      throw Object.assign(new Error(`BNO055 UART write 0x${reg.toString(16)}: ${why}`), { code: 'EIO' });
    }
  }
}

export const Bno055UartConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('imu').default('imu').meta({ description: 'Always imu.' }),
  driver: z.literal('bno055-uart'),
  path: z
    .string()
    .min(1)
    .meta({ description: 'Serial device, e.g. /dev/ttyTHS1 (Jetson pins 8/10). Restart.' }),
  baudRate: z.int().default(115200).meta({ description: 'Baud rate; the BNO055 UART runs at 115200 8N1.' }),
  reconnectMinMs: i2cCommon.reconnectMinMs,
  reconnectMaxMs: i2cCommon.reconnectMaxMs,
  rateHz: z
    .int()
    .min(1)
    .max(50)
    .default(50)
    .meta({ description: 'Polling rate, Hz (UART round trips limit it to ≈ 50).' }),
  mode: Bno055ConfigSchema.shape.mode,
  accelRangeG: Bno055ConfigSchema.shape.accelRangeG,
  gyroRangeDps: Bno055ConfigSchema.shape.gyroRangeDps,
});
export type Bno055UartConfig = z.infer<typeof Bno055UartConfigSchema>;

/** The BNO055 (UART) frame source: `bno055UartFrames(config, { openLink })`. */
export function bno055UartFrames(
  config: Bno055UartConfig,
  deps: { openLink: (path: string, baudRate: number) => Promise<Bno055UartLink> },
): FrameSource {
  return deviceFrames({
    sensorId: config.id,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    openLink: () => deps.openLink(config.path, config.baudRate),
    open: async (link, signal, ids) => {
      const driver = new Bno055Driver(new Bno055UartRegisters(link), { ...config, address: 0x28 }, ids);
      await driver.init(signal);
      return driver;
    },
  });
}
