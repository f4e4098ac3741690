/**
 * BNO055 (I2C) emulator after the register map (hardware.md §1.5): two register pages behind
 * PAGE_ID, chip ids, power-on CONFIG mode with data registers reading 0 and SYS_STATUS 0 (idle),
 * OPR_MODE switching SYS_STATUS to 5 (fusion) or 6 (no fusion), page-1 and UNIT_SEL writes only
 * taken in CONFIG mode, SYS_TRIGGER 0x20 reset, and accel/gyro data in the units UNIT_SEL selects
 * (accel m/s² ×100 or mg; gyro °/s ×16 or rad/s ×900), little-endian, clipped to the page-1 range
 * in non-fusion modes. The device lies still, z up, turning slowly about z.
 */
import { I2cEmulator, type EmulatorOptions } from './i2c-emulator.js';

const G = 9.80665;

export class Bno055Emulator extends I2cEmulator {
  readonly page0 = new Uint8Array(128);
  readonly page1 = new Uint8Array(128);
  private pointer = 0;
  private startMs = 0;
  tempC = 24;

  constructor(opts: Partial<EmulatorOptions> = {}) {
    super({ address: 0x28, ...opts });
    this.powerOn();
  }

  protected powerOn(): void {
    this.page0.fill(0);
    this.page1.fill(0);
    this.page0.set([0xa0, 0xfb, 0x32, 0x0f], 0x00);
    this.page0[0x3b] = 0x80; // UNIT_SEL reset value (Android orientation, SI-ish defaults)
    this.page1[0x08] = 0x0d; // ACC_Config: 4 g, 62.5 Hz
    this.page1[0x0a] = 0x38; // GYR_Config_0: 2000 °/s, 32 Hz
    this.page1[0x07] = 1;
    this.startMs = this.now();
  }

  get mode(): number {
    return this.page0[0x3d]! & 0x0f;
  }

  private get page(): Uint8Array {
    return this.page0[0x07] === 1 ? this.page1 : this.page0;
  }

  /** Ground truth at time t (s): accel m/s², gyro rad/s. */
  truth(tS: number): { accel: [number, number, number]; gyro: [number, number, number] } {
    return { accel: [0.2, -0.1, G], gyro: [0, 0, 0.5 * Math.sin(2 * Math.PI * 0.2 * tS)] };
  }

  private refresh(): void {
    const p = this.page0;
    if (this.mode === 0) {
      p.fill(0, 0x08, 0x35);
      p[0x39] = 0;
      return;
    }
    const { accel, gyro } = this.truth((this.now() - this.startMs) / 1000);
    const fusion = this.mode >= 0x08;
    const accMaxG = fusion ? 4 : [2, 4, 8, 16][this.page1[0x08]! & 3]!;
    const gyrMaxDps = fusion ? 2000 : ([2000, 1000, 500, 250, 125][this.page1[0x0a]! & 7] ?? 2000);
    const unit = p[0x3b]!;
    const put = (reg: number, v: number) => {
      const w = Math.max(-32768, Math.min(32767, Math.round(v))) & 0xffff;
      p[reg] = w & 0xff;
      p[reg + 1] = w >> 8;
    };
    accel.forEach((a, k) => {
      const clipped = Math.max(-accMaxG * G, Math.min(accMaxG * G, a));
      put(0x08 + 2 * k, unit & 1 ? (clipped / G) * 1000 : clipped * 100);
    });
    gyro.forEach((w, k) => {
      const dps = Math.max(-gyrMaxDps, Math.min(gyrMaxDps, (w * 180) / Math.PI));
      put(0x14 + 2 * k, unit & 2 ? ((dps * Math.PI) / 180) * 900 : dps * 16);
    });
    p[0x34] = this.tempC & 0xff;
    p[0x35] = 0xff; // fully calibrated
    p[0x39] = fusion ? 5 : 6;
  }

  private writeReg(reg: number, v: number): void {
    const config = this.mode === 0;
    if (reg === 0x07) {
      this.page0[0x07] = v & 1;
      this.page1[0x07] = v & 1;
      return;
    }
    if (this.page === this.page1) {
      if (config) this.page1[reg] = v;
      return;
    }
    switch (reg) {
      case 0x3d:
        this.page0[reg] = v & 0x0f;
        return;
      case 0x3e:
        this.page0[reg] = v & 3;
        return;
      case 0x3f:
        if (v & 0x20) this.powerOn();
        return;
      default:
        if (reg >= 0x3b && config) this.page0[reg] = v; // configuration registers: CONFIG mode only
    }
  }

  protected write(bytes: Uint8Array): void {
    this.pointer = bytes[0] ?? this.pointer;
    for (let i = 1; i < bytes.length; i++) this.writeReg((this.pointer + i - 1) & 0x7f, bytes[i]!);
  }

  protected read(prefix: Uint8Array | null, length: number): Uint8Array {
    this.refresh();
    if (prefix && prefix.length > 0) this.pointer = prefix[0]!;
    const start = this.pointer;
    const out = this.page.slice(start, start + length);
    this.pointer = (start + length) & 0x7f;
    if (start === 0x08 && this.page === this.page0) this.garble(out);
    return out;
  }
}
