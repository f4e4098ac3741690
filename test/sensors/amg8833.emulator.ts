/**
 * AMG8833 emulator after the register map (hardware.md §2.2): PCTL normal/sleep (sleep freezes
 * the pixels), RST 0x30 flag reset / 0x3F initial reset, FPSC 10/1 fps deciding when a new frame
 * lands, STAT overflow flags cleared through SCLR, AVE writable only after the 0x1F key sequence,
 * thermistor as 12-bit sign-magnitude (0.0625 °C), 64 pixels as 12-bit two's complement
 * (0.25 °C, little-endian, sign-filled). The scene: 22 °C background with a 34 °C spot that moves
 * one column per frame.
 */
import { I2cEmulator, type EmulatorOptions } from './i2c-emulator.js';

export class Amg8833Emulator extends I2cEmulator {
  readonly regs = new Uint8Array(256);
  private pointer = 0;
  private lastFrameMs = 0;
  private keyStep = 0;
  /** Frames produced since power-on. */
  frameCount = 0;
  thermistorC = 26;

  constructor(opts: Partial<EmulatorOptions> = {}) {
    super({ address: 0x69, ...opts });
    this.powerOn();
  }

  protected powerOn(): void {
    this.regs.fill(0);
    this.frameCount = 0;
    this.keyStep = 0;
    this.lastFrameMs = this.now();
    this.produce();
  }

  /** Ground truth of pixel i in frame k, °C (multiples of 0.25). */
  scene(k: number, i: number): number {
    const row = Math.floor(i / 8);
    const col = i % 8;
    return row >= 3 && row <= 4 && col === k % 8 ? 34 : 22 + (i % 4) * 0.25;
  }

  get rateHz(): number {
    return this.regs[0x02]! & 1 ? 1 : 10;
  }

  /** Raises STAT's pixel-overflow flag (as after a too-hot object). */
  overflow(): void {
    this.regs[0x04]! |= 0x04;
  }

  private produce(): void {
    const th = Math.round(Math.abs(this.thermistorC) / 0.0625) | (this.thermistorC < 0 ? 0x800 : 0);
    this.regs[0x0e] = th & 0xff;
    this.regs[0x0f] = th >> 8;
    for (let i = 0; i < 64; i++) {
      const w = Math.round(this.scene(this.frameCount, i) / 0.25) & 0xffff;
      this.regs[0x80 + 2 * i] = w & 0xff;
      this.regs[0x81 + 2 * i] = w >> 8;
    }
    this.frameCount++;
  }

  private tick(): void {
    const period = 1000 / this.rateHz;
    const now = this.now();
    const due = Math.floor((now - this.lastFrameMs) / period);
    if (due <= 0) return;
    this.lastFrameMs += due * period;
    if (this.regs[0x00] === 0x10) return; // sleep: pixels frozen
    this.produce();
  }

  private writeReg(reg: number, v: number): void {
    switch (reg) {
      case 0x01:
        if (v === 0x30 || v === 0x3f) this.regs[0x04] = 0;
        if (v === 0x3f) {
          this.regs[0x02] = 0;
          this.regs[0x03] = 0;
          this.regs[0x07] = 0;
        }
        return;
      case 0x04:
        return; // STAT is read-only
      case 0x05:
        this.regs[0x04]! &= ~(v & 0x0e);
        return;
      case 0x07:
        if (this.keyStep === 3) this.regs[0x07] = v & 0x20;
        return;
      case 0x1f: {
        const seq = [0x50, 0x45, 0x57];
        this.keyStep = v === seq[this.keyStep] ? this.keyStep + 1 : this.keyStep === 3 && v !== 0 ? 3 : 0;
        return;
      }
      default:
        if (reg < 0x80) this.regs[reg] = v;
    }
  }

  protected write(bytes: Uint8Array): void {
    this.tick();
    this.pointer = bytes[0] ?? this.pointer;
    for (let i = 1; i < bytes.length; i++) this.writeReg((this.pointer + i - 1) & 0xff, bytes[i]!);
  }

  protected read(prefix: Uint8Array | null, length: number): Uint8Array {
    this.tick();
    if (prefix && prefix.length > 0) this.pointer = prefix[0]!;
    const start = this.pointer;
    const out = this.regs.slice(start, start + length);
    this.pointer = (start + length) & 0xff;
    if (start >= 0x80) this.garble(out);
    return out;
  }

  /** Moving average enabled (set only after the key sequence). */
  get movingAverage(): boolean {
    return (this.regs[0x07]! & 0x20) !== 0;
  }
}
