import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventTracker, type TrackedEvent, type TrackerTiming } from '../../src/fusion/tracker.js';
import { base64ToFloat16 } from '../../src/util/vectors.js';
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
  new EventTracker({
    labels,
    timing: { ...timing, ...t },
    toWallMs: (ms) => Date.UTC(2026, 0, 1) + ms,
    newId: () => `id-${++counter}`,
  });
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
  assert.equal(start.endReason, null);
  assert.equal(update.endReason, null);
  assert.equal(end.endReason, 'belowThreshold');
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
  assert.equal(ended[0]?.endReason, 'unseen');
  assert.equal(tr.openCount(), 0);
  tr.observe(obs(0.9, 20_000));
  const flushed = tr.flush(21_000);
  assert.equal(flushed[0]?.type, 'end');
  assert.equal(flushed[0]?.endReason, 'stopped');
  assert.equal(flushed[0]?.score, 0.9, 'the score of an event still on when stopped is its last one');
  assert.deepEqual(tr.flush(22_000), []);
});

test('maxDuration cuts a long event', () => {
  const tr = tracker({ minWindows: 1, maxDurationMs: 5000, updateIntervalMs: 0, cooldownMs: 0 });
  const events = Array.from({ length: 8 }, (_, i) => tr.observe(obs(0.9, i * 1000))).flat();
  assert.deepEqual(
    events.slice(0, 3).map((e) => e.type),
    ['start', 'end', 'start'],
  );
  assert.equal(events[1]!.endReason, 'maxDuration');
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
        const tr = new EventTracker({ labels, timing: t, toWallMs: (ms) => ms, newId: () => `e${n++}` });
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

test('contributions: per-sensor latest and peak score; the fused embedding of the peak when asked', () => {
  const tr = new EventTracker({
    labels,
    timing: { ...timing, minWindows: 1 },
    toWallMs: (ms) => ms,
    newId: () => 'id',
    includeEmbedding: true,
  });
  const o = (score: number, endMs: number, mic: number, cam: number, embedding: Float32Array) => ({
    ...obs(score, endMs),
    contributions: [
      { sensorId: 'cam', modality: 'thermal' as const, score: cam, weight: 1 },
      { sensorId: 'mic', modality: 'audio' as const, score: mic, weight: 2 },
    ],
    embedding,
  });
  const peak = Float32Array.from([0.6, 0.8]);
  tr.observe(o(0.7, 1000, 0.6, 0.8, Float32Array.from([1, 0])));
  tr.observe(o(0.9, 2000, 0.95, 0.85, peak));
  const [end] = tr.flush(3000) as [TrackedEvent];
  assert.deepEqual(end.contributions, [
    { sensorId: 'cam', modality: 'thermal', score: 0.85, peakScore: 0.85, weight: 1 },
    { sensorId: 'mic', modality: 'audio', score: 0.95, peakScore: 0.95, weight: 2 },
  ]);
  const back = base64ToFloat16(end.embedding!);
  assert.ok(Math.abs(back[0]! - 0.6) < 1e-3 && Math.abs(back[1]! - 0.8) < 1e-3, 'fp16 of the peak embedding');
});

test('gate and hold: a failed start gate never starts an event; a failed hold counts as a miss', () => {
  const tr = tracker({ minWindows: 1, endWindows: 1, updateIntervalMs: 0 });
  assert.deepEqual(tr.observe({ ...obs(0.95, 1000), gate: false }), []);
  assert.equal(tr.observe(obs(0.95, 2000))[0]?.type, 'start');
  assert.equal(tr.observe({ ...obs(0.95, 3000), hold: false })[0]?.type, 'end');
});

test('property: per-label timing overrides, gates and several labels keep every lifecycle invariant', () => {
  const timingArb = fc.record({
    minWindows: fc.integer({ min: 1, max: 4 }),
    endWindows: fc.integer({ min: 1, max: 4 }),
    updateIntervalMs: fc.integer({ min: 0, max: 5000 }),
    unseenMs: fc.integer({ min: 0, max: 8000 }),
    cooldownMs: fc.integer({ min: 0, max: 5000 }),
    maxDurationMs: fc.integer({ min: 1000, max: 30_000 }),
  });
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          label: fc.constantFrom('alarm', 'dog'),
          score: fc.float({ min: 0, max: 1, noNaN: true }),
          dt: fc.integer({ min: 0, max: 4000 }),
          gate: fc.boolean(),
          hold: fc.boolean(),
          sensors: fc.subarray(['mic', 'cam'], { minLength: 1 }),
        }),
        { maxLength: 300 },
      ),
      timingArb,
      fc.record({
        cooldownMs: fc.integer({ min: 0, max: 9000 }),
        minWindows: fc.integer({ min: 1, max: 3 }),
      }),
      (stream, t, dogTiming) => {
        let n = 0;
        const tr = new EventTracker({
          labels: [
            { name: 'alarm', onThreshold: 0.6, offThreshold: 0.4 },
            { name: 'dog', onThreshold: 0.5, offThreshold: 0.5, timing: dogTiming },
          ],
          timing: t,
          toWallMs: (ms) => ms,
          newId: () => `e${n++}`,
        });
        const cooldown = { alarm: t.cooldownMs, dog: dogTiming.cooldownMs };
        const events: TrackedEvent[] = [];
        const startedBy = new Map<string, { gate: boolean; score: number }>();
        let now = 0;
        for (const x of stream) {
          now += x.dt;
          const sources = x.sensors.map((s) => ({
            sensorId: s,
            modality: s === 'mic' ? ('audio' as const) : ('thermal' as const),
          }));
          const out = tr.observe({
            label: x.label,
            score: x.score,
            startMs: now - 1000,
            endMs: now,
            sources,
            gate: x.gate,
            hold: x.hold,
            contributions: sources.map((s) => ({ ...s, score: x.score, weight: 1 })),
          });
          for (const e of out) if (e.type === 'start') startedBy.set(e.id, { gate: x.gate, score: x.score });
          events.push(...out, ...tr.tick(now));
        }
        events.push(...tr.flush(now));
        assert.equal(tr.openCount(), 0);
        const ids = new Set<string>();
        for (const name of ['alarm', 'dog'] as const) {
          let open: string | undefined;
          let lastEnd = -Infinity;
          for (const e of events.filter((x) => x.label === name)) {
            if (e.type === 'start') {
              assert.equal(open, undefined, `${name}: overlapping events`);
              assert.ok(!ids.has(e.id), 'ids are unique across labels');
              ids.add(e.id);
              open = e.id;
              const by = startedBy.get(e.id)!;
              assert.ok(by.gate, 'only an observation passing the gate starts an event');
              assert.ok(
                Date.parse(e.timestamp) - lastEnd >= cooldown[name] || lastEnd === -Infinity,
                'cooldown',
              );
            } else {
              assert.equal(e.id, open, `${name}: ${e.type} for an event that is not open`);
              if (e.type === 'end') {
                open = undefined;
                lastEnd = Date.parse(e.endTime!);
                assert.ok(
                  e.contributions.length > 0 &&
                    e.contributions.every((c) => ['mic', 'cam'].includes(c.sensorId)),
                );
              }
            }
          }
          assert.equal(open, undefined, `${name}: every start has an end (flush at shutdown)`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

const labelObs = (label: string, score: number, endMs: number) => ({ ...obs(score, endMs), label });
const alarmAndDog = [
  { name: 'alarm', onThreshold: 0.6, offThreshold: 0.4 },
  { name: 'dog', onThreshold: 0.5, offThreshold: 0.5 },
];

test('retarget: an open event of a kept label survives a swap and ends later with the same id', () => {
  const tr = new EventTracker({
    labels: alarmAndDog,
    timing: { ...timing, minWindows: 1 },
    toWallMs: (ms) => ms,
    newId: () => `id-${++counter}`,
  });
  const [start] = tr.observe(labelObs('alarm', 0.9, 1000)) as [TrackedEvent];
  tr.observe(labelObs('alarm', 0.95, 2000));
  const ended = tr.retarget([...alarmAndDog, { name: 'cat', onThreshold: 0.5, offThreshold: 0.5 }], 2500);
  assert.deepEqual(ended, [], 'adding an unrelated label ends nothing');
  assert.equal(tr.openCount(), 1);
  const after = [0.8, 0.7, 0.3, 0.2].flatMap((s, i) => tr.observe(labelObs('alarm', s, 3000 + i * 1000)));
  assert.deepEqual(
    after.map((e) => e.type),
    ['update', 'end'],
  );
  for (const e of after) {
    assert.equal(e.id, start.id);
    assert.equal(e.startTime, start.startTime);
  }
  const end = after[1]!;
  assert.equal(end.peakScore, 0.95, 'the peak from before the swap is kept');
  assert.equal(end.windows, 6, 'windows before and after the swap');
  assert.equal(end.endTime, new Date(4000).toISOString());
});

test('retarget: the open event of a removed label ends at the swap; the kept one goes on', () => {
  const tr = new EventTracker({
    labels: alarmAndDog,
    timing: { ...timing, minWindows: 1, updateIntervalMs: 0 },
    toWallMs: (ms) => ms,
    newId: () => `id-${++counter}`,
  });
  const [alarm] = tr.observe(labelObs('alarm', 0.9, 1000)) as [TrackedEvent];
  const [dog] = tr.observe(labelObs('dog', 0.9, 1000)) as [TrackedEvent];
  tr.observe(labelObs('dog', 0.8, 2000));
  tr.observe(labelObs('dog', 0.1, 3000)); // a miss: the end is at the last window ≥ off
  const ended = tr.retarget([alarmAndDog[0]!], 3500);
  assert.equal(ended.length, 1);
  assert.equal(ended[0]!.type, 'end');
  assert.equal(ended[0]!.id, dog.id);
  assert.equal(ended[0]!.label, 'dog');
  assert.equal(ended[0]!.endReason, 'labelRemoved');
  assert.equal(ended[0]!.endTime, new Date(2000).toISOString());
  assert.equal(tr.openCount(), 1, 'alarm is still open');
  assert.throws(() => tr.observe(labelObs('dog', 0.9, 4000)), TypeError, 'dog is gone');
  const [end] = tr.flush(5000) as [TrackedEvent];
  assert.equal(end.id, alarm.id);
});

test('retarget: an added label opens events after the swap; a re-added one starts fresh', () => {
  const tr = new EventTracker({
    labels: alarmAndDog,
    timing: { ...timing, cooldownMs: 60_000 },
    toWallMs: (ms) => ms,
    newId: () => `id-${++counter}`,
  });
  const cat = { name: 'cat', onThreshold: 0.5, offThreshold: 0.5 };
  assert.throws(() => tr.observe(labelObs('cat', 0.9, 1000)), TypeError);
  tr.retarget([...alarmAndDog, cat], 1000);
  assert.deepEqual(tr.observe(labelObs('cat', 0.9, 2000)), [], 'minWindows: 2 counts from the swap');
  const [start] = tr.observe(labelObs('cat', 0.9, 3000)) as [TrackedEvent];
  assert.equal(start.type, 'start');
  assert.equal(start.label, 'cat');
  assert.equal(start.startTime, new Date(1000).toISOString(), 'the first window after the swap');

  // dog ends, so its 60 s cooldown runs; removed and re-added it has no history.
  tr.observe(labelObs('dog', 0.9, 1000));
  tr.observe(labelObs('dog', 0.9, 2000));
  assert.equal(tr.flush(2500).length, 2);
  tr.retarget([alarmAndDog[0]!], 3000);
  tr.retarget(alarmAndDog, 3000);
  tr.observe(labelObs('dog', 0.9, 4000));
  assert.equal(tr.observe(labelObs('dog', 0.9, 5000))[0]?.type, 'start', 'no cooldown left from before');
});

test('retarget: a kept label takes its new thresholds and timing at once and keeps its cooldown', () => {
  const tr = new EventTracker({
    labels: alarmAndDog,
    timing: { ...timing, minWindows: 1, updateIntervalMs: 0, cooldownMs: 5000 },
    toWallMs: (ms) => ms,
    newId: () => `id-${++counter}`,
  });
  tr.observe(labelObs('alarm', 0.9, 1000));
  tr.retarget([{ name: 'alarm', onThreshold: 0.9, offThreshold: 0.8, timing: { endWindows: 1 } }], 1500);
  const [end] = tr.observe(labelObs('alarm', 0.7, 2000)) as [TrackedEvent];
  assert.equal(end.type, 'end', 'one miss under the new off-threshold and endWindows ends it');
  assert.equal(end.endTime, new Date(1000).toISOString());

  tr.retarget([{ name: 'alarm', onThreshold: 0.6, offThreshold: 0.4, timing: { cooldownMs: 8000 } }], 2500);
  assert.deepEqual(tr.observe(labelObs('alarm', 0.95, 8000)), [], 'the cooldown from before the swap holds');
  assert.equal(tr.observe(labelObs('alarm', 0.95, 9000))[0]?.type, 'start', 'with the new length');
});

test('retarget: duplicate label names are a TypeError', () => {
  assert.throws(() => tracker().retarget([labels[0]!, labels[0]!], 0), TypeError);
});

test('property: label swaps keep every lifecycle; they end only events of removed labels', () => {
  const names = ['alarm', 'dog', 'cat'] as const;
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.record({
            kind: fc.constant('observe' as const),
            label: fc.constantFrom(...names),
            score: fc.float({ min: 0, max: 1, noNaN: true }),
            dt: fc.integer({ min: 0, max: 4000 }),
          }),
          fc.record({
            kind: fc.constant('swap' as const),
            keep: fc.subarray([...names]),
            on: fc.float({ min: Math.fround(0.3), max: Math.fround(0.9), noNaN: true }),
            endWindows: fc.integer({ min: 1, max: 4 }),
          }),
        ),
        // 'max': streams up to 200 long (the default size stops near 10 steps, too few for swaps).
        { maxLength: 200, size: 'max' },
      ),
      fc.record({
        minWindows: fc.integer({ min: 1, max: 3 }),
        endWindows: fc.integer({ min: 1, max: 4 }),
        updateIntervalMs: fc.integer({ min: 0, max: 5000 }),
        unseenMs: fc.integer({ min: 0, max: 8000 }),
        cooldownMs: fc.integer({ min: 0, max: 5000 }),
        maxDurationMs: fc.integer({ min: 1000, max: 30_000 }),
      }),
      (ops, t) => {
        let n = 0;
        let current = new Set<string>(names);
        const tr = new EventTracker({
          labels: names.map((name) => ({ name, onThreshold: 0.5, offThreshold: 0.4 })),
          timing: t,
          toWallMs: (ms) => ms,
          newId: () => `e${n++}`,
        });
        const events: TrackedEvent[] = [];
        let now = 0;
        for (const op of ops) {
          if (op.kind === 'observe') {
            now += op.dt;
            if (current.has(op.label)) events.push(...tr.observe(labelObs(op.label, op.score, now)));
            events.push(...tr.tick(now));
            continue;
          }
          const ended = tr.retarget(
            op.keep.map((name) => ({
              name,
              onThreshold: op.on,
              offThreshold: op.on - 0.1,
              timing: { endWindows: op.endWindows },
            })),
            now,
          );
          for (const e of ended) {
            assert.equal(e.type, 'end');
            assert.ok(!op.keep.includes(e.label as (typeof names)[number]), `${e.label} is kept but ended`);
            assert.ok(Date.parse(e.endTime!) <= now);
          }
          events.push(...ended);
          current = new Set(op.keep);
        }
        events.push(...tr.flush(now));
        assert.equal(tr.openCount(), 0);
        const ids = new Set<string>();
        for (const name of names) {
          let open: string | undefined;
          for (const e of events.filter((x) => x.label === name)) {
            if (e.type === 'start') {
              assert.equal(open, undefined, `${name}: overlapping events`);
              assert.ok(!ids.has(e.id), 'ids are unique');
              ids.add(e.id);
              open = e.id;
            } else {
              assert.equal(e.id, open, `${name}: ${e.type} for an event that is not open`);
              if (e.type === 'end') open = undefined;
            }
          }
          assert.equal(open, undefined, `${name}: every start has an end`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('retarget with new timing (SIGHUP): the open event keeps its id, the new endWindows and minWindows apply', () => {
  const tr = new EventTracker({
    labels: alarmAndDog,
    timing: { ...timing, minWindows: 1, endWindows: 2, cooldownMs: 0 },
    toWallMs: (ms) => ms,
    newId: () => `id-${++counter}`,
  });
  const [start] = tr.observe(labelObs('alarm', 0.9, 1000)) as [TrackedEvent];
  const settings = {
    timing: { ...timing, minWindows: 3, endWindows: 1, cooldownMs: 0 },
    includeEmbedding: false,
  };
  assert.deepEqual(tr.retarget(alarmAndDog, 1500, settings), [], 'nothing ends at the swap');
  assert.equal(tr.openCount(), 1);
  // endWindows 1: one miss ends it, under the id it started with.
  const [end] = tr.observe(labelObs('alarm', 0.1, 2000)) as [TrackedEvent];
  assert.equal(end.type, 'end');
  assert.equal(end.id, start.id);
  // minWindows 3: two hits start nothing, the third does.
  const hits = [0.9, 0.9, 0.9].map((s, i) => tr.observe(labelObs('alarm', s, 3000 + i * 1000)));
  assert.deepEqual(
    hits.map((h) => h.map((e) => e.type)),
    [[], [], ['start']],
  );
  assert.equal(hits[2]![0]!.windows, 3);
});
