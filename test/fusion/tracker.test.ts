import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventTracker, type TrackerTiming } from '../../src/fusion/tracker.js';
import type { LabelEvent } from '../../src/pipeline/types.js';

const timing: TrackerTiming = {
  minWindows: 2,
  endWindows: 2,
  updateIntervalMs: 3000,
  unseenMs: 10_000,
  cooldownMs: 2000,
  maxDurationMs: 60_000,
};
const labels = [{ name: 'alarm', onThreshold: 0.6, offThreshold: 0.4 }];
let counter = 0;
const tracker = (t: Partial<TrackerTiming> = {}) =>
  new EventTracker(
    labels,
    { ...timing, ...t },
    (ms) => Date.UTC(2026, 0, 1) + ms,
    () => `id-${++counter}`,
  );
const obs = (score: number, endMs: number) => ({
  label: 'alarm',
  score,
  startMs: endMs - 1000,
  endMs,
  sources: [{ sensorId: 'mic', modality: 'audio' as const }],
});

test('start after minWindows hits, update carries the peak, end after endWindows misses', () => {
  const tr = tracker();
  const events: LabelEvent[] = [];
  const scores = [0.7, 0.3, 0.7, 0.8, 0.9, 0.5, 0.45, 0.3, 0.2, 0.1];
  scores.forEach((s, i) => events.push(...tr.observe(obs(s, (i + 1) * 1000))));
  assert.deepEqual(
    events.map((e) => e.type),
    ['start', 'update', 'end'],
  );
  const [start, update, end] = events as [LabelEvent, LabelEvent, LabelEvent];
  assert.equal(start.id, end.id);
  assert.equal(update.id, start.id);
  assert.equal(start.score, 0.8);
  assert.equal(
    start.startTime,
    new Date(Date.UTC(2026, 0, 1) + 2000).toISOString(),
    'starts at the first hit window',
  );
  assert.equal(update.peakScore, 0.9);
  assert.equal(end.peakScore, 0.9);
  assert.equal(
    end.endTime,
    new Date(Date.UTC(2026, 0, 1) + 7000).toISOString(),
    'ends at the last window ≥ off',
  );
  assert.deepEqual(end.modalities, ['audio']);
  assert.deepEqual(end.sensors, ['mic']);
});

test('hysteresis: scores between off and on keep an open event alive', () => {
  const tr = tracker({ updateIntervalMs: 0 });
  const types = [0.7, 0.7, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3].flatMap((s, i) =>
    tr.observe(obs(s, i * 1000)).map((e) => e.type),
  );
  assert.deepEqual(types, ['start', 'end']);
});

test('unseen timeout ends an event on tick; flush ends what is open', () => {
  const tr = tracker({ minWindows: 1 });
  assert.equal(tr.observe(obs(0.9, 1000))[0]?.type, 'start');
  assert.deepEqual(tr.tick(5000), []);
  const ended = tr.tick(11_000);
  assert.equal(ended[0]?.type, 'end');
  assert.equal(tr.openCount(), 0);
  tr.observe(obs(0.9, 20_000));
  assert.equal(tr.flush(21_000)[0]?.type, 'end');
  assert.deepEqual(tr.flush(22_000), []);
});

test('maxDuration cuts a long event', () => {
  const tr = tracker({ minWindows: 1, maxDurationMs: 5000, updateIntervalMs: 0, cooldownMs: 0 });
  const types = Array.from({ length: 8 }, (_, i) => tr.observe(obs(0.9, i * 1000)))
    .flat()
    .map((e) => e.type);
  assert.deepEqual(types.slice(0, 3), ['start', 'end', 'start']);
});

test('unknown label is a TypeError', () => {
  assert.throws(() => tracker().observe({ ...obs(1, 0), label: 'nope' }), TypeError);
});

test('property: no overlap, exactly one end per start, unique ids, cooldown honoured', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.float({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 4000 })), {
        maxLength: 300,
      }),
      fc.record({
        minWindows: fc.integer({ min: 1, max: 4 }),
        endWindows: fc.integer({ min: 1, max: 4 }),
        updateIntervalMs: fc.integer({ min: 0, max: 5000 }),
        unseenMs: fc.integer({ min: 0, max: 8000 }),
        cooldownMs: fc.integer({ min: 0, max: 5000 }),
        maxDurationMs: fc.integer({ min: 1000, max: 30_000 }),
      }),
      (stream, t) => {
        let n = 0;
        const tr = new EventTracker(
          labels,
          t,
          (ms) => ms,
          () => `e${n++}`,
        );
        const events: LabelEvent[] = [];
        let now = 0;
        for (const [score, dt] of stream) {
          now += dt;
          events.push(...tr.observe(obs(score, now)));
          events.push(...tr.tick(now));
        }
        events.push(...tr.flush(now));
        let open: string | undefined;
        let lastEnd = -Infinity;
        const ids = new Set<string>();
        for (const e of events) {
          if (e.type === 'start') {
            assert.equal(open, undefined, 'a start while another event is open');
            assert.ok(!ids.has(e.id), 'id reused');
            ids.add(e.id);
            open = e.id;
            assert.ok(Date.parse(e.timestamp) - lastEnd >= t.cooldownMs || lastEnd === -Infinity, 'cooldown');
          } else {
            assert.equal(e.id, open, `${e.type} for an event that is not open`);
            if (e.type === 'end') {
              open = undefined;
              lastEnd = Date.parse(e.endTime!);
            }
          }
        }
        assert.equal(open, undefined, 'every start has an end');
      },
    ),
    { numRuns: 300 },
  );
});
