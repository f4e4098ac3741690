import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import { systemClock, type Clock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import type { I2cBus } from '../../src/sensors/bus/i2c.js';
import {
  MPU_REG,
  Mpu6050ConfigSchema,
  Mpu6050Driver,
  mpu6050Frames,
  type Mpu6050Config,
} from '../../src/sensors/i2c/mpu6050.js';
import { RejectedFrame } from '../../src/sensors/i2c/runner.js';
import { Harness, runI2cDriverContract } from './contract.js';
import { Mpu6050Emulator } from './mpu6050.emulator.js';

const G = 9.80665;

function config(extra: Record<string, unknown> = {}): Mpu6050Config {
  return Mpu6050ConfigSchema.parse({
    id: 'imu0',
    driver: 'mpu6050',
    bus: 1,
    rateHz: 200,
    pollMs: 20,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    ...extra,
  });
}

async function driverOn(
  emu: Mpu6050Emulator,
  extra: Record<string, unknown> = {},
  clock: Clock = systemClock,
) {
  const bus = await emu.openBus(1);
  const driver = new Mpu6050Driver(bus, config(extra), { clock, sensorId: 'imu0' });
  const ac = new AbortController();
  await driver.init(ac.signal);
  return { bus, driver, ac };
}

/**
 * Real time plus a skew the test moves forward, for the emulated chip and the driver's clock
 * alike: `skip(ms)` is this process having been descheduled for `ms` (the chip kept sampling).
 */
function skewedTime() {
  let skewMs = 0;
  const nowMs = () => performance.now() + skewMs;
  const clock: Clock = { nowMs, toWallMs: (ms) => ms };
  return { nowMs, clock, skip: (ms: number) => void (skewMs += ms) };
}

async function nextFrame(driver: Mpu6050Driver, signal: AbortSignal): Promise<Frame> {
  for (;;) {
    const out = await driver.next(signal);
    if (!(out instanceof RejectedFrame)) return out;
  }
}

test('MPU-6050: wakes the chip, sets ranges, DLPF, divider and FIFO as configured', async () => {
  const emu = new Mpu6050Emulator();
  assert.ok(emu.asleep, 'power-on state is SLEEP');
  const { bus, driver } = await driverOn(emu, {
    accelRangeG: 8,
    gyroRangeDps: 2000,
    dlpfHz: 44,
    rateHz: 200,
  });
  await bus.close();
  assert.equal(emu.asleep, false);
  assert.equal(emu.regs[0x6b], 0x01, 'PLL clock');
  assert.equal(emu.regs[0x1a]! & 7, 3, 'DLPF_CFG 3 = 44 Hz');
  assert.equal(emu.regs[0x19], 4, '1 kHz / (1 + 4) = 200 Hz');
  assert.equal(emu.accelLsbPerG, 4096);
  assert.equal(emu.gyroLsbPerDps, 16.375);
  assert.equal(emu.regs[0x23], 0xf8, 'FIFO: temp, gyro xyz, accel');
  assert.equal(emu.regs[0x6a]! & 0x40, 0x40, 'FIFO enabled');
  assert.equal(driver.actualRateHz, 200);
  assert.equal(driver.variant.name, 'MPU-6050');
  assert.ok(
    emu.writes.some((w) => w.bytes[0] === 0x6b && w.bytes[1] === 0x80),
    'DEVICE_RESET first',
  );
});

test('MPU-6050: converts FIFO samples to m/s² and rad/s at every range', async () => {
  for (const [accelRangeG, gyroRangeDps] of [
    [2, 250],
    [16, 2000],
  ] as const) {
    const emu = new Mpu6050Emulator();
    const { bus, driver, ac } = await driverOn(emu, { accelRangeG, gyroRangeDps });
    const f = await nextFrame(driver, ac.signal);
    await bus.close();
    assert.equal(f.shape[1], 6);
    const n = f.shape[0]!;
    assert.ok(n >= 1);
    for (let i = 0; i < n; i++) {
      const az = f.data[i * 6 + 2]!;
      const ay = f.data[i * 6 + 1]!;
      const gz = f.data[i * 6 + 5]!;
      assert.ok(Math.abs(az - G) < 0.01, `az ${az}`);
      assert.ok(Math.abs(ay - 0.05 * G) < 0.01, `ay ${ay}`);
      assert.ok(Math.abs(gz) <= (20 * Math.PI) / 180 + 0.01, `gz ${gz} rad/s`);
    }
  }
});

test('MPU-6500/9250: accepted by WHO_AM_I, 512-byte FIFO, poll interval shortened to fit', async () => {
  const emu = new Mpu6050Emulator({ whoAmI: 0x71 });
  const { bus, driver, ac } = await driverOn(emu, { rateHz: 1000, dlpfHz: 184, pollMs: 200 });
  assert.equal(driver.variant.name, 'MPU-9250');
  assert.ok(driver.pollMs < 512 / 14 / 2 + 0.01, `poll ${driver.pollMs} ms`);
  const f = await nextFrame(driver, ac.signal);
  await bus.close();
  assert.equal(f.rateHz, 1000);
  assert.ok(Math.abs(f.data[2]! - G) < 0.01);
});

test('MPU-6050: an unknown WHO_AM_I is a DeviceError that a reconnect will not heal', async () => {
  const emu = new Mpu6050Emulator({ whoAmI: 0x12 });
  const bus = await emu.openBus(1);
  const driver = new Mpu6050Driver(bus, config(), { clock: systemClock, sensorId: 'imu0' });
  await assert.rejects(
    driver.init(new AbortController().signal),
    (e: unknown) => e instanceof DeviceError && !e.disconnected,
  );
});

test('MPU-6050: an unknown WHO_AM_I ends the stream once with that DeviceError, not retried', async () => {
  const emu = new Mpu6050Emulator({ whoAmI: 0x12 });
  const h = new Harness(mpu6050Frames(config(), { openBus: emu.openBus }));
  await h.done;
  assert.ok(h.error instanceof DeviceError, `got ${String(h.error)}`);
  assert.equal(h.error.disconnected, false);
  assert.match(h.error.message, /WHO_AM_I = 0x12/);
  assert.equal(emu.opens, 1, 'no reopen for a wrong chip');
  assert.equal(emu.openHandles, 0);
  assert.equal(h.lastHealth?.state, 'down');
  assert.match(h.lastHealth?.reason ?? '', /WHO_AM_I/);
  assert.equal(h.frames.length, 0);
});

test('MPU-6050: FIFO overflow is detected, the FIFO reset and the stream goes on', async () => {
  const time = skewedTime();
  const emu = new Mpu6050Emulator({ now: time.nowMs });
  const { bus, driver, ac } = await driverOn(emu, { rateHz: 1000, dlpfHz: 184 }, time.clock);
  await nextFrame(driver, ac.signal);
  // Not read for 150 ms: 1024 bytes (73 records at 1 kHz) overflow.
  time.skip(150);
  let rejected: RejectedFrame | undefined;
  for (let i = 0; i < 3 && !rejected; i++) {
    const out = await driver.next(ac.signal);
    if (out instanceof RejectedFrame) rejected = out;
  }
  assert.ok(emu.overwritten > 0, 'the emulated FIFO overflowed');
  assert.match(rejected?.reason ?? '', /overflow/);
  const resets = emu.writes.filter((w) => w.bytes[0] === 0x6a && (w.bytes[1]! & 0x04) !== 0).length;
  assert.ok(resets >= 2, 'FIFO_RESET after overflow');
  const f = await nextFrame(driver, ac.signal);
  await bus.close();
  assert.ok(Math.abs(f.data[2]! - G) < 0.01, 'aligned again after reset');
});

test('MPU-9250: an overflow just before the FIFO is read (a late event loop) is rejected, never shifted records', async () => {
  const time = skewedTime();
  const emu = new Mpu6050Emulator({ whoAmI: 0x71, now: time.nowMs });
  const bus = await emu.openBus(1);
  // The process is descheduled for 100 ms right before its first FIFO data read: at 1 kHz the
  // 512-byte FIFO overflows and now starts 8 bytes into a record.
  let late = true;
  const lateBus: I2cBus = {
    ...bus,
    readI2cBlock: (addr, cmd, length, buffer) => {
      if (cmd === MPU_REG.FIFO_R_W && late) {
        late = false;
        time.skip(100);
      }
      return bus.readI2cBlock(addr, cmd, length, buffer);
    },
  };
  const driver = new Mpu6050Driver(lateBus, config({ rateHz: 1000, dlpfHz: 184 }), {
    clock: time.clock,
    sensorId: 'imu0',
  });
  const ac = new AbortController();
  await driver.init(ac.signal);
  const first = await driver.next(ac.signal);
  assert.ok(first instanceof RejectedFrame, 'the read that overlapped an overflow is rejected');
  assert.match(first.reason, /overflow/);
  assert.ok(emu.overwritten > 0);
  for (let k = 0; k < 3; k++) {
    const f = await nextFrame(driver, ac.signal);
    for (let i = 0; i < f.shape[0]!; i++)
      assert.ok(Math.abs(f.data[i * 6 + 2]! - G) < 0.01, `az of sample ${i}`);
  }
  await bus.close();
});

test('MPU-6050: a process that was busy for 2 s is not taken for a stalled FIFO', async () => {
  const time = skewedTime();
  const emu = new Mpu6050Emulator({ now: time.nowMs });
  const { bus, driver, ac } = await driverOn(emu, {}, time.clock);
  await nextFrame(driver, ac.signal);
  time.skip(2000); // four stall timeouts without a read; the chip kept sampling
  const out = await driver.next(ac.signal); // throws "stalled" if it judged by the time alone
  assert.ok(out instanceof RejectedFrame && /overflow/.test(out.reason), 'the overflow, not a stall');
  const f = await nextFrame(driver, ac.signal);
  await bus.close();
  assert.ok(Math.abs(f.data[2]! - G) < 0.01);
});

test('MPU-6050: sample times never go back when the driver resumes late after a FIFO count read', async () => {
  const time = skewedTime();
  const emu = new Mpu6050Emulator({ now: time.nowMs });
  const bus = await emu.openBus(1);
  let counts = 0;
  const lateBus: I2cBus = {
    ...bus,
    readI2cBlock: async (addr, cmd, length, buffer) => {
      const r = await bus.readI2cBlock(addr, cmd, length, buffer);
      // The third count read's continuation runs 100 ms late (a busy event loop).
      if (cmd === MPU_REG.FIFO_COUNTH && ++counts === 3) time.skip(100);
      return r;
    },
  };
  const driver = new Mpu6050Driver(lateBus, config(), { clock: time.clock, sensorId: 'imu0' });
  const ac = new AbortController();
  await driver.init(ac.signal);
  const frames: Frame[] = [];
  while (frames.length < 6) frames.push(await nextFrame(driver, ac.signal));
  await bus.close();
  assert.ok(counts >= 3);
  const periodMs = 1000 / 200;
  for (let k = 1; k < frames.length; k++) {
    const prevEnd = frames[k - 1]!.tMs + (frames[k - 1]!.shape[0]! - 1) * periodMs;
    assert.ok(frames[k]!.tMs > prevEnd, `frame ${k} starts at ${frames[k]!.tMs}, before ${prevEnd}`);
  }
});

test('MPU-6050: a stuck FIFO is caught by the stall timeout and cured by re-initialising', async () => {
  const emu = new Mpu6050Emulator();
  const h = new Harness(mpu6050Frames(config(), { openBus: emu.openBus }));
  try {
    await h.framesAfter(2, 2000);
    emu.stickFifo();
    await h.until('stall reported', () => /stalled/.test(h.lastHealth?.reason ?? ''), 3000);
    const after = await h.framesAfter(2, 3000);
    assert.ok(Math.abs(after[0]!.data[2]! - G) < 0.01);
  } finally {
    await h.stop();
  }
});

test('MPU-6050: config schema', () => {
  const c = Mpu6050ConfigSchema.parse({ id: 'imu0', driver: 'mpu6050', bus: 7 });
  assert.equal(c.address, 0x68);
  assert.equal(c.rateHz, 100);
  assert.equal(c.modality, 'imu');
  assert.equal(
    Mpu6050ConfigSchema.safeParse({ id: 'i', driver: 'mpu6050', bus: 7, address: 0x33 }).success,
    false,
  );
  assert.equal(
    Mpu6050ConfigSchema.safeParse({ id: 'i', driver: 'mpu6050', bus: 7, accelRangeG: 3 }).success,
    false,
  );
  // Removed: I2C sensors reconnect forever like every other driver; a config that still sets it
  // is rejected at load ("unknown key") instead of being silently ignored.
  assert.equal(
    Mpu6050ConfigSchema.safeParse({ id: 'i', driver: 'mpu6050', bus: 7, maxReconnects: 3 }).success,
    false,
  );
});

runI2cDriverContract('mpu6050', {
  frameGapMs: 40,
  make: (backoff) => {
    const device = new Mpu6050Emulator();
    return { device, source: mpu6050Frames(config({ ...backoff }), { openBus: device.openBus }) };
  },
  checkFrame: (f) => {
    assert.equal(f.modality, 'imu');
    assert.equal(f.shape.length, 2);
    assert.equal(f.shape[1], 6);
    assert.equal(f.data.length, f.shape[0]! * 6);
    assert.equal(f.rateHz, 200);
    for (let i = 0; i < f.shape[0]!; i++) {
      assert.ok(Math.abs(f.data[i * 6 + 2]! - G) < 0.01, 'gravity on z in m/s²');
      assert.ok(Math.abs(f.data[i * 6 + 5]!) < 0.36, 'gyro z in rad/s');
    }
  },
});
