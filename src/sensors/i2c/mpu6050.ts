/**
 * InvenSense/TDK MPU-6050, MPU-6500, MPU-9250 and MPU-9255 accelerometer + gyroscope over I2C
 * (issue #6), read through the chip's FIFO.
 *
 * Native units: frames are imu `[n, 6]`: accel x, y, z in m/s² (1 g = 9.80665 m/s²) then gyro
 * x, y, z in rad/s, in the chip's own axes. `tMs` is the time of the first sample: the
 * ctx.clock time of the FIFO count read minus (n − 1) sample periods (the newest sample is the one
 * just written), and never before the end of the previous frame. `rateHz` is the real sample rate, gyro output rate / (1 + SMPLRT_DIV).
 *
 * FIFO: every sample is one 14-byte record (accel XYZ, temperature, gyro XYZ, big-endian). The
 * temperature rides along as a canary: random bytes almost never give a temperature inside
 * −40…85 °C that also agrees (±3 °C) with the other records and the last good read, so garbage is
 * rejected frame by frame. Overflow (INT_STATUS.FIFO_OFLOW, or a count beyond the FIFO size) means
 * the stream may be misaligned: the driver disables, resets and re-enables the FIFO and rejects
 * that read. INT_STATUS is read *after* the records (issue #24): an overflow between reading the
 * status and reading the FIFO (a late event loop at 1 kHz on a 512-byte FIFO) would otherwise
 * hand out records shifted by a partial one, which the canary cannot catch on the first read
 * after init. No good sample for `stallMs` (a stuck FIFO, or a chip that was power-cycled back to
 * sleep) re-initialises the chip through the runner; that is decided after looking at the FIFO,
 * never from the time alone, so a process that was busy for a while is not taken for a stall.
 */
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { DeviceError } from '../../errors.js';
import { sleep, type Clock } from '../../pipeline/clock.js';
import type { Frame } from '../../pipeline/types.js';
import type { I2cBus } from '../bus/i2c.js';
import type { FrameSource } from '../types.js';
import {
  i2cCommon,
  RejectedFrame,
  i2cFrameSource,
  type DeviceSession,
  type I2cDriverDeps,
} from './runner.js';

export const MPU_REG = {
  SMPLRT_DIV: 0x19,
  CONFIG: 0x1a,
  GYRO_CONFIG: 0x1b,
  ACCEL_CONFIG: 0x1c,
  ACCEL_CONFIG2: 0x1d,
  FIFO_EN: 0x23,
  INT_PIN_CFG: 0x37,
  INT_ENABLE: 0x38,
  INT_STATUS: 0x3a,
  ACCEL_XOUT_H: 0x3b,
  USER_CTRL: 0x6a,
  PWR_MGMT_1: 0x6b,
  PWR_MGMT_2: 0x6c,
  FIFO_COUNTH: 0x72,
  FIFO_R_W: 0x74,
  WHO_AM_I: 0x75,
} as const;

/** WHO_AM_I values we accept, with each chip's FIFO size (bytes) and temperature formula. */
export const MPU_VARIANTS: Record<
  number,
  { name: string; fifoBytes: number; tempC: (raw: number) => number }
> = {
  0x68: { name: 'MPU-6050', fifoBytes: 1024, tempC: (raw) => raw / 340 + 36.53 },
  0x70: { name: 'MPU-6500', fifoBytes: 512, tempC: (raw) => raw / 333.87 + 21 },
  0x71: { name: 'MPU-9250', fifoBytes: 512, tempC: (raw) => raw / 333.87 + 21 },
  0x73: { name: 'MPU-9255', fifoBytes: 512, tempC: (raw) => raw / 333.87 + 21 },
};

/** Digital low-pass filter bandwidth (accel, Hz) → DLPF_CFG. 260 Hz means the filter is off (gyro at 8 kHz). */
export const MPU_DLPF_HZ = { 260: 0, 184: 1, 94: 2, 44: 3, 21: 4, 10: 5, 5: 6 } as const;
const ACCEL_RANGES_G = [2, 4, 8, 16] as const;
const GYRO_RANGES_DPS = [250, 500, 1000, 2000] as const;
const RECORD_BYTES = 14;
const G = 9.80665;

