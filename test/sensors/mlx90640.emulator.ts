/**
 * MLX90640 emulator: serves Melexis' example EEPROM and its two RAM frames
 * (/work/shared/reference/mlx90640/melexis-example.json) over the emulated bus, alternating
 * subpage 0 and 1 at the rate set in control register 1 (bits 9:7), with the status register's
 * new-data flag (bit 3) set per subpage and cleared by the host.
 *
 * Protocol as the datasheet and Melexis describe it: reads are [addrHi, addrLo] REPEATED START
 * read; after a STOP the chip forgets the address, so a plain read NACKs (EREMOTEIO). Writes are
 * [addrHi, addrLo, dataHi, dataLo]; EEPROM writes are ignored (they need an erase cycle).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { i2cError } from '../../src/sensors/bus/i2c.js';
import { I2cEmulator, type EmulatorOptions } from './i2c-emulator.js';

export interface MelexisExample {
  eeprom: { words: number[] };
  frames: { subpage: 0 | 1; words: number[] }[];
  expected: {
    calibration: Record<string, { value?: number; values?: number[] }>;
    perPixel: Record<'alpha' | 'offset' | 'kta' | 'kv', { values: number[] }>;
    objectTemperatureC: { values: number[] };
  };
  derivedByExtractor: {
    perFrame: { vddV: number; taC: number; kGain: number }[];
    calibrationExact: {
      kSTo: number[];
      tgc: number;
      ilChessC1C2C3: number[];
      kVPtat: number;
      kTaCp: number;
      kSTa: number;
    };
  };
  settings: { controlRegister: { value: number } };
  datasheetWorkedExample: {
    eeprom: { words0x2400to0x240F: number[]; words0x2410to0x243F: number[]; pixelWordForAllPixels: number };
    ram: { pixelWordForAllPixels: number; auxSigned: Record<string, { address: string; value: number }> };
    expected: {
      calibration: {
        kVdd: number;
        vdd25: number;
        kVPtat: number;
        kTPtat: number;
        vPtat25: number;
        alphaPtat: number;
        gainEe: number;
        resolutionEe: number;
        kVCp: number;
        kTaCp: number;
        kSTa: number;
        tgc: number;
        alphaCp: number[];
        offsetCp: number[];
        cornerTemperaturesC: number[];
        kSTo1: number;
        ilChessC2: number;
        ilChessC3: number;
      };
      pixel367: { offset: number; kta: number; kv: number; alpha: number };
      frame: {
        vddV: { value: number; tolerance: number };
        taC: { value: number; datasheetPrinted: number };
        kGain: number;
      };
      pixelSteps: {
        vIrBeforeGradientCompensation: { value: number; datasheetPrinted: number };
        taTrK4: { value: number };
        objectTemperatureC: { value: number; alphaCompensated: number; vIrCompensated: number };
      };
    };
  };
}

/** Loads the example from /work/shared (…/main/test/sensors → …/shared), whatever the cwd. */
export function loadMelexisExample(): MelexisExample {
  const url = new URL('../../../shared/reference/mlx90640/melexis-example.json', import.meta.url);
  return JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as MelexisExample;
}

export class Mlx90640Emulator extends I2cEmulator {
  readonly eeprom: Uint16Array;
  private readonly frames: Uint16Array[];
  ram = new Uint16Array(832);
  status = 0;
  control = 0;
  i2cConfig = 0;
  /** Subpages measured since power-on. */
  measured = 0;
  /** Reads of the status register (each one an i2ctransfer run on real hardware). */
  statusReads = 0;
  private lastMeasureMs = 0;
  private frozen = false;
  /** Words poked into every measured frame until cleared (e.g. 0x7FFF), by RAM offset. */
  readonly poke = new Map<number, number>();

  constructor(opts: Partial<EmulatorOptions> & { example?: MelexisExample } = {}) {
    super({ address: 0x33, ...opts });
    const ex = opts.example ?? loadMelexisExample();
    this.eeprom = Uint16Array.from(ex.eeprom.words);
    this.frames = ex.frames.map((f) => Uint16Array.from(f.words));
    this.powerOn();
  }

  protected powerOn(): void {
    this.control = this.eeprom[0x0c] ?? 0x1901;
    this.i2cConfig = this.eeprom[0x0e] ?? 0;
    this.status = 0;
    this.ram.fill(0);
    this.measured = 0;
    this.lastMeasureMs = this.now();
  }

  /** Stops measuring (the "stuck" fault): the new-data flag never comes again. */
  freeze(on = true): void {
    this.frozen = on;
  }

  get refreshRateHz(): number {
    return 0.5 * 2 ** ((this.control >> 7) & 7);
  }

  /** Completes the subpages whose measurement time has passed. */
  private tick(): void {
    const periodMs = 1000 / this.refreshRateHz;
    const now = this.now();
    if (this.frozen) {
      this.lastMeasureMs = now;
      return;
    }
    let due = Math.floor((now - this.lastMeasureMs) / periodMs);
    if (due <= 0) return;
    this.lastMeasureMs += due * periodMs;
    due = Math.min(due, 2);
    for (let i = 0; i < due; i++) this.measure();
  }

  /** One subpage measurement: frame 0 for subpage 0, frame 1 for subpage 1, alternately. */
  measure(): void {
    const subpage = this.measured % 2;
    const frame = this.frames[subpage]!;
    this.ram.set(frame);
    for (const [i, v] of this.poke) this.ram[i] = v;
    this.status = (this.status & ~0x7) | subpage | 0x8;
    this.measured++;
  }

  private readWord(address: number): number {
    if (address === 0x8000) return this.status;
    if (address === 0x800d) return this.control;
    if (address === 0x800f) return this.i2cConfig;
    if (address >= 0x0400 && address < 0x0740) return this.ram[address - 0x0400]!;
    if (address >= 0x2400 && address < 0x2740) return this.eeprom[address - 0x2400]!;
    return 0;
  }

  protected write(bytes: Uint8Array): void {
    this.tick();
    if (bytes.length === 1 && bytes[0] === 0x06) {
      // General reset (sent to address 0x00 on a real bus; accepted here for completeness).
      this.powerOn();
      return;
    }
    // A bare address write is ACKed, but the pointer is dropped at the STOP.
    if (bytes.length === 2) return;
    if (bytes.length !== 4) throw i2cError('EREMOTEIO', 'write');
    const address = (bytes[0]! << 8) | bytes[1]!;
    const value = (bytes[2]! << 8) | bytes[3]!;
    if (address === 0x8000) this.status = (this.status & 0x7) | (value & 0xfff8);
    else if (address === 0x800d) this.control = value;
    else if (address === 0x800f) this.i2cConfig = value;
  }

  protected read(prefix: Uint8Array | null, length: number): Uint8Array {
    // After a STOP the MLX90640 does not fetch the read address and ends the transfer.
    if (prefix === null || prefix.length !== 2 || length % 2 !== 0) throw i2cError('EREMOTEIO', 'read');
    this.tick();
    const start = (prefix[0]! << 8) | prefix[1]!;
    if (start === 0x8000) this.statusReads++;
    const out = new Uint8Array(length);
    for (let i = 0; i < length / 2; i++) {
      const w = this.readWord(start + i);
      out[2 * i] = w >> 8;
      out[2 * i + 1] = w & 0xff;
    }
    if (start >= 0x0400 && start < 0x0740 && length >= 64) this.garble(out);
    return out;
  }
}
