/**
 * The shared driver contract (STYLE §10): one suite run against every I2C driver with its
 * emulator. Time is real but short: drivers run with small reconnect backoffs, and each case waits
 * on frames or health reports rather than fixed sleeps, so it is not timing-flaky.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import { systemClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import type { FrameSource, SensorHealth } from '../../src/sensors/types.js';
import type { FaultyI2cDevice } from './i2c-emulator.js';

export interface ContractSubject {
  device: FaultyI2cDevice;
  /** The driver's frame source over `device.openBus`. */
  source: FrameSource;
}

/** Backoff overrides passed into the driver's config. */
export interface ContractBackoff {
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface ContractOptions {
  /**
   * Builds a fresh emulator and driver. Drivers get reconnectMinMs ≈ 20, reconnectMaxMs ≈ 200
   * unless `backoff` says otherwise.
   */
  make(backoff: ContractBackoff): ContractSubject;
  /** Checks one frame's shape and units (throws via assert). */
  checkFrame(frame: Frame): void;
  /** Longest expected gap between frames in normal streaming, ms. */
  frameGapMs: number;
}

/** A running source: frames and health reports land in arrays; waiters poll them. */
export class Harness {
  readonly frames: Frame[] = [];
  readonly health: SensorHealth[] = [];
  readonly controller = new AbortController();
  error: unknown;
  done: Promise<void>;

  constructor(source: FrameSource) {
    const ctx = {
      clock: systemClock,
      signal: this.controller.signal,
      onHealth: (h: SensorHealth) => this.health.push(h),
    };
    this.done = (async () => {
      try {
        for await (const f of source(ctx)) this.frames.push(f);
      } catch (err) {
        this.error = err;
      }
    })();
  }

  get lastHealth(): SensorHealth | undefined {
    return this.health.at(-1);
  }

