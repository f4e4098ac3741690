/**
 * The sensor supervisor (src/sensors/supervisor.ts) and its books (health-books.ts): restarts with
 * backoff, counters stitched across replaced sources, the state machine and what it logs. Sources
 * are scripted generators; the clock is a ManualClock and the wait between restarts is recorded.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig, type ResolvedSensor } from '../../src/config/load.js';
import { DeviceError, FormatError } from '../../src/errors.js';
import { ManualClock } from '../../src/pipeline/clock.js';
import { WindowHub } from '../../src/pipeline/hub.js';
import type { Frame } from '../../src/pipeline/types.js';
import { SensorSupervisor, type SupervisorOptions } from '../../src/sensors/supervisor.js';
import type { HealthState, SensorContext } from '../../src/sensors/types.js';
import { SAMPLES } from '../helpers/agent-config.js';
import { captureLogger } from '../helpers/log-capture.js';

const RATE_HZ = 16_000;
const FRAME_SAMPLES = 1600; // 100 ms: one window per frame

function sensor(): ResolvedSensor {
  const file = join(SAMPLES, 'room-audio.wav'); // never opened: the source is injected
  const config = parseConfig(
    [
      'deviceId: t',
      'stateDir: /tmp/edgebind-supervisor-test',
      'sensors:',
      `  - { id: mic, driver: replay, modality: audio, file: ${JSON.stringify(file)}, window: { lengthMs: 100, hopMs: 100 } }`,
      'labels: [{ name: x, prompts: [x] }]',
    ].join('\n'),
    '/tmp/edgebind-supervisor-test.yaml',
  );
  return config.sensors[0]!;
}

function frame(clock: ManualClock): Frame {
  const f: Frame = {
    sensorId: 'mic',
    modality: 'audio',
    tMs: clock.nowMs(),
    rateHz: RATE_HZ,
    data: new Float32Array(FRAME_SAMPLES),
    shape: [FRAME_SAMPLES],
  };
  clock.advance(100);
  return f;
}

/** One scripted source per attempt; each gets the context the supervisor passes. */
type Attempt = (ctx: SensorContext) => AsyncGenerator<Frame>;

function harness(attempts: Attempt[], extra: Partial<SupervisorOptions> = {}) {
  const clock = new ManualClock(1000);
  const hub = extra.hub ?? new WindowHub();
  const { logger, lines } = captureLogger('debug');
  const delays: number[] = [];
  const changes: [string, HealthState, HealthState][] = [];
  let opened = 0;
  const supervisor = new SensorSupervisor({
    sensors: [sensor()],
    hub,
    clock,
    logger,
    onChange: (id, state, prev) => changes.push([id, state, prev]),
    open: (_s, ctx) => {
      const attempt = attempts[opened++];
      if (!attempt) throw new Error('no more attempts scripted');
      return attempt(ctx);
    },
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...extra,
  });
  return { supervisor, hub, clock, lines, delays, changes, opened: () => opened };
}

