/**
 * Panasonic AMG8833 Grid-EYE 8×8 thermopile array over I2C (issue #6).
 *
 * Native units: frames are thermal `[1, 8, 8]` in °C, row-major in register order (pixel 1 =
 * T01 at 0x80 first), not flipped. Pixels are 12-bit two's complement, 0.25 °C/LSB, little-endian;
 * the thermistor (0x0E) is 12-bit sign-magnitude, 0.0625 °C/LSB. `rateHz` is the frame rate
 * (10 or 1 fps) and `tMs` the ctx.clock time of the read. The chip has no data-ready flag, so the
 * driver polls once per frame period.
 *
 * Garbage: a frame is rejected when a pixel's upper nibble is neither 0 nor the sign extension of
 * bit 11, when a pixel is outside −20…100 °C (the part measures 0…80 °C), when the thermistor word
 * is malformed or outside −20…80 °C, or when STAT reports a pixel/thermistor overflow (then the
 * flags are cleared). The chip has no identity register: init verifies that its writes read back.
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
  i2cFrameSource,
  type DeviceSession,
  type I2cDriverDeps,
} from './runner.js';

export const AMG_REG = {
  PCTL: 0x00,
  RST: 0x01,
  FPSC: 0x02,
  INTC: 0x03,
  STAT: 0x04,
  SCLR: 0x05,
  AVE: 0x07,
  TTHL: 0x0e,
  AVE_KEY: 0x1f,
  PIXELS: 0x80,
} as const;

export const Amg8833ConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('thermal').default('thermal').meta({ description: 'Always thermal.' }),
  driver: z.literal('amg8833'),
  ...i2cCommon,
  address: z.literal([0x68, 0x69]).default(0x69).meta({
    description:
      'I2C address: 0x69 (AD_SELECT high, Adafruit default) or 0x68. Clashes with MPU-6050. Restart.',
  }),
  rateHz: z.literal([1, 10]).default(10).meta({ description: 'Frame rate, fps: 10 or 1.' }),
  movingAverage: z
    .boolean()
    .default(false)
    .meta({ description: "Chip's twice-moving-average mode (less noise, slower response)." }),
});
export type Amg8833Config = z.infer<typeof Amg8833ConfigSchema>;

export interface Amg8833Options {
  address: number;
  rateHz: number;
  movingAverage: boolean;
}

/** Decodes a 12-bit two's-complement pixel word; undefined when its upper nibble is not a sign fill. */
export function decodePixel(word: number): number | undefined {
  const upper = word >> 12;
  const negative = (word & 0x800) !== 0;
  if (upper !== 0 && !(upper === 0xf && negative)) return undefined;
  const v = word & 0xfff;
  return (negative ? v - 0x1000 : v) * 0.25;
}

/** Decodes the 12-bit sign-magnitude thermistor word; undefined when malformed. */
export function decodeThermistor(word: number): number | undefined {
  if (word >> 12 !== 0) return undefined;
  const mag = (word & 0x7ff) * 0.0625;
  return word & 0x800 ? -mag : mag;
}

export class Amg8833Driver implements DeviceSession {
  private nextDueMs = 0;
  /** Last thermistor reading, °C. */
  thermistorC = Number.NaN;

  constructor(
    private readonly bus: I2cBus,
    private readonly opts: Amg8833Options,
    private readonly deps: { clock: Clock; sensorId: string },
  ) {
    if (opts.rateHz !== 1 && opts.rateHz !== 10)
      throw new TypeError(`AMG8833 rate ${opts.rateHz} fps: 1 or 10`);
  }

  private async write(reg: number, value: number, verify = true): Promise<void> {
    await this.bus.writeByte(this.opts.address, reg, value);
    if (!verify) return;
    const back = await this.bus.readByte(this.opts.address, reg);
    if (back !== value) {
      throw new DeviceError(
        this.deps.sensorId,
        `AMG8833 register 0x${reg.toString(16)} reads 0x${back.toString(16)}, wrote 0x${value.toString(16)}`,
        {
          disconnected: true,
        },
      );
    }
  }

  async init(signal: AbortSignal): Promise<void> {
    await this.write(AMG_REG.PCTL, 0x00); // normal mode
    await this.write(AMG_REG.RST, 0x3f, false); // initial reset: flags and settings to defaults
    await sleep(2, signal);
    await this.write(AMG_REG.FPSC, this.opts.rateHz === 1 ? 0x01 : 0x00);
    await this.write(AMG_REG.INTC, 0x00);
    // Moving average is set through the datasheet's key sequence on 0x1F.
    for (const key of [0x50, 0x45, 0x57]) await this.write(AMG_REG.AVE_KEY, key, false);
    await this.write(AMG_REG.AVE, this.opts.movingAverage ? 0x20 : 0x00);
    await this.write(AMG_REG.AVE_KEY, 0x00, false);
    // Output is stable ~100 ms after a mode change; the first poll waits one period anyway.
    this.nextDueMs = this.deps.clock.nowMs() + 1000 / this.opts.rateHz;
  }

  async next(signal: AbortSignal): Promise<Frame | RejectedFrame> {
    const periodMs = 1000 / this.opts.rateHz;
    const now = this.deps.clock.nowMs();
    if (this.nextDueMs > now) await sleep(this.nextDueMs - now, signal);
    this.nextDueMs = Math.max(this.nextDueMs + periodMs, this.deps.clock.nowMs());
    const a = this.opts.address;
    const stat = await this.bus.readByte(a, AMG_REG.STAT);
    const th = await readRegisters(this.bus, a, AMG_REG.TTHL, 2);
    const raw = await readRegisters(this.bus, a, AMG_REG.PIXELS, 128);
    const tMs = this.deps.clock.nowMs();
    if (stat & 0x0c) {
      await this.bus.writeByte(a, AMG_REG.SCLR, 0x0e);
      return new RejectedFrame(
        `STAT 0x${stat.toString(16)}: ${stat & 0x04 ? 'pixel' : 'thermistor'} overflow`,
      );
    }
    const thermistorC = decodeThermistor(th.readUInt16LE(0));
    if (thermistorC === undefined || thermistorC < -20 || thermistorC > 80) {
      return new RejectedFrame(`thermistor word 0x${th.readUInt16LE(0).toString(16)} implausible`);
    }
    const data = new Float32Array(64);
    for (let i = 0; i < 64; i++) {
      const t = decodePixel(raw.readUInt16LE(2 * i));
      if (t === undefined || t < -20 || t > 100) {
        return new RejectedFrame(`pixel ${i} word 0x${raw.readUInt16LE(2 * i).toString(16)} implausible`);
      }
      data[i] = t;
    }
    this.thermistorC = thermistorC;
    return {
      sensorId: this.deps.sensorId,
      modality: 'thermal',
      tMs,
      rateHz: this.opts.rateHz,
      data,
      shape: [1, 8, 8],
    };
  }
}

/** The AMG8833 frame source: `amg8833Frames(config, { openBus })`. */
export function amg8833Frames(config: Amg8833Config, deps: I2cDriverDeps): FrameSource {
  return i2cFrameSource(config, deps, (bus, ids) => new Amg8833Driver(bus, config, ids));
}
