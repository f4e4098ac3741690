/**
 * Melexis MLX90640 32×24 far-infrared array over I2C (issue #6).
 *
 * Native units: frames are thermal `[1, 24, 32]` object temperatures in °C (row-major, row 0 at
 * the top as the device stores it), after the datasheet's full EEPROM calibration
 * (`mlx90640-calibration.ts`) with the configured emissivity and reflected temperature.
 *
 * Subpages: the chip measures half the pixels per "refresh" (chess pattern by default). The
 * driver yields after every subpage once both have been seen, so the image always holds the
 * newest value of every pixel; `rateHz` is the subpage rate (= `refreshRateHz`). `tMs` is the
 * ctx.clock time at which the new-data flag was seen.
 *
 * Bus: 16-bit register addresses, 16-bit big-endian words, reads need a REPEATED START, so every
 * read goes through `I2cBus.writeRead` (see `../bus/i2c.ts` for why and how); writes are one
 * plain 4-byte write (address, data) and are verified by reading back, as Melexis does.
 *
 * Garbage: a frame is rejected (counted, not thrown) when a word of the measured subpage or a used
 * auxiliary word reads 0x7FFF (Melexis' "I2C too slow" marker), when Vdd or Ta are implausible,
 * or when any object temperature is outside −70…400 °C or not finite. A changed control register
 * means the chip was power-cycled: the driver re-initialises it.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { DeviceError } from '../../errors.js';
import { sleep, type Clock } from '../../pipeline/clock.js';
import type { Frame } from '../../pipeline/types.js';
import type { I2cBus } from '../bus/i2c.js';
import type { FrameSource } from '../types.js';
import {
  MLX_COLS,
  MLX_PIXELS,
  MLX_ROWS,
  MLX_WORDS,
  RAM,
  controlFields,
  eepromProblems,
  extractParameters,
  inSubpage,
  objectTemperatures,
  replaceDeviatingPixels,
  type Mlx90640Params,
} from './mlx90640-calibration.js';
import {
  i2cCommon,
  RejectedFrame,
  i2cFrameSource,
  type DeviceSession,
  type I2cDriverDeps,
} from './runner.js';

/** Register addresses. */
export const MLX_REG = {
  status: 0x8000,
  control1: 0x800d,
  i2cConfig: 0x800f,
  ram: 0x0400,
  eeprom: 0x2400,
} as const;

/** Subpage refresh rates the chip offers (control register bits 9:7 = log2(rate·2)). */
export const MLX_REFRESH_RATES_HZ = [0.5, 1, 2, 4, 8, 16, 32, 64] as const;

export const Mlx90640ConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('thermal').default('thermal').meta({ description: 'Always thermal.' }),
  driver: z.literal('mlx90640'),
  ...i2cCommon,
  address: z
    .int()
    .min(0x01)
    .max(0x7f)
    .default(0x33)
    .meta({ description: 'I2C address (factory 0x33; must match EEPROM 0x240F). Restart.' }),
  refreshRateHz: z
    .literal([...MLX_REFRESH_RATES_HZ])
    .default(4)
    .meta({ description: 'Subpage rate, Hz; a full image takes two. 400 kHz I2C sustains ≤ 16. Restart.' }),
  emissivity: z
    .number()
    .gt(0)
    .max(1)
    .default(0.95)
    .meta({ description: 'Object emissivity, (0, 1]; 0.95 suits skin, paint, most non-metals.' }),
  reflectedTempC: z.number().min(-60).max(300).optional().meta({
    description: 'Reflected (background) temperature, °C. Default: sensor ambient − 8 °C (Melexis).',
  }),
});
export type Mlx90640Config = z.infer<typeof Mlx90640ConfigSchema>;

const PLAUSIBLE_TO_C = [-70, 400] as const;
const PLAUSIBLE_TA_C = [-45, 130] as const;
const PLAUSIBLE_VDD_V = [2.6, 4.0] as const;
/** Aux words whose 0x7FFF marks a corrupted read. */
const USED_AUX = [RAM.taVbe, RAM.cp0, RAM.gain, RAM.taPtat, RAM.cp1, RAM.vddPix];

export interface Mlx90640Options {
  address: number;
  refreshRateHz: number;
  emissivity: number;
  reflectedTempC?: number | undefined;
}