export const Mpu6050ConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('imu').default('imu').meta({ description: 'Always imu.' }),
  driver: z.literal('mpu6050'),
  ...i2cCommon,
  address: z
    .literal([0x68, 0x69])
    .default(0x68)
    .meta({ description: 'I2C address: 0x68 (AD0 low) or 0x69 (AD0 high). Clashes with AMG8833. Restart.' }),
  rateHz: z.int().min(4).max(1000).default(100).meta({
    description: 'Sample rate, Hz; the chip rounds to 1000/(1+div) (8000/(1+div) with dlpfHz 260).',
  }),
  accelRangeG: z.literal(ACCEL_RANGES_G).default(4).meta({ description: 'Accelerometer full scale, ±g.' }),
  gyroRangeDps: z.literal(GYRO_RANGES_DPS).default(500).meta({ description: 'Gyroscope full scale, ±°/s.' }),
  dlpfHz: z
    .literal([260, 184, 94, 44, 21, 10, 5])
    .default(44)
    .meta({ description: 'Digital low-pass filter bandwidth, Hz (260 = off). Keep it below rateHz/2.' }),
  pollMs: z.int().min(5).max(1000).default(50).meta({
    description:
      'FIFO read interval, ms (samples per frame ≈ rateHz·pollMs/1000). Shortened to fit the FIFO.',
  }),
});
export type Mpu6050Config = z.infer<typeof Mpu6050ConfigSchema>;

export interface Mpu6050Options {
  address: number;
  rateHz: number;
  accelRangeG: number;
  gyroRangeDps: number;
  dlpfHz: keyof typeof MPU_DLPF_HZ;
  pollMs: number;
}

export class Mpu6050Driver implements DeviceSession {
  variant = MPU_VARIANTS[0x68]!;
  /** The sample rate the divider gives, Hz. */
  actualRateHz = 0;
  private lastGoodMs = 0;
  /** Time of the last sample handed out; the next frame never starts before it (monotonic tMs). */
  private lastSampleMs = Number.NEGATIVE_INFINITY;
  private lastTempC: number | undefined;
  private readonly accelScale: number;
  private readonly gyroScale: number;

  constructor(
    private readonly bus: I2cBus,
    private readonly opts: Mpu6050Options,
    private readonly deps: { clock: Clock; sensorId: string },
  ) {
    const afs = ACCEL_RANGES_G.indexOf(opts.accelRangeG as (typeof ACCEL_RANGES_G)[number]);
    const fs = GYRO_RANGES_DPS.indexOf(opts.gyroRangeDps as (typeof GYRO_RANGES_DPS)[number]);
    if (afs < 0 || fs < 0 || !(opts.dlpfHz in MPU_DLPF_HZ))
      throw new TypeError('MPU-6050: bad range or DLPF option');
    // LSB per g: 16384 >> AFS_SEL; LSB per °/s: 131 / 2^FS_SEL (131, 65.5, 32.8, 16.4).
    this.accelScale = G / (16384 >> afs);
    this.gyroScale = Math.PI / 180 / (131 / 2 ** fs);
  }

  private async write(reg: number, value: number, verify = true): Promise<void> {
    await this.bus.writeByte(this.opts.address, reg, value);
    if (!verify) return;
    const back = await this.bus.readByte(this.opts.address, reg);
    if (back !== value) {
      throw new DeviceError(
        this.deps.sensorId,
        `MPU register 0x${reg.toString(16)} = 0x${back.toString(16)}, wrote 0x${value.toString(16)}`,
        {
          disconnected: true,
        },
      );
    }
  }

