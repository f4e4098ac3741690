import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import { Mlx90640ConfigSchema, Mlx90640Driver, mlx90640Frames } from '../../src/sensors/i2c/mlx90640.js';
import {
  MLX_PIXELS,
  ambientTemperature,
  extractParameters,
  inSubpage,
  objectTemperatureFromIr,
  objectTemperatures,
  patternCorrection,
  supplyVoltage,
} from '../../src/sensors/i2c/mlx90640-calibration.js';
import type { I2cBus } from '../../src/sensors/bus/i2c.js';
import { RejectedFrame } from '../../src/sensors/i2c/runner.js';
import { runI2cDriverContract } from './contract.js';
import { loadMelexisExample, Mlx90640Emulator } from './mlx90640.emulator.js';

const ex = loadMelexisExample();
const cal = ex.expected.calibration;
const value = (k: string) => cal[k]!.value!;
const values = (k: string) => cal[k]!.values!;

function close(actual: number, expected: number, tol: number, what: string) {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);
}

/** The EEPROM read through the emulated bus, as the driver reads it. */
async function driverOnEmulator(refreshRateHz = 64, emu = new Mlx90640Emulator()) {
  const bus = await emu.openBus(1);
  const clock = new ManualClock();
  const driver = new Mlx90640Driver(
    bus,
    { address: 0x33, refreshRateHz, emissivity: 1 },
    { clock, sensorId: 'mlx' },
  );
  await driver.init();
  return { emu, bus, driver, clock };
}

test('MLX90640: every calibration parameter of Melexis example, EEPROM read through the emulated bus', async () => {
  const { driver, bus } = await driverOnEmulator();
  const p = driver.params!;
  await bus.close();
  assert.equal(p.kVdd, value('kVdd'));
  assert.equal(p.vdd25, value('vdd25'));
  close(p.kVPtat, value('kVPtat'), 5e-7, 'kVPtat');
  assert.equal(p.kVPtat, ex.derivedByExtractor.calibrationExact.kVPtat);
  assert.equal(p.kTPtat, value('kTPtat'));
  assert.equal(p.vPtat25, value('vPtat25'));
  assert.equal(p.alphaPtat, value('alphaPtat'));
  assert.equal(p.gainEe, value('gainEe'));
  assert.equal(p.kVCp, value('kVCp'));
  close(p.kTaCp, value('kTaCp'), 5e-7, 'kTaCp');
  assert.equal(p.kTaCp, ex.derivedByExtractor.calibrationExact.kTaCp);
  assert.equal(p.resolutionEe, value('resolutionEe'));
  close(p.kSTa, value('kSTa'), 5e-7, 'kSTa');
  assert.equal(p.kSTa, ex.derivedByExtractor.calibrationExact.kSTa);
  values('alphaCp').forEach((v, i) => close(p.alphaCp[i]!, v, 1e-19, `alphaCp[${i}]`));
  assert.deepEqual(p.offsetCp, values('offsetCp'));
  assert.deepEqual(p.cornerTemperaturesC, values('cornerTemperaturesC'));
  values('kSTo').forEach((v, i) => close(p.kSTo[i]!, v, 5e-7, `kSTo[${i}]`));
  assert.deepEqual(p.kSTo, ex.derivedByExtractor.calibrationExact.kSTo);
  assert.equal(p.tgc, ex.derivedByExtractor.calibrationExact.tgc);
  assert.deepEqual(p.ilChess, ex.derivedByExtractor.calibrationExact.ilChessC1C2C3);
  assert.equal(p.calibratedInChess, true);
  assert.deepEqual(p.brokenPixels, []);
  assert.deepEqual(p.outlierPixels, []);
  assert.equal(p.i2cAddress, 0x33);
  const pp = ex.expected.perPixel;
  for (let i = 0; i < MLX_PIXELS; i++) {
    close(p.alpha[i]!, pp.alpha.values[i]!, Math.abs(pp.alpha.values[i]!) * 1e-11, `alpha[${i}]`);
    assert.equal(p.offset[i], pp.offset.values[i], `offset[${i}]`);
    close(p.kta[i]!, pp.kta.values[i]!, 5e-9, `kta[${i}]`);
    assert.equal(p.kv[i], pp.kv.values[i], `kv[${i}]`);
  }
});

