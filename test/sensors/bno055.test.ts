import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import { systemClock } from '../../src/pipeline/clock.js';
import {
  Bno055ConfigSchema,
  Bno055Driver,
  bno055Frames,
  bno055I2cRegisters,
  Bno055UartConfigSchema,
  bno055UartFrames,
  Bno055UartRegisters,
  type Bno055Config,
  type Bno055UartConfig,
} from '../../src/sensors/i2c/bno055.js';
import { RejectedFrame } from '../../src/sensors/i2c/runner.js';
import { Harness, runI2cDriverContract } from './contract.js';
import { Bno055Emulator } from './bno055.emulator.js';
import { Bno055UartEmulator } from './bno055-uart.emulator.js';

const G = 9.80665;

function config(extra: Record<string, unknown> = {}): Bno055Config {
  return Bno055ConfigSchema.parse({
    id: 'imu1',
    driver: 'bno055',
    bus: 1,
    rateHz: 50,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...extra,
  });
}

async function driverOn(emu: Bno055Emulator, extra: Record<string, unknown> = {}) {
  const bus = await emu.openBus(1);
  const ac = new AbortController();
  const driver = new Bno055Driver(bno055I2cRegisters(bus, 0x28), config(extra), {
    clock: systemClock,
    sensorId: 'imu1',
  });
  await driver.init(ac.signal);
  return { bus, driver, ac };
}

test('BNO055: CONFIG mode first, units m/s² + rad/s, page-1 ranges, then the operation mode', async () => {
  const emu = new Bno055Emulator();
  const { bus, driver, ac } = await driverOn(emu, { mode: 'accgyro', accelRangeG: 8, gyroRangeDps: 500 });
  assert.equal(emu.mode, 0x05);
  assert.equal(emu.page0[0x3b], 0x02, 'UNIT_SEL accel m/s², gyro rad/s');
  assert.equal(emu.page1[0x08]! & 3, 2, '8 g');
  assert.equal(emu.page1[0x0a]! & 7, 2, '500 °/s');
  assert.equal(emu.page0[0x07], 0, 'back on page 0');
  const modeWrites = emu.writes.filter((w) => w.bytes[0] === 0x3d).map((w) => w.bytes[1]);
  assert.deepEqual(modeWrites, [0x00, 0x05]);
  const f = await driver.next(ac.signal);
  await bus.close();
  assert.ok(!(f instanceof RejectedFrame));
  assert.deepEqual(f.shape, [1, 6]);
  assert.ok(Math.abs(f.data[2]! - G) < 0.01, `az ${f.data[2]}`);
  assert.ok(Math.abs(f.data[0]! - 0.2) < 0.01);
  assert.ok(Math.abs(f.data[5]!) <= 0.5 + 0.002);
  assert.equal(driver.temperatureC, 24);
});

test('BNO055: fusion mode (imu) keeps page-1 ranges untouched', async () => {
  const emu = new Bno055Emulator();
  const { bus, driver, ac } = await driverOn(emu, { mode: 'imu' });
  assert.equal(emu.mode, 0x08);
  assert.equal(emu.page1[0x08], 0x0d);
  const f = await driver.next(ac.signal);
  await bus.close();
  assert.ok(!(f instanceof RejectedFrame));
  assert.ok(Math.abs(f.data[2]! - G) < 0.01);
});

test('BNO055: a wrong CHIP_ID is a DeviceError that a reconnect will not heal', async () => {
  const emu = new Bno055Emulator();
  emu.page0[0x00] = 0x12;
  const bus = await emu.openBus(1);
  const driver = new Bno055Driver(bno055I2cRegisters(bus, 0x28), config(), {
    clock: systemClock,
    sensorId: 'imu1',
  });
  await assert.rejects(
    driver.init(new AbortController().signal),
    (e: unknown) => e instanceof DeviceError && !e.disconnected,
  );
});

test('BNO055: a chip that falls back to CONFIG mode (silent reset) is re-initialised', async () => {
  const emu = new Bno055Emulator();
  const h = new Harness(bno055Frames(config(), { openBus: emu.openBus }));
  try {
    await h.framesAfter(2, 2000);
    const opens = emu.opens;
    emu.replug(); // power glitch without a bus error: back in CONFIG mode, data zero
    await h.until('re-open', () => emu.opens > opens, 2000);
    const after = await h.framesAfter(2, 2000);
    assert.ok(Math.abs(after[1]!.data[2]! - G) < 0.01);
    assert.ok((h.lastHealth?.rejected ?? 0) >= 1, 'idle samples rejected before re-init');
  } finally {
    await h.stop();
  }
});

