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
 * reports an error) re-initialise it. The UART variant (0xAA/0xBB framing) is not implemented.
 */
import { z } from 'zod';
import { sensorBase } from '../../config/schema.js';
import { DeviceError } from '../../errors.js';
import { sleep, type Clock } from '../../pipeline/clock.js';
import type { Frame } from '../../pipeline/types.js';
import { readRegisters, type I2cBus } from '../bus/i2c.js';
import type { FrameSource } from '../types.js';
import { i2cCommon, RejectedFrame, runI2cDevice, type DeviceSession, type I2cDriverDeps } from './runner.js';

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
  mode: z
    .enum(['accgyro', 'amg', 'imu', 'ndofFmcOff', 'ndof'])
    .default('accgyro')
    .meta({
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

export class Bno055Driver implements DeviceSession {
  private nextDueMs = 0;
  private notRunning = 0;
  /** Last die temperature, °C. */
  temperatureC = Number.NaN;
  /** Last CALIB_STAT byte (sys, gyro, accel, mag: 2 bits each). */
  calibStat = 0;

  constructor(
    private readonly bus: I2cBus,
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
    await this.bus.writeByte(this.opts.address, reg, value);
    if (!verify) return;
    const back = await this.bus.readByte(this.opts.address, reg);
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
    const a = this.opts.address;
    const id = await this.bus.readByte(a, BNO_REG.CHIP_ID);
    if (id !== 0xa0)
      throw new DeviceError(
        this.deps.sensorId,
        `no BNO055 at 0x${a.toString(16)}: CHIP_ID 0x${id.toString(16)}`,
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
    const a = this.opts.address;
    // Accel, mag, gyro in one burst (0x08–0x19), then temperature … SYS_STATUS (0x34–0x39).
    const d = await readRegisters(this.bus, a, BNO_REG.ACC_DATA, 18);
    const s = await readRegisters(this.bus, a, BNO_REG.TEMP, 6);
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
  return (ctx) =>
    runI2cDevice(
      {
        sensorId: config.id,
        busNumber: config.bus,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        maxReconnects: config.maxReconnects,
        open: async (bus, signal) => {
          const driver = new Bno055Driver(bus, config, { clock: ctx.clock, sensorId: config.id });
          await driver.init(signal);
          return driver;
        },
      },
      deps,
      ctx,
    );
}