test('MLX90640: Vdd, Ta and all 768 object temperatures within 0.001 °C, frames read through the emulated bus', async () => {
  const { emu, driver, bus } = await driverOnEmulator();
  const out = await driver.next(new AbortController().signal);
  await bus.close();
  assert.ok(!(out instanceof RejectedFrame), 'a full image after subpages 0 and 1');
  assert.ok(emu.measured >= 2);
  const frame: Frame = out;
  assert.deepEqual(frame.shape, [1, 24, 32]);
  assert.equal(frame.modality, 'thermal');
  let worst = 0;
  ex.expected.objectTemperatureC.values.forEach((t, i) => {
    worst = Math.max(worst, Math.abs(frame.data[i]! - t));
  });
  assert.ok(worst < 0.001, `worst pixel error ${worst} °C`);
  // Intermediate values per frame, against the extractor's float64 values.
  const p = extractParameters(ex.eeprom.words);
  ex.frames.forEach((f, i) => {
    const d = ex.derivedByExtractor.perFrame[i]!;
    const vdd = supplyVoltage(p, f.words, 0x1901);
    close(vdd, d.vddV, 1e-9, `Vdd frame ${i}`);
    close(ambientTemperature(p, f.words, vdd), d.taC, 1e-9, `Ta frame ${i}`);
  });
});

test('MLX90640: a subpage that lands while the driver is late is never calibrated as the other one (torn frame)', async () => {
  // The process is descheduled for one subpage period at the worst moments: between the status
  // read that announced new data and the clear of that flag, or between the clear and the RAM
  // read. The image must still be subpage 0 of frame 0 and subpage 1 of frame 1 exactly.
  for (const when of ['before the clear', 'after the clear'] as const) {
    let skewMs = 0;
    const emu = new Mlx90640Emulator({ now: () => performance.now() + skewMs });
    const bus = await emu.openBus(1);
    const periodMs = 1000 / 16;
    let armed = false;
    const lateBus: I2cBus = {
      ...bus,
      i2cWrite: async (addr, length, buffer) => {
        const clear = buffer[0] === 0x80 && buffer[1] === 0x00;
        if (clear && armed && when === 'before the clear') {
          armed = false;
          skewMs += periodMs;
        }
        const r = await bus.i2cWrite(addr, length, buffer);
        if (clear && armed && when === 'after the clear') {
          armed = false;
          skewMs += periodMs;
        }
        return r;
      },
    };
    const driver = new Mlx90640Driver(
      lateBus,
      { address: 0x33, refreshRateHz: 16, emissivity: 1 },
      { clock: new ManualClock(), sensorId: 'mlx' },
    );
    await driver.init();
    const signal = new AbortController().signal;
    await driver.next(signal); // a full image: from now on every subpage yields one
    armed = true;
    const out = await driver.next(signal);
    await bus.close();
    assert.equal(armed, false, `${when}: the late moment happened`);
    assert.ok(!(out instanceof RejectedFrame), `${when}: ${String((out as RejectedFrame).reason)}`);
    let worst = 0;
    ex.expected.objectTemperatureC.values.forEach((t, i) => {
      worst = Math.max(worst, Math.abs(out.data[i]! - t));
    });
    assert.ok(worst < 0.001, `${when}: worst pixel error ${worst} °C`);
  }
});

test('MLX90640: float64 calibration matches the 3-decimal reference within 0.001 °C', () => {
  const p = extractParameters(ex.eeprom.words);
  const out = new Float64Array(MLX_PIXELS);
  let pixels = 0;
  for (const f of ex.frames)
    pixels += objectTemperatures(
      p,
      { ram: f.words, control: 0x1901, subpage: f.subpage, emissivity: 1 },
      out,
    ).pixels;
  assert.equal(pixels, MLX_PIXELS);
  ex.expected.objectTemperatureC.values.forEach((t, i) => close(out[i]!, t, 0.001, `To[${i}]`));
});

