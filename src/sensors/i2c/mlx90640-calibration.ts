/**
 * MLX90640 calibration: EEPROM → parameters (datasheet rev 12 §11.1) and one subpage's RAM frame
 * → Vdd, Ta and object temperatures (§11.2). Pure functions in float64, checked against Melexis'
 * calculation example (test/sensors/mlx90640.test.ts). Pixel p = 32·row + col, 0-based; the
 * kta/kv parity index is k = 2·(row mod 2) + (col mod 2).
 */

export const MLX_ROWS = 24;
export const MLX_COLS = 32;
export const MLX_PIXELS = MLX_ROWS * MLX_COLS;
/** EEPROM and RAM are both 832 words (0x2400–0x273F, 0x0400–0x073F). */
export const MLX_WORDS = 832;

/** Every parameter restored from the EEPROM, in physical units. */
export interface Mlx90640Params {
  /** Vdd sensitivity, LSB/V (§11.1.1). */
  kVdd: number;
  /** VDDpix reading at 3.3 V and 25 °C, LSB. */
  vdd25: number;
  /** PTAT supply dependence, 1/V (§11.1.2). */
  kVPtat: number;
  /** PTAT slope, LSB/°C. */
  kTPtat: number;
  /** PTAT at 25 °C, LSB. */
  vPtat25: number;
  alphaPtat: number;
  /** Gain reference, LSB (§11.1.7). */
  gainEe: number;
  /** Temperature gradient coefficient (§11.1.16). */
  tgc: number;
  /** ADC resolution code the device was calibrated at (2 = 18-bit) (§11.1.17). */
  resolutionEe: number;
  /** Sensitivity dependence on Ta, 1/°C (§11.1.8). */
  kSTa: number;
  /** Corner temperatures CT1..CT4, °C (§11.1.9). */
  cornerTemperaturesC: [number, number, number, number];
  /** Sensitivity slope per object-temperature range, 1/°C (§11.1.10). */
  kSTo: [number, number, number, number];
  /** Compensation pixel sensitivity [subpage 0, subpage 1] (§11.1.12). */
  alphaCp: [number, number];
  /** Compensation pixel offset [subpage 0, subpage 1], LSB (§11.1.13). */
  offsetCp: [number, number];
  /** Compensation pixel kV, 1/V, and kTa, 1/°C (§11.1.14, 11.1.15). */
  kVCp: number;
  kTaCp: number;
  /** Interleaved/chess correction C1..C3 (§11.1.18). */
  ilChess: [number, number, number];
  /** True when the device was calibrated in chess reading pattern (EEPROM 0x240A bit 11 = 0). */
  calibratedInChess: boolean;
  /**
   * Per pixel: sensitivity α (counts/K⁴, before the TGC and KsTa corrections, §11.1.4), offset
   * (LSB), kta (1/°C), kv (1/V).
   */
  alpha: Float64Array;
  offset: Float64Array;
  kta: Float64Array;
  kv: Float64Array;
  /** Pixel indices with EEPROM word 0 (broken) or bit 0 set (outlier) (§11.1.19). */
  brokenPixels: number[];
  outlierPixels: number[];
  /** I2C address stored in EEPROM 0x240F (low byte). */
  i2cAddress: number;
  /** Control register 1 default stored in EEPROM 0x240C. */
  controlRegisterEe: number;
}

/** Sign-extends the low `bits` bits of `v`. */
function signed(v: number, bits: number): number {
  const m = 1 << bits;
  const x = v & (m - 1);
  return x >= m / 2 ? x - m : x;
}

