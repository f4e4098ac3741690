/**
 * MPU-6050/6500/9250 emulator after the register map (hardware.md §1.1–1.3): 128-byte register
 * file, WHO_AM_I per variant, SLEEP at power-on (6050), DEVICE_RESET, ranges and DLPF/divider
 * deciding the sample rate, FIFO_EN/USER_CTRL gating a FIFO (1024 B on the 6050, 512 B on the
 * 6500 family) that fills with 14-byte records in real time, overwrites the oldest bytes and sets
 * INT_STATUS.FIFO_OFLOW when full, FIFO_RESET, INT_STATUS clear-on-read, FIFO_R_W pops without
 * address auto-increment. The motion is a slow rotation about z with gravity on +z.
 */
import { I2cEmulator, type EmulatorOptions } from './i2c-emulator.js';

const R = {
  SMPLRT_DIV: 0x19,
  CONFIG: 0x1a,
  GYRO_CONFIG: 0x1b,
  ACCEL_CONFIG: 0x1c,
  FIFO_EN: 0x23,
  INT_STATUS: 0x3a,
  ACCEL_XOUT_H: 0x3b,
  USER_CTRL: 0x6a,
  PWR_MGMT_1: 0x6b,
  FIFO_COUNTH: 0x72,
  FIFO_COUNTL: 0x73,
  FIFO_R_W: 0x74,
  WHO_AM_I: 0x75,
};

export interface MpuEmulatorOptions extends Partial<EmulatorOptions> {
  /** WHO_AM_I: 0x68 MPU-6050 (default), 0x70 MPU-6500, 0x71 MPU-9250. */
  whoAmI?: number;
  /** Die temperature, °C. */
  tempC?: number;
}

export class Mpu6050Emulator extends I2cEmulator {
  readonly regs = new Uint8Array(128);
  readonly whoAmI: number;
  readonly fifoSize: number;
  private fifo: number[] = [];
  private pointer = 0;
  private lastSampleMs = 0;
  private samples = 0;
  private stuck = false;
  tempC: number;
  /** Samples dropped because the FIFO was full. */
  overwritten = 0;

  constructor(opts: MpuEmulatorOptions = {}) {
    super({ address: 0x68, ...opts });
    this.whoAmI = opts.whoAmI ?? 0x68;
    this.fifoSize = this.whoAmI === 0x68 ? 1024 : 512;
    this.tempC = opts.tempC ?? 27;
    this.powerOn();
  }

  protected powerOn(): void {
    this.regs.fill(0);
    this.regs[R.WHO_AM_I] = this.whoAmI;
    this.regs[R.PWR_MGMT_1] = this.whoAmI === 0x68 ? 0x40 : 0x01;
    this.fifo = [];
    this.lastSampleMs = this.now();
    this.stuck = false;
  }

  /** The FIFO stops filling (stuck FIFO fault) until called with false. */
  stickFifo(on = true): void {
    this.stuck = on;
  }

  get asleep(): boolean {
    return (this.regs[R.PWR_MGMT_1]! & 0x40) !== 0;
  }

  get sampleRateHz(): number {
    const dlpf = this.regs[R.CONFIG]! & 7;
    return (dlpf === 0 || dlpf === 7 ? 8000 : 1000) / (1 + this.regs[R.SMPLRT_DIV]!);
  }

  get accelLsbPerG(): number {
    return 16384 >> ((this.regs[R.ACCEL_CONFIG]! >> 3) & 3);
  }

  get gyroLsbPerDps(): number {
    return 131 / 2 ** ((this.regs[R.GYRO_CONFIG]! >> 3) & 3);
  }

  /** Ground truth of sample `i`: accel in g, gyro in °/s. */
  truth(i: number): { accelG: [number, number, number]; gyroDps: [number, number, number] } {
    const t = i / this.sampleRateHz;
    return {
      accelG: [0.1 * Math.sin(2 * Math.PI * 0.5 * t), 0.05, 1],
      gyroDps: [0, 0, 20 * Math.sin(2 * Math.PI * 0.25 * t)],
    };
  }