/** One initialised MLX90640 on an open bus. */
export class Mlx90640Driver implements DeviceSession {
  /** Parameters restored from the EEPROM by `init()`. */
  params: Mlx90640Params | undefined;
  private control = 0;
  private readonly image = new Float32Array(MLX_PIXELS).fill(Number.NaN);
  private readonly scratch = new Float32Array(MLX_PIXELS);
  private seen = 0;
  private lastDataMs = 0;
  private quietUntil = 0;
  private readonly periodMs: number;

  constructor(
    private readonly bus: I2cBus,
    private readonly opts: Mlx90640Options,
    private readonly deps: { clock: Clock; sensorId: string },
  ) {
    if (!MLX_REFRESH_RATES_HZ.includes(opts.refreshRateHz as (typeof MLX_REFRESH_RATES_HZ)[number])) {
      throw new TypeError(
        `MLX90640 refresh rate ${opts.refreshRateHz} Hz is not one of ${MLX_REFRESH_RATES_HZ.join(', ')}`,
      );
    }
    this.periodMs = 1000 / opts.refreshRateHz;
  }

  /** Reads `count` words from `address` in one repeated-start transfer. */
  async readWords(address: number, count: number): Promise<Uint16Array> {
    const buf = await this.bus.writeRead(
      this.opts.address,
      Uint8Array.of(address >> 8, address & 0xff),
      count * 2,
    );
    if (buf.length !== count * 2) {
      throw Object.assign(
        new Error(`short read at 0x${address.toString(16)}: ${buf.length} of ${count * 2} bytes`),
        {
          code: 'SHORT_READ',
        },
      );
    }
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = buf.readUInt16BE(2 * i);
    return out;
  }

  async writeWord(address: number, value: number, verify = true): Promise<void> {
    const b = Buffer.from([address >> 8, address & 0xff, (value >> 8) & 0xff, value & 0xff]);
    await this.bus.i2cWrite(this.opts.address, 4, b);
    if (!verify) return;
    const [back] = await this.readWords(address, 1);
    if (back !== value) {
      throw new DeviceError(
        this.deps.sensorId,
        `MLX90640 write 0x${value.toString(16)} to 0x${address.toString(16)} read back 0x${(back ?? 0).toString(16)}`,
        { disconnected: true },
      );
    }
  }

  /** Restores the calibration from EEPROM and sets the refresh rate. */
  async init(): Promise<void> {
    const ee = await this.readWords(MLX_REG.eeprom, MLX_WORDS);
    const params = extractParameters(ee);
    const problems = eepromProblems(params, this.opts.address);
    if (problems.length > 0) {
      // Usually a garbled read; retried by the runner after a backoff.
      throw new DeviceError(this.deps.sensorId, `MLX90640 EEPROM unusable: ${problems.join('; ')}`, {
        disconnected: true,
      });
    }
    this.params = params;
    const [current = 0] = await this.readWords(MLX_REG.control1, 1);
    const rateCode = Math.round(Math.log2(this.opts.refreshRateHz * 2));
    // Keep resolution and reading pattern (those the device was calibrated with), set the rate,
    // keep subpage mode on (bit 0) and subpage repeat off (bit 3).
    const control = (current & ~(0x7 << 7) & ~0x8) | (rateCode << 7) | 0x1;
    await this.writeWord(MLX_REG.control1, control);
    this.control = control;
    this.seen = 0;
    this.image.fill(Number.NaN);
    this.lastDataMs = this.deps.clock.nowMs();
  }