/** Restores every parameter from the 832 EEPROM words (word i = address 0x2400 + i). */
export function extractParameters(eeprom: ArrayLike<number>): Mlx90640Params {
  if (eeprom.length < MLX_WORDS)
    throw new RangeError(`MLX90640 EEPROM needs ${MLX_WORDS} words, got ${eeprom.length}`);
  const ee = (i: number): number => (eeprom[i] ?? 0) & 0xffff;
  const nib = (w: number, n: 1 | 2 | 3 | 4) => (w >> (4 * (n - 1))) & 0xf;

  // §11.1.1 supply voltage
  const kVdd = signed(ee(0x33) >> 8, 8) * 32;
  const vdd25 = ((ee(0x33) & 0xff) - 256) * 32 - 8192;
  // §11.1.2 ambient temperature
  const kVPtat = signed(ee(0x32) >> 10, 6) / 4096;
  const kTPtat = signed(ee(0x32), 10) / 8;
  const vPtat25 = ee(0x31);
  const alphaPtat = nib(ee(0x10), 4) / 4 + 8;
  const gainEe = signed(ee(0x30), 16);
  const tgc = signed(ee(0x3c), 8) / 32;
  const kSTa = signed(ee(0x3c) >> 8, 8) / 8192;
  const resolutionEe = (ee(0x38) >> 12) & 0x3;

  // §11.1.9/10 corner temperatures and KsTo
  const step = ((ee(0x3f) >> 12) & 0x3) * 10;
  const ct3 = nib(ee(0x3f), 2) * step;
  const ct4 = ct3 + nib(ee(0x3f), 3) * step;
  const ksToScale = 2 ** (nib(ee(0x3f), 1) + 8);
  const kSTo: [number, number, number, number] = [
    signed(ee(0x3d), 8) / ksToScale,
    signed(ee(0x3d) >> 8, 8) / ksToScale,
    signed(ee(0x3e), 8) / ksToScale,
    signed(ee(0x3e) >> 8, 8) / ksToScale,
  ];

  // §11.1.12–15 compensation pixel
  const ktaScale1 = nib(ee(0x38), 2) + 8;
  const ktaScale2 = nib(ee(0x38), 1);
  const kvScale = nib(ee(0x38), 3);
  const alphaCp0 = signed(ee(0x39), 10) / 2 ** (nib(ee(0x20), 4) + 27);
  const alphaCp1 = alphaCp0 * (1 + signed(ee(0x39) >> 10, 6) / 128);
  const offsetCp0 = signed(ee(0x3a), 10);
  const offsetCp1 = offsetCp0 + signed(ee(0x3a) >> 10, 6);
  const kTaCp = signed(ee(0x3b), 8) / 2 ** ktaScale1;
  const kVCp = signed(ee(0x3b) >> 8, 8) / 2 ** kvScale;

  // §11.1.18 interleaved/chess correction
  const ilChess: [number, number, number] = [
    signed(ee(0x35), 6) / 16,
    signed(ee(0x35) >> 6, 5) / 2,
    signed(ee(0x35) >> 11, 5) / 8,
  ];
  const calibratedInChess = (ee(0x0a) & 0x0800) === 0;

  // Row/column nibble tables: 4 signed nibbles per word, low nibble first.
  const nibbles = (first: number, words: number): number[] => {
    const out: number[] = [];
    for (let i = 0; i < words; i++) for (let n = 0; n < 4; n++) out.push(signed(ee(first + i) >> (4 * n), 4));
    return out;
  };
  // §11.1.3 offset
  const occRemScale = nib(ee(0x10), 1);
  const occColScale = nib(ee(0x10), 2);
  const occRowScale = nib(ee(0x10), 3);
  const offsetRef = signed(ee(0x11), 16);
  const occRow = nibbles(0x12, 6);
  const occCol = nibbles(0x18, 8);
  // §11.1.4 alpha
  const accRemScale = nib(ee(0x20), 1);
  const accColScale = nib(ee(0x20), 2);
  const accRowScale = nib(ee(0x20), 3);
  const alphaScale = nib(ee(0x20), 4) + 30;
  const alphaRef = ee(0x21);
  const accRow = nibbles(0x22, 6);
  const accCol = nibbles(0x28, 8);
  // §11.1.5/6 kta and kv by row/column parity
  const ktaRc = [
    signed(ee(0x36) >> 8, 8),
    signed(ee(0x37) >> 8, 8),
    signed(ee(0x36), 8),
    signed(ee(0x37), 8),
  ];
  const kvT = [
    signed(nib(ee(0x34), 4), 4),
    signed(nib(ee(0x34), 2), 4),
    signed(nib(ee(0x34), 3), 4),
    signed(nib(ee(0x34), 1), 4),
  ];

  const alpha = new Float64Array(MLX_PIXELS);
  const offset = new Float64Array(MLX_PIXELS);
  const kta = new Float64Array(MLX_PIXELS);
  const kv = new Float64Array(MLX_PIXELS);
  const brokenPixels: number[] = [];
  const outlierPixels: number[] = [];
  for (let row = 0; row < MLX_ROWS; row++) {
    for (let col = 0; col < MLX_COLS; col++) {
      const p = row * MLX_COLS + col;
      const w = ee(0x40 + p);
      const k = 2 * (row % 2) + (col % 2);
      offset[p] =
        offsetRef +
        (occRow[row] ?? 0) * 2 ** occRowScale +
        (occCol[col] ?? 0) * 2 ** occColScale +
        signed(w >> 10, 6) * 2 ** occRemScale;
      alpha[p] =
        (alphaRef +
          (accRow[row] ?? 0) * 2 ** accRowScale +
          (accCol[col] ?? 0) * 2 ** accColScale +
          signed(w >> 4, 6) * 2 ** accRemScale) /
        2 ** alphaScale;
      kta[p] = ((ktaRc[k] ?? 0) + signed(w >> 1, 3) * 2 ** ktaScale2) / 2 ** ktaScale1;
      kv[p] = (kvT[k] ?? 0) / 2 ** kvScale;
      if (w === 0) brokenPixels.push(p);
      else if (w & 1) outlierPixels.push(p);
    }
  }

  return {
    kVdd,
    vdd25,
    kVPtat,
    kTPtat,
    vPtat25,
    alphaPtat,
    gainEe,
    tgc,
    resolutionEe,
    kSTa,
    cornerTemperaturesC: [-40, 0, ct3, ct4],
    kSTo,
    alphaCp: [alphaCp0, alphaCp1],
    offsetCp: [offsetCp0, offsetCp1],
    kVCp,
    kTaCp,
    ilChess,
    calibratedInChess,
    alpha,
    offset,
    kta,
    kv,
    brokenPixels,
    outlierPixels,
    i2cAddress: ee(0x0f) & 0x7f,
    controlRegisterEe: ee(0x0c),
  };
}