test('BNO055: a short read while reading CHIP_ID during init is retried, not fatal', async () => {
  const emu = new Bno055Emulator();
  emu.shortReadNext(1);
  const h = new Harness(bno055Frames(config(), { openBus: emu.openBus }));
  try {
    await h.framesAfter(2, 3000);
    assert.ok(emu.opens >= 2, 'reopened after the short read');
    assert.ok(h.health.some((s) => s.state === 'down' && /short read/.test(s.reason ?? '')));
  } finally {
    await h.stop();
  }
  assert.equal(h.error, undefined);
});

test('BNO055: config schema', () => {
  const c = Bno055ConfigSchema.parse({ id: 'i', driver: 'bno055', bus: 1 });
  assert.equal(c.address, 0x28);
  assert.equal(c.mode, 'accgyro');
  assert.equal(
    Bno055ConfigSchema.safeParse({ id: 'i', driver: 'bno055', bus: 1, rateHz: 500 }).success,
    false,
  );
  assert.equal(
    Bno055ConfigSchema.safeParse({ id: 'i', driver: 'bno055', bus: 1, address: 0x30 }).success,
    false,
  );
});

runI2cDriverContract('bno055', {
  frameGapMs: 20,
  make: (backoff) => {
    const device = new Bno055Emulator();
    return { device, source: bno055Frames(config({ ...backoff }), { openBus: device.openBus }) };
  },
  checkFrame: (f) => {
    assert.equal(f.modality, 'imu');
    assert.deepEqual(f.shape, [1, 6]);
    assert.equal(f.rateHz, 50);
    assert.ok(Math.abs(f.data[2]! - G) < 0.01, 'gravity in m/s²');
    assert.ok(Math.abs(f.data[5]!) < 0.51, 'gyro in rad/s');
  },
});

function uartConfig(extra: Record<string, unknown> = {}): Bno055UartConfig {
  return Bno055UartConfigSchema.parse({
    id: 'imu2',
    driver: 'bno055-uart',
    path: '/dev/ttyTHS1',
    rateHz: 50,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...extra,
  });
}

test('BNO055 UART: framed register access initialises the chip and streams m/s² + rad/s', async () => {
  const uart = new Bno055UartEmulator();
  const h = new Harness(bno055UartFrames(uartConfig(), { openLink: uart.openLink }));
  try {
    const frames = await h.framesAfter(3, 3000);
    for (const f of frames) {
      assert.deepEqual(f.shape, [1, 6]);
      assert.ok(Math.abs(f.data[2]! - G) < 0.01);
    }
    assert.equal(uart.chip.mode, 0x05);
    assert.equal(uart.chip.page0[0x3b], 0x02);
    assert.deepEqual(uart.requests[0], [0xaa, 0x01, 0x00, 0x01], 'first request reads CHIP_ID');
    assert.ok(
      uart.requests.some((r) => r.join() === [0xaa, 0x00, 0x3d, 0x01, 0x05].join()),
      'OPR_MODE write frame',
    );
  } finally {
    await h.stop();
  }
});

test('BNO055 UART: BUS_OVER_RUN replies and lost replies are retried; the stream goes on', async () => {
  const uart = new Bno055UartEmulator();
  const link = await uart.openLink('/dev/null', 115200);
  const regs = new Bno055UartRegisters(link, { timeoutMs: 30 });
  uart.overrunNext(2);
  const [id] = await regs.read(0x00, 1);
  assert.equal(id, 0xa0);
  uart.dropNext(1);
  const ids = await regs.read(0x00, 4);
  assert.deepEqual([...ids], [0xa0, 0xfb, 0x32, 0x0f]);
  assert.equal(regs.retries, 3);
  uart.overrunNext(10);
  await assert.rejects(regs.read(0x00, 1), /BUS_OVER_RUN_ERROR after 4 attempts/);
  await link.close();
});

test('BNO055 UART: unplug reports down, replug resumes at the first reopen after it', async () => {
  const uart = new Bno055UartEmulator();
  let attempts = 0;
  const openLink: typeof uart.openLink = (path, baudRate) => (attempts++, uart.openLink(path, baudRate));
  const h = new Harness(bno055UartFrames(uartConfig(), { openLink }));
  try {
    await h.framesAfter(2, 20_000);
    const atUnplug = attempts;
    uart.unplug();
    await h.until('down', () => h.lastHealth?.state === 'down', 20_000);
    await h.until('failed reopens', () => attempts >= atUnplug + 2, 20_000);
    const before = h.frames.length;
    const atReplug = attempts;
    uart.replug();
    await h.until('frames again', () => h.frames.length > before, 20_000);
    // "Within 2 s", counted rather than timed on a loaded machine: the attempt in flight and at
    // most one more, i.e. one reconnect delay (≤ reconnectMaxMs).
    assert.ok(attempts - atReplug <= 2, `${attempts - atReplug} opens after replug`);
    assert.ok((h.lastHealth?.restarts ?? 0) >= 1);
  } finally {
    await h.stop();
  }
  assert.equal(h.error, undefined);
});