  async init(signal: AbortSignal): Promise<void> {
    const a = this.opts.address;
    const who = await this.bus.readByte(a, MPU_REG.WHO_AM_I);
    const variant = MPU_VARIANTS[who];
    if (!variant) {
      throw new DeviceError(
        this.deps.sensorId,
        `no MPU-6050/6500/9250 at 0x${a.toString(16)}: WHO_AM_I = 0x${who.toString(16)}`,
      );
    }
    this.variant = variant;
    await this.write(MPU_REG.PWR_MGMT_1, 0x80, false); // DEVICE_RESET
    await sleep(100, signal);
    await this.write(MPU_REG.PWR_MGMT_1, 0x01); // wake, clock = PLL with X gyro
    await this.write(MPU_REG.PWR_MGMT_2, 0x00); // all axes on
    const dlpf = MPU_DLPF_HZ[this.opts.dlpfHz];
    await this.write(MPU_REG.CONFIG, dlpf); // FIFO_MODE (6500) 0 = stream, overwrite oldest
    const baseHz = dlpf === 0 ? 8000 : 1000;
    const div = Math.min(255, Math.max(0, Math.round(baseHz / this.opts.rateHz) - 1));
    this.actualRateHz = baseHz / (1 + div);
    await this.write(MPU_REG.SMPLRT_DIV, div);
    await this.write(MPU_REG.GYRO_CONFIG, GYRO_RANGES_DPS.indexOf(this.opts.gyroRangeDps as 250) << 3);
    await this.write(MPU_REG.ACCEL_CONFIG, ACCEL_RANGES_G.indexOf(this.opts.accelRangeG as 2) << 3);
    if (who !== 0x68) await this.write(MPU_REG.ACCEL_CONFIG2, dlpf); // accel DLPF is separate on the 6500 family
    await this.write(MPU_REG.INT_ENABLE, 0x00);
    await this.resetFifo();
    this.lastGoodMs = this.deps.clock.nowMs();
    this.lastTempC = undefined;
    this.lastSampleMs = Number.NEGATIVE_INFINITY;
  }

  /** Disable, reset and re-enable the FIFO (the standard recovery after overflow/misalignment). */
  async resetFifo(): Promise<void> {
    const a = this.opts.address;
    await this.write(MPU_REG.FIFO_EN, 0x00);
    await this.write(MPU_REG.USER_CTRL, 0x04, false); // FIFO_RESET (self-clearing)
    await this.bus.readByte(a, MPU_REG.INT_STATUS); // clear FIFO_OFLOW
    await this.write(MPU_REG.USER_CTRL, 0x40); // FIFO_EN
    await this.write(MPU_REG.FIFO_EN, 0xf8); // TEMP, XG, YG, ZG, ACCEL
  }

  async resync(): Promise<void> {
    await this.resetFifo();
  }

  /** Poll interval: the configured one, but short enough that the FIFO never fills in between. */
  get pollMs(): number {
    const fillMs = ((this.variant.fifoBytes / RECORD_BYTES) * 1000) / this.actualRateHz;
    return Math.max(2, Math.min(this.opts.pollMs, fillMs / 2));
  }