test('MLX90640: emissivity < 1 raises the object temperature of a warm scene; Tr matters only then', () => {
  const p = extractParameters(ex.eeprom.words);
  const f = ex.frames[0]!;
  const at = (emissivity: number, reflectedTempC?: number) => {
    const out = new Float64Array(MLX_PIXELS);
    objectTemperatures(p, { ram: f.words, control: 0x1901, subpage: 0, emissivity, reflectedTempC }, out);
    return out[0]!;
  };
  assert.equal(at(1, 0), at(1, 50));
  assert.ok(at(0.95) > at(1));
  assert.notEqual(at(0.9, 0), at(0.9, 50));
});

test('MLX90640: sets the refresh rate (read back), clears new-data, never reads without a repeated start', async () => {
  const { emu, driver } = await driverOnEmulator(32);
  assert.equal(emu.refreshRateHz, 32);
  const controlWrites = emu.writes.filter((w) => w.bytes[0] === 0x80 && w.bytes[1] === 0x0d);
  assert.equal(controlWrites.length, 1);
  assert.equal(emu.control & 0x1c01, 0x1801, 'resolution and chess pattern kept, subpage mode on');
  await driver.next(new AbortController().signal);
  assert.ok(
    emu.writes.some((w) => w.bytes.join() === [0x80, 0x00, 0x00, 0x30].join()),
    'status 0x0030 written',
  );
  assert.equal(emu.status & 0x8, 0, 'new-data flag cleared');
  // A plain read after a STOP is refused by the chip, as on hardware.
  const bus = await emu.openBus(1);
  await bus.i2cWrite(0x33, 2, Buffer.from([0x24, 0x00]));
  await assert.rejects(bus.i2cRead(0x33, 2, Buffer.alloc(2)), { code: 'EREMOTEIO' });
  await bus.close();
});

test('MLX90640: 0x7FFF in the measured subpage rejects the frame; a garbled EEPROM is refused', async () => {
  const { emu, driver, clock } = await driverOnEmulator();
  emu.poke.set(0, 0x7fff); // pixel 0 is in subpage 0
  emu.status &= ~0x8; // drop a measurement taken before the poke
  const out = await driver.next(new AbortController().signal);
  emu.poke.clear();
  assert.ok(out instanceof RejectedFrame);
  assert.match(out.reason, /0x7FFF/);
  emu.eeprom[0x0f] = 0x0000; // address byte garbled
  const bus = await emu.openBus(1);
  const d2 = new Mlx90640Driver(
    bus,
    { address: 0x33, refreshRateHz: 2, emissivity: 1 },
    { clock, sensorId: 'mlx' },
  );
  await assert.rejects(
    d2.init(),
    (err: Error & { disconnected?: boolean }) => err.disconnected === true && /EEPROM/.test(err.message),
  );
});

test('MLX90640: a broken pixel (EEPROM word 0) is replaced by its diagonal neighbours', async () => {
  const emu = new Mlx90640Emulator();
  const broken = 5 * 32 + 10;
  emu.eeprom[0x40 + broken] = 0;
  const { driver, bus } = await driverOnEmulator(64, emu);
  const out = await driver.next(new AbortController().signal);
  await bus.close();
  assert.deepEqual(driver.params!.brokenPixels, [broken]);
  assert.ok(!(out instanceof RejectedFrame));
  const d = out.data;
  const mean = (d[broken - 33]! + d[broken - 31]! + d[broken + 31]! + d[broken + 33]!) / 4;
  assert.ok(Math.abs(d[broken]! - mean) < 1e-4, `${d[broken]} vs ${mean}`);
});

test('MLX90640: polls the status register a few times per subpage, not continuously', async () => {
  const { emu, driver, bus } = await driverOnEmulator(16);
  const signal = new AbortController().signal;
  await driver.next(signal);
  const reads = emu.statusReads;
  const measured = emu.measured;
  for (let i = 0; i < 4; i++) await driver.next(signal);
  await bus.close();
  const perSubpage = (emu.statusReads - reads) / (emu.measured - measured);
  assert.ok(perSubpage <= 6, `${perSubpage} status reads per subpage`);
});