/**
 * Problems that make an EEPROM dump unusable (a garbled read, or a device Melexis would reject:
 * more than 4 deviating pixels or two adjacent ones). Empty when the dump is plausible.
 */
export function eepromProblems(params: Mlx90640Params, expectedAddress: number): string[] {
  const problems: string[] = [];
  if (params.i2cAddress !== expectedAddress)
    problems.push(`EEPROM I2C address 0x${params.i2cAddress.toString(16)}`);
  if (!(params.kVdd < 0)) problems.push(`kVdd ${params.kVdd} not negative`);
  if (!(params.kTPtat > 0)) problems.push(`kTPtat ${params.kTPtat} not positive`);
  if (params.gainEe === 0 || params.vPtat25 === 0) problems.push('gain or vPtat25 is zero');
  const bad = [...params.brokenPixels, ...params.outlierPixels].sort((a, b) => a - b);
  if (bad.length > 4) problems.push(`${bad.length} deviating pixels (more than 4)`);
  for (let i = 0; i < bad.length; i++) {
    for (let j = i + 1; j < bad.length; j++) {
      const a = bad[i]!;
      const b = bad[j]!;
      const dr = Math.abs(Math.floor(a / MLX_COLS) - Math.floor(b / MLX_COLS));
      const dc = Math.abs((a % MLX_COLS) - (b % MLX_COLS));
      if (dr <= 1 && dc <= 1) problems.push(`adjacent deviating pixels ${a} and ${b}`);
    }
  }
  for (let p = 0; p < MLX_PIXELS; p++) {
    if (!(params.alpha[p]! > 0) && !bad.includes(p)) {
      problems.push(`pixel ${p} has non-positive sensitivity`);
      break;
    }
  }
  return problems;
}

/** Control register 1 (0x800D) fields. */
export interface ControlFields {
  /** 0 = 16-bit … 3 = 19-bit ADC. */
  resolution: number;
  /** True in chess reading pattern (default), false in interleaved (TV) mode. */
  chess: boolean;
  /** Refresh-rate code 0–7 (0.5·2^code Hz, per subpage). */
  rateCode: number;
}

export function controlFields(control: number): ControlFields {
  return { resolution: (control >> 10) & 3, chess: (control & 0x1000) !== 0, rateCode: (control >> 7) & 7 };
}

/** Offsets of the auxiliary words inside the 832-word RAM frame (address − 0x0400). */
export const RAM = {
  taVbe: 0x300,
  cp0: 0x308,
  gain: 0x30a,
  taPtat: 0x320,
  cp1: 0x328,
  vddPix: 0x32a,
} as const;