  async next(signal: AbortSignal): Promise<Frame | RejectedFrame> {
    const a = this.opts.address;
    const periodMs = 1000 / this.actualRateHz;
    const stallMs = Math.max(500, 20 * periodMs, 4 * this.pollMs);
    for (;;) {
      await sleep(this.pollMs, signal);
      const cnt = Buffer.alloc(2);
      const { bytesRead } = await this.bus.readI2cBlock(a, MPU_REG.FIFO_COUNTH, 2, cnt);
      if (bytesRead !== 2) throw Object.assign(new Error('short read of FIFO count'), { code: 'SHORT_READ' });
      // The newest counted sample was taken at about this moment; reading the records takes a
      // while, more when the event loop is late, so the time is taken here (issue #24).
      const countMs = this.deps.clock.nowMs();
      const count = cnt.readUInt16BE(0);
      if (count > this.variant.fifoBytes) {
        await this.resetFifo();
        return new RejectedFrame(`FIFO count ${count} beyond ${this.variant.fifoBytes}`);
      }
      const n = Math.floor(count / RECORD_BYTES);
      if (n === 0) {
        this.checkStall(stallMs);
        continue;
      }
      const bytes = Buffer.alloc(n * RECORD_BYTES);
      // FIFO_R_W does not auto-increment: each block read pops the next bytes.
      for (let off = 0; off < bytes.length; off += 32) {
        const len = Math.min(32, bytes.length - off);
        const r = await this.bus.readI2cBlock(a, MPU_REG.FIFO_R_W, len, bytes.subarray(off, off + len));
        if (r.bytesRead !== len)
          throw Object.assign(new Error(`short FIFO read: ${r.bytesRead} of ${len}`), { code: 'SHORT_READ' });
      }
      // Overflow at any time since the last status read (clear-on-read) may have shifted what was
      // just read: reject it. An overflow proves the chip samples, so it is never a stall.
      const status = await this.bus.readByte(a, MPU_REG.INT_STATUS);
      if (status & 0x10) {
        await this.resetFifo();
        return new RejectedFrame('FIFO overflow');
      }
      const reason = this.checkRecords(bytes, n);
      if (reason) {
        this.checkStall(stallMs);
        await this.resetFifo();
        return new RejectedFrame(reason);
      }
      const data = new Float32Array(n * 6);
      for (let i = 0; i < n; i++) {
        const o = i * RECORD_BYTES;
        for (let k = 0; k < 3; k++) {
          data[i * 6 + k] = bytes.readInt16BE(o + 2 * k) * this.accelScale;
          data[i * 6 + 3 + k] = bytes.readInt16BE(o + 8 + 2 * k) * this.gyroScale;
        }
      }
      this.lastGoodMs = countMs;
      // A continuation that ran late after the count read stamps a frame late; the next one must
      // not start before it ends.
      const tMs = Math.max(countMs - (n - 1) * periodMs, this.lastSampleMs + periodMs);
      this.lastSampleMs = tMs + (n - 1) * periodMs;
      return {
        sensorId: this.deps.sensorId,
        modality: 'imu',
        tMs,
        rateHz: this.actualRateHz,
        data,
        shape: [n, 6],
      };
    }
  }

  /** Throws the stall DeviceError when the FIFO, just read, has had no good sample for `stallMs`. */
  private checkStall(stallMs: number): void {
    const silentMs = this.deps.clock.nowMs() - this.lastGoodMs;
    if (silentMs > stallMs) {
      throw new DeviceError(
        this.deps.sensorId,
        `MPU FIFO stalled: no good sample for ${Math.round(silentMs)} ms`,
        { disconnected: true },
      );
    }
  }

  /** The temperature canary and stuck-bus patterns; returns why the records are garbage. */
  private checkRecords(bytes: Buffer, n: number): string | undefined {
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const rec = bytes.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES);
      if (rec.every((b) => b === 0xff) || rec.every((b) => b === 0x00))
        return 'FIFO record all 0xFF/0x00 (stuck bus)';
      const t = this.variant.tempC(rec.readInt16BE(6));
      if (!(t >= -40 && t <= 85)) return `FIFO temperature ${t.toFixed(1)} °C out of range`;
      sum += t;
      min = Math.min(min, t);
      max = Math.max(max, t);
    }
    if (max - min > 3) return `FIFO temperatures spread ${(max - min).toFixed(1)} °C`;
    const mean = sum / n;
    if (this.lastTempC !== undefined && Math.abs(mean - this.lastTempC) > 3) {
      return `FIFO temperature jumped ${this.lastTempC.toFixed(1)} → ${mean.toFixed(1)} °C`;
    }
    this.lastTempC = mean;
    return undefined;
  }
}

/** The MPU-6050/6500/9250 frame source: `mpu6050Frames(config, { openBus })`. */
export function mpu6050Frames(config: Mpu6050Config, deps: I2cDriverDeps): FrameSource {
  return i2cFrameSource(config, deps, (bus, ids) => new Mpu6050Driver(bus, config, ids));
}