  async next(signal: AbortSignal): Promise<Frame | RejectedFrame> {
    const params = this.params;
    if (!params) throw new TypeError('Mlx90640Driver.next() before init()');
    const pollMs = Math.min(50, Math.max(2, this.periodMs / 8));
    const stallMs = Math.max(1000, 3 * this.periodMs);
    for (;;) {
      // Each read is an i2ctransfer process on real hardware: stay quiet for most of a subpage
      // period after the last one instead of polling it all the way (real time, not ctx.clock).
      const quietMs = this.quietUntil - performance.now();
      if (quietMs > 0) await sleep(quietMs, signal);
      const [status = 0] = await this.readWords(MLX_REG.status, 1);
      const now = this.deps.clock.nowMs();
      if ((status & 0x8) === 0) {
        if (now - this.lastDataMs > stallMs) {
          throw new DeviceError(
            this.deps.sensorId,
            `MLX90640 no new data for ${Math.round(now - this.lastDataMs)} ms`,
            {
              disconnected: true,
            },
          );
        }
        await sleep(pollMs, signal);
        continue;
      }
      this.lastDataMs = now;
      this.quietUntil = performance.now() + 0.7 * this.periodMs;
      const read = await this.readSubpage();
      if (!read) return new RejectedFrame('a new subpage landed during every RAM read (torn)');
      const { ram, status: settled } = read;
      const [control = 0] = await this.readWords(MLX_REG.control1, 1);
      if (control !== this.control) {
        throw new DeviceError(
          this.deps.sensorId,
          `MLX90640 control register changed to 0x${control.toString(16)} (reset?)`,
          {
            disconnected: true,
          },
        );
      }
      if ((settled & 0x7) > 1) return new RejectedFrame(`status 0x${settled.toString(16)}: bad subpage`);
      const subpage = (settled & 1) as 0 | 1;
      const rejected = this.process(params, ram, subpage);
      if (rejected) return rejected;
      this.seen |= 1 << subpage;
      if (this.seen !== 3) continue;
      return {
        sensorId: this.deps.sensorId,
        modality: 'thermal',
        tMs: now,
        rateHz: this.opts.refreshRateHz,
        data: this.image.slice(),
        shape: [1, MLX_ROWS, MLX_COLS],
      };
    }
  }

  /**
   * Reads the RAM of the last measured subpage, as Melexis' GetFrameData does (issue #24): clear
   * "new data" (bit 3, keeping overwrite enabled), read the RAM, read the status again; if a new
   * subpage landed meanwhile (a late event loop, a slow bus) the RAM may hold pixels and
   * auxiliary words of two measurements, so read it again, at most 5 times. The subpage number is
   * the one from the status read *after* the RAM, never the one that announced the data: a
   * subpage finished between that status read and the clear would otherwise be calibrated as
   * the other one.
   */
  private async readSubpage(): Promise<{ ram: Uint16Array; status: number } | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.writeWord(MLX_REG.status, 0x0030, false);
      const ram = await this.readWords(MLX_REG.ram, MLX_WORDS);
      const [status = 0] = await this.readWords(MLX_REG.status, 1);
      if ((status & 0x8) === 0) return { ram, status };
    }
    return undefined;
  }

  /** Calibrates one subpage into the image, or says why the frame is garbage. */
  private process(params: Mlx90640Params, ram: Uint16Array, subpage: 0 | 1): RejectedFrame | undefined {
    const { chess } = controlFields(this.control);
    for (const i of USED_AUX)
      if (ram[i] === 0x7fff) return new RejectedFrame('corrupted auxiliary word (0x7FFF)');
    for (let p = 0; p < MLX_PIXELS; p++) {
      if (ram[p] === 0x7fff && inSubpage(p, subpage, chess))
        return new RejectedFrame('corrupted pixel word (0x7FFF)');
    }
    const r = objectTemperatures(
      params,
      {
        ram,
        control: this.control,
        subpage,
        emissivity: this.opts.emissivity,
        reflectedTempC: this.opts.reflectedTempC,
      },
      this.scratch,
    );
    if (!(r.vddV >= PLAUSIBLE_VDD_V[0] && r.vddV <= PLAUSIBLE_VDD_V[1]))
      return new RejectedFrame(`Vdd ${r.vddV.toFixed(2)} V`);
    if (!(r.taC >= PLAUSIBLE_TA_C[0] && r.taC <= PLAUSIBLE_TA_C[1]))
      return new RejectedFrame(`Ta ${r.taC.toFixed(1)} °C`);
    const bad = new Set([...params.brokenPixels, ...params.outlierPixels]);
    for (let p = 0; p < MLX_PIXELS; p++) {
      if (!inSubpage(p, subpage, chess) || bad.has(p)) continue;
      const t = this.scratch[p]!;
      if (!(t >= PLAUSIBLE_TO_C[0] && t <= PLAUSIBLE_TO_C[1]))
        return new RejectedFrame(`pixel ${p} at ${t} °C`);
    }
    for (let p = 0; p < MLX_PIXELS; p++) if (inSubpage(p, subpage, chess)) this.image[p] = this.scratch[p]!;
    replaceDeviatingPixels(this.image, [...bad], chess);
    return undefined;
  }
}

/** The MLX90640 frame source: `mlx90640Frames(config, { openBus })`. */
export function mlx90640Frames(config: Mlx90640Config, deps: I2cDriverDeps): FrameSource {
  return i2cFrameSource(config, deps, (bus, ids) => new Mlx90640Driver(bus, config, ids));
}