  /** Resolves when `cond()` holds; fails the test after `timeoutMs`. */
  async until(what: string, cond: () => boolean, timeoutMs: number): Promise<number> {
    const start = performance.now();
    while (!cond()) {
      if (this.error instanceof Error && !(this.error instanceof DeviceError)) throw this.error;
      if (performance.now() - start > timeoutMs)
        assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return performance.now() - start;
  }

  async framesAfter(n: number, timeoutMs: number): Promise<Frame[]> {
    const from = this.frames.length;
    await this.until(`${n} more frames`, () => this.frames.length >= from + n, timeoutMs);
    return this.frames.slice(from);
  }

  async stop(): Promise<void> {
    this.controller.abort(new Error('test done'));
    await this.done;
  }
}

export function runI2cDriverContract(name: string, opts: ContractOptions): void {
  // Bounds on waits for a condition: generous, since a loaded machine may be slow and a passing
  // wait returns as soon as its condition holds (issue #24).
  const wait = (n: number) => Math.max(20_000, opts.frameGapMs * (n + 3));

  /**
   * Replugs `device`: the first reopen after it brings a good frame, then health returns to ok.
   * "Within 2 s" is checked by counting, not timing a loaded machine: at most one open after the
   * replug (the session in flight may fail), i.e. one backoff delay ≤ reconnectMaxMs (200 ms here).
   */
  const replugAndRecover = async (h: Harness, device: FaultyI2cDevice) => {
    const before = h.frames.length;
    const opensBefore = device.opens;
    device.replug();
    await h.until('a frame after replug', () => h.frames.length > before, 20_000);
    assert.ok(device.opens - opensBefore <= 1, `${device.opens - opensBefore} opens after replug`);
    opts.checkFrame(h.frames.at(-1)!);
    await h.until('health ok', () => h.lastHealth?.state === 'ok', 20_000);
  };

  describe(`${name}: I2C driver contract`, () => {
    test('streams frames in native units with monotonic timestamps and reports ok', async () => {
      const { device, source } = opts.make({});
      const h = new Harness(source);
      try {
        const frames = await h.framesAfter(4, wait(4));
        for (const f of frames) opts.checkFrame(f);
        for (let i = 1; i < frames.length; i++)
          assert.ok(frames[i]!.tMs >= frames[i - 1]!.tMs, 'tMs monotonic');
        assert.equal(h.lastHealth?.state, 'ok');
        assert.equal(h.lastHealth?.restarts, 0);
        assert.ok(device.writes.length > 0, 'driver configured the chip');
      } finally {
        await h.stop();
      }
      assert.equal(device.openHandles, 0, 'bus closed after abort');
    });

    test('timestamps come from ctx.clock', async () => {
      const { source } = opts.make({});
      const offsetMs = 5_000_000;
      const clock = { nowMs: () => performance.now() + offsetMs, toWallMs: (ms: number) => ms };
      const controller = new AbortController();
      const frames: Frame[] = [];
      const before = clock.nowMs();
      for await (const f of source({ clock, signal: controller.signal })) {
        frames.push(f);
        if (frames.length === 2) break;
      }
      const after = clock.nowMs();
      for (const f of frames) {
        // IMU frames start up to one FIFO batch before the read.
        assert.ok(f.tMs >= before - 1000 && f.tMs <= after, `tMs ${f.tMs} within [${before}, ${after}]`);
      }
    });

    test('unplug reports down; after replug frames resume within 2 s', async () => {
      const { device, source } = opts.make({});
      const h = new Harness(source);
      try {
        await h.framesAfter(2, wait(2));
        const opensAtUnplug = device.opens;
        device.unplug();
        await h.until('health down', () => h.lastHealth?.state === 'down', 20_000);
        assert.ok((h.lastHealth?.restarts ?? 0) >= 1);
        // Stay unplugged across several reconnect attempts.
        await h.until('failed reopens', () => device.opens >= opensAtUnplug + 3, 20_000);
        await replugAndRecover(h, device);
      } finally {
        await h.stop();
      }
      assert.equal(h.error, undefined);
    });

    test('garbage data is rejected frame by frame; the stream goes on', async () => {
      const { device, source } = opts.make({});
      const h = new Harness(source);
      try {
        await h.framesAfter(1, wait(1));
        // Random bytes (seeded) on the next 12 data reads; some may pass as a plausible frame. Three
        // bad frames among the last 100 (FRAME_REJECT_RATE) make it degraded.
        device.garbageNext(12);
        await h.until('rejections', () => (h.lastHealth?.rejected ?? 0) >= 3, wait(6));
        assert.equal(h.lastHealth?.state, 'degraded');
        assert.match(h.lastHealth?.reason ?? '', /^3 of the last \d+ rejected, latest: /);
        const after = await h.framesAfter(3, wait(6));
        for (const f of after) opts.checkFrame(f);
      } finally {
        await h.stop();
      }
      assert.equal(h.error, undefined);
    });

    test('one bad frame is counted but leaves the sensor ok', async () => {
      const { device, source } = opts.make({});
      const h = new Harness(source);
      try {
        await h.framesAfter(1, wait(1));
        device.garbageNext(1);
        await h.until('rejection', () => (h.lastHealth?.rejected ?? 0) >= 1, wait(6));
        assert.equal(h.lastHealth?.state, 'ok', 'a lone bad frame is noise, not a fault');
        const after = await h.framesAfter(2, wait(6));
        for (const f of after) opts.checkFrame(f);
        assert.equal(h.lastHealth?.state, 'ok');
      } finally {
        await h.stop();
      }
      assert.equal(h.error, undefined);
    });

    test('short reads are rejected, not thrown', async () => {
      const { device, source } = opts.make({});
      const h = new Harness(source);
      try {
        await h.framesAfter(1, wait(1));
        device.shortReadNext(2);
        await h.until('rejections', () => (h.lastHealth?.rejected ?? 0) >= 1, wait(4));
        const after = await h.framesAfter(2, wait(4));
        for (const f of after) opts.checkFrame(f);
      } finally {
        await h.stop();
      }
      assert.equal(h.error, undefined);
    });

    for (const code of ['EREMOTEIO', 'ENXIO', 'EIO']) {
      test(`bus error ${code} → reconnect, stream goes on`, async () => {
        const { device, source } = opts.make({});
        const h = new Harness(source);
        try {
          await h.framesAfter(1, wait(1));
          const opensBefore = device.opens;
          device.failNext(2, code);
          await h.until('a reconnect', () => device.opens > opensBefore, wait(2));
          const after = await h.framesAfter(2, wait(2) + 1000);
          for (const f of after) opts.checkFrame(f);
          assert.ok((h.lastHealth?.restarts ?? 0) >= 1);
        } finally {
          await h.stop();
        }
        assert.equal(h.error, undefined);
      });
    }

    // One reconnect contract for every driver (src/sensors/reconnect.ts): an outage far longer
    // than the removed `maxReconnects` ever allowed is retried, never thrown to a supervisor.
    for (const code of ['EIO', 'ENXIO', 'EREMOTEIO']) {
      test(`a device gone (${code}) for many reconnects is retried forever, reported down, and streams again`, async () => {
        const backoff = { reconnectMinMs: 5, reconnectMaxMs: 20 };
        const { device, source } = opts.make(backoff);
        const h = new Harness(source);
        try {
          await h.framesAfter(2, wait(2));
          const healthBefore = h.health.length;
          const opensBefore = device.opens;
          const unpluggedAt = performance.now();
          device.unplug(code);
          await h.until('health down', () => h.lastHealth?.state === 'down', 20_000);
          // 12 failed reopens wait 5 + 10 + 10 × 20 ms in all once the delay is capped (uncapped
          // doubling would need 20 s), never a hot loop.
          const attempts = 12;
          await h.until(
            `${attempts} failed reopens`,
            () => {
              assert.equal(h.error, undefined, 'the stream gave up');
              return device.opens >= opensBefore + attempts;
            },
            5000,
          );
          const ms = performance.now() - unpluggedAt;
          assert.ok(ms >= 200, `backed off between reopens (${Math.round(ms)} ms for ${attempts})`);
          const framesWhileDown = h.frames.length;
          await h.until('more failed reopens', () => device.opens >= opensBefore + attempts + 3, 20_000);
          assert.equal(h.frames.length, framesWhileDown, 'no frames while the device is gone');
          assert.equal(h.error, undefined, 'the stream does not give up');
          const during = h.health.slice(healthBefore);
          assert.ok(during.length >= 1);
          for (const s of during) assert.equal(s.state, 'down', 'down for the whole outage');
          assert.match(h.lastHealth?.reason ?? '', new RegExp(code));
          assert.ok((h.lastHealth?.restarts ?? 0) >= 1);
          assert.ok(
            device.openHandles <= 1,
            `each failed attempt closed its bus (${device.openHandles} open)`,
          );

          await replugAndRecover(h, device);
          assert.ok(
            (h.lastHealth?.restarts ?? 0) >= attempts,
            `every failed attempt counted (${h.lastHealth?.restarts})`,
          );
        } finally {
          await h.stop();
        }
        assert.equal(h.error, undefined);
        assert.equal(device.openHandles, 0, 'bus closed after abort');
      });
    }
  });
}
