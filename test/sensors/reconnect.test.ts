/** Shared driver plumbing (src/sensors/reconnect.ts): sample times, health, reconnect backoff. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import { ManualClock, systemClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import { HealthTracker, SampleTimer, reconnecting } from '../../src/sensors/reconnect.js';
import type { SensorHealth } from '../../src/sensors/types.js';

test('SampleTimer counts samples, keeps backlog, re-anchors on big gaps or running ahead', () => {
  const clock = new ManualClock(1000);
  const t = new SampleTimer(clock, 10, { aheadMs: 250, maxLagMs: 1000 });
  clock.advance(100);
  assert.equal(t.stamp(1), 1000);
  clock.advance(100);
  assert.equal(t.stamp(1), 1100);
  clock.advance(600); // backlog of 500 ms: still counted
  assert.equal(t.stamp(1), 1200);
  clock.advance(3000); // a real gap
  assert.equal(t.stamp(1), 4700);
  assert.equal(t.stamp(1), 4800, 'arrives at once: 100 ms ahead, within tolerance');
  assert.equal(t.stamp(1), 4900, '200 ms ahead, within tolerance');
  assert.equal(t.stamp(1), 4700, 'more than 250 ms ahead of the clock: re-anchored');
});

test('HealthTracker: ok on frames, degraded on rejects, back to ok after clean frames, down', () => {
  const seen: SensorHealth[] = [];
  const h = new HealthTracker((x) => seen.push(x), 3);
  h.frame();
  h.reject('bad line');
  h.frame();
  h.frame();
  h.frame();
  h.down('unplugged');
  h.restart();
  assert.deepEqual(
    seen.map((s) => [s.state, s.reason]),
    [
      ['ok', undefined],
      ['degraded', 'bad line'],
      ['ok', undefined],
      ['down', 'unplugged'],
    ],
  );
  assert.deepEqual(
    { ...h.snapshot(), reason: undefined },
    {
      state: 'down',
      reason: undefined,
      frames: 4,
      rejected: 1,
      restarts: 1,
    },
  );
});

const frame = (i: number): Frame => ({
  sensorId: 's',
  modality: 'imu',
  tMs: i,
  rateHz: 1,
  data: new Float32Array(6),
  shape: [1, 6],
});

test('reconnecting reopens after errors and ends, and throws fatal errors out', async () => {
  let opens = 0;
  const ac = new AbortController();
  const health = new HealthTracker(undefined);
  const got: number[] = [];
  for await (const f of reconnecting({
    sensorId: 's',
    ctx: { clock: systemClock, signal: ac.signal },
    health,
    reconnectMinMs: 10,
    reconnectMaxMs: 40,
    session: async function* () {
      opens++;
      yield frame(opens);
      if (opens % 2) throw new DeviceError('s', 'unplugged', { disconnected: true });
    },
  })) {
    got.push(f.tMs);
    if (got.length === 4) ac.abort();
  }
  assert.deepEqual(got, [1, 2, 3, 4]);
  assert.equal(health.snapshot().restarts, 3);

  await assert.rejects(async () => {
    for await (const _ of reconnecting({
      sensorId: 's',
      ctx: { clock: systemClock, signal: new AbortController().signal },
      health: new HealthTracker(undefined),
      reconnectMinMs: 10,
      reconnectMaxMs: 10,
      isFatal: (e) => e instanceof DeviceError && !e.disconnected,
      // eslint-disable-next-line require-yield
      session: async function* () {
        throw new DeviceError('s', 'tool not installed');
      },
    }));
  }, /tool not installed/);
});