  /** Adds the samples whose time has come to the FIFO and data registers. */
  private tick(): void {
    const now = this.now();
    const period = 1000 / this.sampleRateHz;
    let due = Math.floor((now - this.lastSampleMs) / period);
    if (due <= 0) return;
    this.lastSampleMs += due * period;
    if (this.asleep || this.stuck) return;
    due = Math.min(due, Math.ceil(this.fifoSize / 12) + 1);
    for (let k = 0; k < due; k++) this.sample();
  }

  private sample(): void {
    const { accelG, gyroDps } = this.truth(this.samples++);
    const clamp = (v: number) => Math.max(-32768, Math.min(32767, Math.round(v)));
    const words = [
      ...accelG.map((g) => clamp(g * this.accelLsbPerG)),
      clamp((this.tempC - (this.whoAmI === 0x68 ? 36.53 : 21)) * (this.whoAmI === 0x68 ? 340 : 333.87)),
      ...gyroDps.map((d) => clamp(d * this.gyroLsbPerDps)),
    ];
    words.forEach((w, i) => {
      this.regs[R.ACCEL_XOUT_H + 2 * i] = (w >> 8) & 0xff;
      this.regs[R.ACCEL_XOUT_H + 2 * i + 1] = w & 0xff;
    });
    const en = this.regs[R.FIFO_EN]!;
    if ((this.regs[R.USER_CTRL]! & 0x40) === 0 || en === 0) return;
    const bytes: number[] = [];
    const push = (w: number) => bytes.push((w >> 8) & 0xff, w & 0xff);
    if (en & 0x08) words.slice(0, 3).forEach(push);
    if (en & 0x80) push(words[3]!);
    if (en & 0x40) push(words[4]!);
    if (en & 0x20) push(words[5]!);
    if (en & 0x10) push(words[6]!);
    this.fifo.push(...bytes);
    if (this.fifo.length > this.fifoSize) {
      // Stream mode: the oldest bytes go, the stream is now misaligned, FIFO_OFLOW is set.
      this.fifo.splice(0, this.fifo.length - this.fifoSize);
      this.regs[R.INT_STATUS]! |= 0x10;
      this.overwritten++;
    }
  }

  private readReg(reg: number): number {
    switch (reg) {
      case R.INT_STATUS: {
        const v = this.regs[reg]!;
        this.regs[reg] = 0;
        return v;
      }
      case R.FIFO_COUNTH:
        return (this.fifo.length >> 8) & 0xff;
      case R.FIFO_COUNTL:
        return this.fifo.length & 0xff;
      case R.FIFO_R_W:
        return this.fifo.shift() ?? 0xff;
      default:
        return this.regs[reg & 0x7f]!;
    }
  }

  private writeReg(reg: number, v: number): void {
    switch (reg) {
      case R.WHO_AM_I:
      case R.INT_STATUS:
      case R.FIFO_COUNTH:
      case R.FIFO_COUNTL:
        return;
      case R.PWR_MGMT_1:
        if (v & 0x80) {
          this.powerOn(); // DEVICE_RESET: registers to defaults, asleep
          return;
        }
        this.regs[reg] = v;
        return;
      case R.USER_CTRL:
        if (v & 0x04) this.fifo = []; // FIFO_RESET, self-clearing
        this.regs[reg] = v & ~0x04;
        return;
      case R.FIFO_R_W:
        return;
      default:
        this.regs[reg & 0x7f] = v;
    }
  }

  protected write(bytes: Uint8Array): void {
    this.tick();
    this.pointer = bytes[0] ?? this.pointer;
    for (let i = 1; i < bytes.length; i++) {
      this.writeReg(this.pointer, bytes[i]!);
      if (this.pointer !== R.FIFO_R_W) this.pointer = (this.pointer + 1) & 0x7f;
    }
  }

  protected read(prefix: Uint8Array | null, length: number): Uint8Array {
    this.tick();
    if (prefix && prefix.length > 0) this.pointer = prefix[0]!;
    const start = this.pointer;
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.readReg(this.pointer);
      if (this.pointer !== R.FIFO_R_W) this.pointer = (this.pointer + 1) & 0x7f;
    }
    if (start === R.FIFO_R_W) this.garble(out);
    return out;
  }
}