test('MLX90640: subpages in chess and interleaved patterns; interleaved/chess offset correction layout', () => {
  // Chess: (row + col) mod 2; interleaved: row mod 2.
  assert.equal(inSubpage(0, 0, true), true);
  assert.equal(inSubpage(1, 1, true), true);
  assert.equal(inSubpage(32, 1, true), true);
  assert.equal(inSubpage(1, 0, false), true);
  assert.equal(inSubpage(32, 1, false), true);
  const c: [number, number, number] = [0.5, 3, 0.125];
  // Row 0: [−C3, C2−C3, −C3, −(C2+C3)] repeating; row 1: negated.
  const row0 = [-0.125, 2.875, -0.125, -3.125];
  for (let col = 0; col < 32; col++) {
    assert.equal(patternCorrection(col, c), row0[col % 4], `row 0 col ${col}`);
    assert.equal(patternCorrection(32 + col, c), -row0[col % 4]!, `row 1 col ${col}`);
    assert.equal(patternCorrection(64 + col, c), row0[col % 4], `row 2 col ${col}`);
  }
  // Applied only when the reading pattern (here interleaved) differs from the calibration one.
  const p = extractParameters(ex.eeprom.words);
  const f = ex.frames[0]!;
  const corrected = new Float64Array(MLX_PIXELS);
  const plain = new Float64Array(MLX_PIXELS);
  objectTemperatures(p, { ram: f.words, control: 0x0901, subpage: 0, emissivity: 1 }, corrected);
  objectTemperatures(
    { ...p, calibratedInChess: false },
    { ram: f.words, control: 0x0901, subpage: 0, emissivity: 1 },
    plain,
  );
  assert.deepEqual(p.ilChess, [0.5, 3.5, 0]);
  assert.equal(corrected[0], plain[0], 'column 0: −C3 = 0 here');
  assert.ok(corrected[1]! > plain[1]!, 'column 1: +(C2 − C3) raises the IR signal');
  assert.ok(corrected[1]! - plain[1]! < 1);
});

test('MLX90640: config schema defaults and rejections', () => {
  const c = Mlx90640ConfigSchema.parse({ id: 'thermal0', driver: 'mlx90640', bus: 7 });
  assert.equal(c.address, 0x33);
  assert.equal(c.refreshRateHz, 4);
  assert.equal(c.emissivity, 0.95);
  assert.equal(c.modality, 'thermal');
  assert.equal(
    Mlx90640ConfigSchema.safeParse({ id: 't', driver: 'mlx90640', bus: 7, refreshRateHz: 3 }).success,
    false,
  );
  assert.equal(
    Mlx90640ConfigSchema.safeParse({ id: 't', driver: 'mlx90640', bus: 7, emissivity: 0 }).success,
    false,
  );
  assert.equal(
    Mlx90640ConfigSchema.safeParse({ id: 't', driver: 'mlx90640', bus: 7, extra: 1 }).success,
    false,
  );
});

runI2cDriverContract('mlx90640', {
  frameGapMs: 1000 / 32,
  make: (backoff) => {
    const device = new Mlx90640Emulator();
    const config = Mlx90640ConfigSchema.parse({
      id: 'thermal0',
      driver: 'mlx90640',
      bus: 1,
      refreshRateHz: 64,
      emissivity: 1,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      ...backoff,
    });
    return { device, source: mlx90640Frames(config, { openBus: device.openBus }) };
  },
  checkFrame: (f) => {
    assert.equal(f.modality, 'thermal');
    assert.deepEqual(f.shape, [1, 24, 32]);
    assert.equal(f.data.length, 768);
    for (const t of f.data) assert.ok(t > 20 && t < 40, `plausible room-scene temperature ${t}`);
    assert.equal(f.rateHz, 64);
  },
});