test('a source that throws is restarted with doubling backoff, its counters stitched', async () => {
  const h = harness([
    async function* (ctx) {
      ctx.onHealth?.({ state: 'ok', frames: 0, rejected: 0, restarts: 0 });
      yield frame(h.clock);
      ctx.onHealth?.({ state: 'degraded', reason: 'bad line', frames: 1, rejected: 3, restarts: 1 });
      throw new DeviceError('mic', 'wrong chip');
    },
    // eslint-disable-next-line require-yield -- fails before its first frame
    async function* () {
      throw new DeviceError('mic', 'still the wrong chip');
    },
    async function* (ctx) {
      ctx.onHealth?.({ state: 'ok', frames: 0, rejected: 1, restarts: 0 });
      yield frame(h.clock);
      yield frame(h.clock);
    },
  ]);
  await h.supervisor.run(new AbortController().signal);

  assert.deepEqual(h.delays, [1000, 2000]);
  assert.equal(h.opened(), 3);
  const s = h.supervisor.status([])['mic']!;
  // rejected: 3 (first source) + 0 (second) + 1 (third); restarts: 1 + 1 throw, 0 + 1 throw, 0.
  assert.deepEqual(s, { state: 'ok', modality: 'audio', frames: 3, rejected: 4, restarts: 3, fused: false });
  assert.deepEqual(h.supervisor.status(['mic'])['mic']!.fused, true);
  assert.deepEqual(
    h.changes.map(([, state, prev]) => `${prev}→${state}`),
    ['down→ok', 'ok→degraded', 'degraded→down', 'down→down', 'down→ok'],
  );
  const restartLogs = h.lines.filter((l) => l.includes('restarting in'));
  assert.equal(restartLogs.length, 2);
  assert.match(restartLogs[0]!, /sensor mic: wrong chip; restarting in 1000 ms/);
  // The stream ended (no loop): the hub is closed and hands out what was queued.
  let windows = 0;
  for (let b = await h.hub.next(8); b; b = await h.hub.next(8)) windows += b.length;
  assert.equal(windows, 3);
});

test('a malformed recording is reported down once and never reopened (issue 14)', async () => {
  const h = harness([
    // eslint-disable-next-line require-yield -- the file is bad from its first byte
    async function* () {
      throw new FormatError('room.wav', 'not a RIFF file');
    },
  ]);
  await h.supervisor.run(new AbortController().signal);
  assert.equal(h.opened(), 1);
  assert.deepEqual(h.delays, []);
  const s = h.supervisor.status([])['mic']!;
  assert.equal(s.state, 'down');
  assert.equal(s.reason, 'room.wav: not a RIFF file');
  assert.equal(s.restarts, 1);
  assert.ok(h.lines.some((l) => l.includes('"level":50') && l.includes('sensor mic stopped')));
});

test('in a deterministic run a broken source fails the run instead of restarting', async () => {
  const h = harness(
    [
      // eslint-disable-next-line require-yield -- fails at once
      async function* () {
        throw new DeviceError('mic', 'gone');
      },
    ],
    { hub: new WindowHub({ deterministic: true }) },
  );
  await assert.rejects(h.supervisor.run(new AbortController().signal), /gone/);
  assert.deepEqual(h.delays, []);
});

test('aborting ends the restart loop', async () => {
  const controller = new AbortController();
  const fail: Attempt = async function* () {
    yield* [];
    throw new DeviceError('mic', 'flaky');
  };
  const h = harness([fail, fail, fail], {
    sleep: async () => controller.abort(new Error('stopping')),
  });
  await h.supervisor.run(controller.signal);
  assert.equal(h.opened(), 1);
  assert.equal(h.supervisor.status([])['mic']!.state, 'down');
});

test('encoder trouble degrades a sensor until its windows embed again; down stays down', () => {
  const h = harness([]);
  const books = h.supervisor.health;
  books.frame('mic'); // up
  books.encoderFailed('mic', 'out of memory');
  assert.equal(h.supervisor.status([])['mic']!.reason, 'encoder failed: out of memory');
  books.embedded('mic');
  assert.equal(h.supervisor.status([])['mic']!.state, 'ok');
  assert.equal(books.nonFinite('mic'), 1);
  assert.equal(books.nonFinite('nope'), 0);
  assert.deepEqual(h.supervisor.status([])['mic']!, {
    state: 'degraded',
    reason: 'encoder output not finite (1 windows dropped)',
    modality: 'audio',
    frames: 1,
    rejected: 0,
    restarts: 0,
    nonFinite: 1,
    fused: false,
  });
  books.report('mic', { state: 'down', reason: 'unplugged', frames: 1, rejected: 0, restarts: 1 });
  books.encoderFailed('mic', 'out of memory');
  assert.equal(h.supervisor.status([])['mic']!.reason, 'unplugged');
  assert.equal(books.isDown('mic'), true);
});