export interface SubpageInput {
  /** 832 RAM words 0x0400–0x073F as read (unsigned 16-bit). */
  ram: ArrayLike<number>;
  /** Control register 1 (0x800D) at the time of the read. */
  control: number;
  /** Subpage just measured (status register 0x8000 bit 0). */
  subpage: 0 | 1;
  /** Object emissivity, (0, 1]. */
  emissivity: number;
  /** Reflected (background) temperature, °C; default Ta − 8 (Melexis' TA_SHIFT). */
  reflectedTempC?: number | undefined;
}

export interface SubpageResult {
  /** Supply voltage, V (§11.2.2.2). */
  vddV: number;
  /** Ambient (sensor die) temperature, °C (§11.2.2.3). */
  taC: number;
  kGain: number;
  /** Compensation-pixel IR signal of this subpage (§11.2.2.6). */
  irCp: number;
  /** Number of pixels written into `out` (those belonging to `subpage`). */
  pixels: number;
}

/** Vdd in volts from one RAM frame (§11.2.2.2). */
export function supplyVoltage(params: Mlx90640Params, ram: ArrayLike<number>, control: number): number {
  const resCorr = 2 ** params.resolutionEe / 2 ** controlFields(control).resolution;
  return (resCorr * signed(ram[RAM.vddPix] ?? 0, 16) - params.vdd25) / params.kVdd + 3.3;
}

/** Ambient temperature in °C from one RAM frame (§11.2.2.3). */
export function ambientTemperature(params: Mlx90640Params, ram: ArrayLike<number>, vddV: number): number {
  const ptat = signed(ram[RAM.taPtat] ?? 0, 16);
  const vbe = signed(ram[RAM.taVbe] ?? 0, 16);
  const ptatArt = (ptat / (ptat * params.alphaPtat + vbe)) * 2 ** 18;
  return (ptatArt / (1 + params.kVPtat * (vddV - 3.3)) - params.vPtat25) / params.kTPtat + 25;
}

/** True when pixel p is read in `subpage` under the given pattern (chess: (row+col) mod 2; interleaved: row mod 2). */
export function inSubpage(p: number, subpage: number, chess: boolean): boolean {
  const row = Math.floor(p / MLX_COLS);
  const col = p % MLX_COLS;
  return (chess ? (row + col) % 2 : row % 2) === subpage;
}

/**
 * Object temperature (°C) of every pixel of `input.subpage` into `out` (768 entries; other pixels
 * untouched), following §11.2.2.5–11.2.2.9: gain, offset with kta/kv, pattern correction when the
 * reading pattern differs from the calibration one, TGC with the compensation pixel, emissivity,
 * KsTa, the reflected-temperature term and KsTo. The basic range (0 °C … CT3) is solved in closed
 * form; pixels outside it get a second pass with their range's KsTo and CT (§11.2.2.9 extended).
 */
export function objectTemperatures(
  params: Mlx90640Params,
  input: SubpageInput,
  out: Float32Array | Float64Array,
): SubpageResult {
  const { ram, control, subpage, emissivity } = input;
  const word = (i: number) => signed(ram[i] ?? 0, 16);
  const { chess } = controlFields(control);
  const vddV = supplyVoltage(params, ram, control);
  const taC = ambientTemperature(params, ram, vddV);
  const trC = input.reflectedTempC ?? taC - 8;
  const ta4 = (taC + 273.15) ** 4;
  const tr4 = (trC + 273.15) ** 4;
  const taTr = tr4 - (tr4 - ta4) / emissivity;
  const kGain = params.gainEe / word(RAM.gain);
  const dTa = taC - 25;
  const dV = vddV - 3.3;
  const patternDiffers = chess !== params.calibratedInChess;
  const c1 = params.ilChess[0];
  const cpOffset = subpage === 0 ? params.offsetCp[0] : params.offsetCp[1] + (patternDiffers ? c1 : 0);
  const irCp =
    word(subpage === 0 ? RAM.cp0 : RAM.cp1) * kGain -
    cpOffset * (1 + params.kTaCp * dTa) * (1 + params.kVCp * dV);
  const ksTa = 1 + params.kSTa * dTa;
  const alphaCpSp = params.alphaCp[subpage];
  let pixels = 0;
  for (let p = 0; p < MLX_PIXELS; p++) {
    if (!inSubpage(p, subpage, chess)) continue;
    let ir = word(p) * kGain - params.offset[p]! * (1 + params.kta[p]! * dTa) * (1 + params.kv[p]! * dV);
    if (patternDiffers) ir += patternCorrection(p, params.ilChess);
    ir -= params.tgc * irCp;
    ir /= emissivity;
    // §11.2.2.8: α_comp = (α − TGC·α_CP[subpage]) · (1 + KsTa·(Ta − 25)). Melexis' C library
    // subtracts TGC·(α_CP0 + α_CP1)/2 instead; the datasheet and its worked example use the
    // compensation pixel of the pixel's own subpage. Both agree when TGC = 0.
    const a = (params.alpha[p]! - params.tgc * alphaCpSp) * ksTa;
    out[p] = objectTemperatureFromIr(params, ir, a, taTr);
    pixels++;
  }
  return { vddV, taC, kGain, irCp, pixels };
}