test('MLX90640: datasheet worked example (pixel 12,16): TGC, compensation pixel and the To step', () => {
  const w = loadMelexisExample().datasheetWorkedExample;
  const ee = new Array<number>(832).fill(0);
  w.eeprom.words0x2400to0x240F.forEach((v, i) => (ee[i] = v));
  w.eeprom.words0x2410to0x243F.forEach((v, i) => (ee[0x10 + i] = v));
  for (let p = 0; p < MLX_PIXELS; p++) ee[0x40 + p] = w.eeprom.pixelWordForAllPixels;
  const ram = new Array<number>(832).fill(0);
  for (let p = 0; p < MLX_PIXELS; p++) ram[p] = w.ram.pixelWordForAllPixels;
  for (const aux of Object.values(w.ram.auxSigned))
    ram[Number.parseInt(aux.address, 16) - 0x400] = aux.value & 0xffff;
  const p = extractParameters(ee);
  const e = w.expected.calibration;
  assert.equal(p.kVdd, e.kVdd);
  assert.equal(p.vdd25, e.vdd25);
  close(p.kVPtat, e.kVPtat, 1e-9, 'kVPtat');
  assert.equal(p.kTPtat, e.kTPtat);
  assert.equal(p.vPtat25, e.vPtat25);
  assert.equal(p.alphaPtat, e.alphaPtat);
  assert.equal(p.gainEe, e.gainEe);
  assert.equal(p.resolutionEe, e.resolutionEe);
  assert.equal(p.kVCp, e.kVCp);
  assert.equal(p.kTaCp, e.kTaCp);
  assert.equal(p.kSTa, e.kSTa);
  assert.equal(p.tgc, e.tgc);
  e.alphaCp.forEach((v, i) => close(p.alphaCp[i]!, v, 1e-18, `alphaCp[${i}]`));
  assert.deepEqual(p.offsetCp, e.offsetCp);
  assert.deepEqual(p.cornerTemperaturesC, e.cornerTemperaturesC);
  assert.equal(p.kSTo[1], e.kSTo1);
  assert.equal(p.ilChess[1], e.ilChessC2);
  assert.equal(p.ilChess[2], e.ilChessC3);
  const px = w.expected.pixel367;
  assert.equal(p.offset[367], px.offset);
  assert.equal(p.kta[367], px.kta);
  assert.equal(p.kv[367], px.kv);
  close(p.alpha[367]!, px.alpha, px.alpha * 1e-8, 'alpha 367 (the crate computes in f32)');
  const f = w.expected.frame;
  const vdd = supplyVoltage(p, ram, 0x1901);
  close(vdd, f.vddV.value, f.vddV.tolerance, 'Vdd');
  const ta = ambientTemperature(p, ram, vdd);
  close(ta, f.taC.value, 1e-6, 'Ta');
  const steps = w.expected.pixelSteps;
  // §11.2.2.5: VIR before the gradient compensation, as the datasheet prints it.
  const kGain = p.gainEe / w.ram.auxSigned.gain!.value;
  close(kGain, f.kGain, 1e-12, 'kGain');
  const vIr = 609 * kGain - p.offset[367] * (1 + p.kta[367] * (ta - 25)) * (1 + p.kv[367] * (vdd - 3.3));
  close(vIr, steps.vIrBeforeGradientCompensation.datasheetPrinted, 1e-6, 'VIR');
  // §11.2.2.8: α compensated with the subpage's compensation pixel (TGC = 1) and KsTa.
  const alphaComp = (p.alpha[367]! - p.tgc * p.alphaCp[0]) * (1 + p.kSTa * (f.taC.value - 25));
  close(alphaComp, steps.objectTemperatureC.alphaCompensated, 1e-12, 'alpha compensated (crate rounding)');
  // §11.2.2.9 from the example's compensated inputs.
  const to = objectTemperatureFromIr(
    p,
    steps.objectTemperatureC.vIrCompensated,
    steps.objectTemperatureC.alphaCompensated,
    steps.taTrK4.value,
  );
  close(to, steps.objectTemperatureC.value, 1e-4, 'To');
  // End to end (the crate checks this pixel within 0.5 °C).
  const out = new Float64Array(MLX_PIXELS);
  objectTemperatures(p, { ram, control: 0x1901, subpage: 0, emissivity: 1 }, out);
  close(out[367]!, steps.objectTemperatureC.value, 0.5, 'To end to end');
});
