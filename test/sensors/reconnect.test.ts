/** Shared driver plumbing (src/sensors/reconnect.ts): sample times, health, reconnect backoff. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import { ManualClock, systemClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import {
  Backoff,
  HealthTracker,
  SampleTimer,
  reasonOf,
  reconnecting,
  reconnectingSource,
} from '../../src/sensors/reconnect.js';
import { osText } from '../../src/sensors/bus/serial.js';
import { SERIAL_REJECT_RATE } from '../../src/sensors/serial/line-protocol.js';
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

test('HealthTracker with a reject-rate rule: rare bad items never flap, a burst degrades once', () => {
  const seen: SensorHealth[] = [];
  const h = new HealthTracker((x) => seen.push(x), 10, SERIAL_REJECT_RATE);
  const line = (bad: boolean) => {
    if (bad) h.reject('not a number: "x"');
    else {
      h.accept();
      h.frame();
    }
  };
  // The reports that change state or reason (the others only bring the counts up to date).
  const changes = () =>
    seen.filter((x, i) => i === 0 || x.state !== seen[i - 1]!.state || x.reason !== seen[i - 1]!.reason);
  // One bad line in 250, for 20 s at 250 lines/s: the report that used to flap every 1-2 s.
  for (let i = 0; i < 5000; i++) line(i % 250 === 249);
  assert.deepEqual(
    changes().map((x) => x.state),
    ['ok'],
    'one change (up), nothing else',
  );
  assert.equal(h.snapshot().rejected, 20);
  assert.equal(seen.at(-1)!.rejected, 20, 'the health books see every rejection, not 0 until a change');
  // A burst: degraded once, with one reason, however many more bad lines come.
  for (let i = 0; i < 20; i++) line(i % 2 === 0);
  assert.deepEqual(
    changes()
      .slice(1)
      .map((x) => [x.state, x.reason]),
    [['degraded', '5 of the last 200 rejected, latest: not a number: "x"']],
  );
  // Ok once the burst has left the window (at most okAt = 1 rejection in it); not before.
  let clean = 0;
  while (h.snapshot().state === 'degraded') {
    line(false);
    clean++;
    assert.ok(clean <= 200, 'back to ok within one window of clean lines');
  }
  assert.ok(clean > 150, `not ok while the burst is still in the window (${clean})`);
  // In between the thresholds (2 to 4 rejections in the window) nothing changes.
  const before = changes().length;
  for (let i = 0; i < 1000; i++) line(i % 70 === 0);
  assert.equal(changes().length, before, 'a steady 1.4 % keeps the state it has');
  assert.throws(
    () => new HealthTracker(undefined, 10, { windowItems: 10, degradedAt: 2, okAt: 2 }),
    TypeError,
  );
});

test('reasons say the sensor id and the OS error once', () => {
  assert.equal(reasonOf(new Error('board: /dev/ttyACM0 closed'), 'board'), '/dev/ttyACM0 closed');
  assert.equal(reasonOf(new Error('other: x'), 'board'), 'other: x');
  assert.equal(
    osText('Error: No such file or directory, cannot open /dev/ttyACM0', '/dev/ttyACM0'),
    'No such file or directory',
  );
  assert.equal(osText('Error: Input/output error', '/dev/x'), 'Input/output error');
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

test('Backoff doubles from min to max, stays capped, and resets to min', () => {
  const b = new Backoff(10, 100);
  assert.deepEqual(
    Array.from({ length: 7 }, () => b.next()),
    [10, 20, 40, 80, 100, 100, 100],
  );
  b.reset();
  assert.equal(b.next(), 10);
  const inverted = new Backoff(500, 100);
  assert.deepEqual([inverted.next(), inverted.next()], [100, 100], 'never above max');
});

test('reconnectingSource retries a failing device forever and reports down until it is back', async () => {
  const seen: SensorHealth[] = [];
  const ac = new AbortController();
  let opens = 0;
  const failFor = 25; // far beyond any retry count a supervisor would allow
  const source = reconnectingSource({
    sensorId: 's',
    reconnectMinMs: 1,
    reconnectMaxMs: 2,
    isFatal: (e) => e instanceof DeviceError && !e.disconnected,
    session: async function* () {
      opens++;
      if (opens <= failFor) throw Object.assign(new Error('EIO, Input/output error'), { code: 'EIO' });
      yield frame(opens);
    },
  });
  const got: number[] = [];
  for await (const f of source({ clock: systemClock, signal: ac.signal, onHealth: (h) => seen.push(h) })) {
    got.push(f.tMs);
    ac.abort();
  }
  assert.deepEqual(got, [failFor + 1]);
  assert.deepEqual(
    seen.map((h) => [h.state, h.reason]),
    [
      ['down', 'EIO, Input/output error'],
      ['ok', undefined],
    ],
  );
  assert.equal(seen[0]!.restarts, 1, 'the down report already counts its restart');
  assert.equal(seen[1]!.restarts, failFor);
});