/**
 * Offset correction (§11.2.2.5, 11.1.18) for reading in a pattern other than the calibration one:
 * per row the four-column cycle [−C3, C2−C3, −C3, −(C2+C3)], negated on odd rows (0-based).
 */
export function patternCorrection(p: number, ilChess: readonly [number, number, number]): number {
  const [, c2, c3] = ilChess;
  const ilPattern = Math.floor(p / MLX_COLS) % 2;
  // Melexis' conversion pattern: 0, −1, 0, +1 over each four columns, sign flipped on odd rows.
  const conv =
    (Math.floor((p + 2) / 4) - Math.floor((p + 3) / 4) + Math.floor((p + 1) / 4) - Math.floor(p / 4)) *
    (1 - 2 * ilPattern);
  return c3 * (2 * ilPattern - 1) - c2 * conv;
}

/**
 * §11.2.2.9: object temperature (°C) from a pixel's compensated IR signal, its compensated
 * sensitivity and the reflected-temperature term taTr = Tr⁴ − (Tr⁴ − Ta⁴)/ε (K⁴). The basic range
 * (0 °C … CT3) is solved in closed form; outside it a second pass uses that range's KsTo and CT.
 */
export function objectTemperatureFromIr(
  params: Mlx90640Params,
  ir: number,
  alphaComp: number,
  taTr: number,
): number {
  const ks = params.kSTo;
  const ct = params.cornerTemperaturesC;
  const a = alphaComp;
  const sx = ks[1] * Math.sqrt(Math.sqrt(a * a * a * (ir + a * taTr)));
  const to = Math.sqrt(Math.sqrt(ir / (a * (1 - ks[1] * 273.15) + sx) + taTr)) - 273.15;
  if (to >= ct[1] && to < ct[2]) return to;
  const r = to < ct[1] ? 0 : to < ct[3] ? 2 : 3;
  const alphaCorr = [
    1 / (1 + ks[0] * 40),
    1,
    1 + ks[1] * ct[2],
    (1 + ks[1] * ct[2]) * (1 + ks[2] * (ct[3] - ct[2])),
  ];
  return Math.sqrt(Math.sqrt(ir / (a * alphaCorr[r]! * (1 + ks[r] * (to - ct[r]))) + taTr)) - 273.15;
}

/**
 * Replaces deviating (broken/outlier) pixels by the mean of their valid neighbours read in the same
 * subpage: diagonal neighbours in chess mode, left/right in interleaved mode (as Melexis does).
 */
export function replaceDeviatingPixels(
  image: Float32Array | Float64Array,
  bad: readonly number[],
  chess: boolean,
): void {
  const isBad = new Set(bad);
  for (const p of bad) {
    const row = Math.floor(p / MLX_COLS);
    const col = p % MLX_COLS;
    const around = chess
      ? [
          [-1, -1],
          [-1, 1],
          [1, -1],
          [1, 1],
        ]
      : [
          [0, -1],
          [0, 1],
        ];
    let sum = 0;
    let n = 0;
    for (const [dr, dc] of around as [number, number][]) {
      const r = row + dr;
      const c = col + dc;
      const q = r * MLX_COLS + c;
      if (r < 0 || r >= MLX_ROWS || c < 0 || c >= MLX_COLS || isBad.has(q)) continue;
      sum += image[q]!;
      n++;
    }
    if (n > 0) image[p] = sum / n;
  }
}
