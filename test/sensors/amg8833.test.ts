import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../src/pipeline/clock.js';
import {
  Amg8833ConfigSchema,
  Amg8833Driver,
  amg8833Frames,
  decodePixel,
  decodeThermistor,
  type Amg8833Config,
} from '../../src/sensors/i2c/amg8833.js';
import { RejectedFrame } from '../../src/sensors/i2c/runner.js';
import { runI2cDriverContract } from './contract.js';
import { Amg8833Emulator } from './amg8833.emulator.js';

function config(extra: Record<string, unknown> = {}): Amg8833Config {
  return Amg8833ConfigSchema.parse({
    id: 'grid0',
    driver: 'amg8833',
    bus: 1,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...extra,
  });
}

test('AMG8833: pixel and thermistor formats per datasheet', () => {
  assert.equal(decodePixel(0x0064), 25); // 100 × 0.25
  assert.equal(decodePixel(0xfff8), -2); // sign-filled −8 × 0.25
  assert.equal(decodePixel(0x0ff8), -2); // 12-bit only, bit 11 set
  assert.equal(decodePixel(0x7064), undefined); // upper nibble neither 0 nor sign fill
  assert.equal(decodePixel(0xf064), undefined); // sign fill without bit 11
  assert.equal(decodeThermistor(0x01a0), 26); // 416 × 0.0625
  assert.equal(decodeThermistor(0x0810), -1); // sign-magnitude
  assert.equal(decodeThermistor(0x11a0), undefined);
});

test('AMG8833: configures normal mode, frame rate and moving average (key sequence); frames in °C', async () => {
  const emu = new Amg8833Emulator({ now: () => 0 }); // time stands still: frame 0 stays in the registers
  const bus = await emu.openBus(1);
  const ac = new AbortController();
  const driver = new Amg8833Driver(bus, config({ rateHz: 10, movingAverage: true }), {
    clock: systemClock,
    sensorId: 'grid0',
  });
  await driver.init(ac.signal);
  assert.equal(emu.regs[0x00], 0x00);
  assert.equal(emu.rateHz, 10);
  assert.equal(emu.movingAverage, true);
  assert.ok(
    emu.writes.some((w) => w.bytes[0] === 0x01 && w.bytes[1] === 0x3f),
    'initial reset',
  );
  const f = await driver.next(ac.signal);
  await bus.close();
  assert.ok(!(f instanceof RejectedFrame));
  assert.deepEqual(f.shape, [1, 8, 8]);
  assert.equal(emu.frameCount, 1);
  for (let i = 0; i < 64; i++) assert.equal(f.data[i], emu.scene(0, i), `pixel ${i}`);
  assert.equal(driver.thermistorC, 26);
});

test('AMG8833: 1 fps is set through FPSC', async () => {
  const emu = new Amg8833Emulator();
  const bus = await emu.openBus(1);
  const driver = new Amg8833Driver(bus, config({ rateHz: 1 }), { clock: systemClock, sensorId: 'grid0' });
  await driver.init(new AbortController().signal);
  await bus.close();
  assert.equal(emu.rateHz, 1);
  assert.equal(emu.movingAverage, false);
});

test('AMG8833: STAT overflow rejects the frame and clears the flag', async () => {
  const emu = new Amg8833Emulator();
  const bus = await emu.openBus(1);
  const ac = new AbortController();
  const driver = new Amg8833Driver(bus, config(), { clock: systemClock, sensorId: 'grid0' });
  await driver.init(ac.signal);
  emu.overflow();
  const out = await driver.next(ac.signal);
  assert.ok(out instanceof RejectedFrame);
  assert.match(out.reason, /overflow/);
  assert.equal(emu.regs[0x04], 0);
  const ok = await driver.next(ac.signal);
  await bus.close();
  assert.ok(!(ok instanceof RejectedFrame));
});

test('AMG8833: config schema', () => {
  const c = Amg8833ConfigSchema.parse({ id: 'g', driver: 'amg8833', bus: 1 });
  assert.equal(c.address, 0x69);
  assert.equal(c.rateHz, 10);
  assert.equal(
    Amg8833ConfigSchema.safeParse({ id: 'g', driver: 'amg8833', bus: 1, rateHz: 5 }).success,
    false,
  );
});

runI2cDriverContract('amg8833', {
  frameGapMs: 100,
  make: (backoff) => {
    const device = new Amg8833Emulator();
    return { device, source: amg8833Frames(config({ ...backoff }), { openBus: device.openBus }) };
  },
  checkFrame: (f) => {
    assert.equal(f.modality, 'thermal');
    assert.deepEqual(f.shape, [1, 8, 8]);
    assert.equal(f.rateHz, 10);
    for (const t of f.data) assert.ok(t === 34 || (t >= 22 && t <= 22.75), `pixel ${t} °C`);
  },
});
