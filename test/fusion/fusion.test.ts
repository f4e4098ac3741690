import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FusionStage, type FusionOptions } from '../../src/fusion/fusion.js';
import type { LabelEmbedding, LabelSet } from '../../src/fusion/label-set.js';
import { EventTracker, type TrackedEvent } from '../../src/fusion/tracker.js';
import { normalizeInPlace } from '../../src/util/vectors.js';
import type { SensorModality } from '../../src/pipeline/types.js';

const DIM = 8;
const e = (...pairs: [number, number][]) => {
  const v = new Float32Array(DIM);
  for (const [i, x] of pairs) v[i] = x;
  return normalizeInPlace(v);
};

function label(
  name: string,
  vectors: Partial<Record<SensorModality, Float32Array>>,
  over: Partial<LabelEmbedding> = {},
): LabelEmbedding {
  const map = new Map(Object.entries(vectors) as [SensorModality, Float32Array][]);
  return {
    name,
    modalities: new Set(map.keys()),
    onThreshold: 0.5,
    offThreshold: 0.4,
    margin: 0,
    minCosine: -1,
    fusion: 'score',
    timing: {},
    vectors: map,
    ...over,
  };
}

/** a: audio e0 / thermal e1; b: audio e2 / thermal e3; background e7 everywhere. */
function labelSet(fusion: 'score' | 'embedding', over: Partial<LabelEmbedding> = {}): LabelSet {
  return {
    hash: 'test',
    labels: [
      label('a', { audio: e([0, 1]), thermal: e([1, 1]) }, { fusion, ...over }),
      label('b', { audio: e([2, 1]), thermal: e([3, 1]) }, { fusion, ...over }),
    ],
    background: new Map([
      ['audio', [e([7, 1])]],
      ['thermal', [e([7, 1])]],
    ]),
  };
}

const opts: FusionOptions = { temperature: 10, toleranceMs: 1500 };
const mic = (endMs: number) => ({
  sensorId: 'mic',
  modality: 'audio' as const,
  startMs: endMs - 1000,
  endMs,
});
const cam = (endMs: number) => ({
  sensorId: 'cam',
  modality: 'thermal' as const,
  startMs: endMs - 1000,
  endMs,
});
// Audio leans to b, thermal strongly to a.
const audioVec = e([0, 0.6], [2, 0.8]);
const thermalVec = e([1, 0.9], [3, 0.1]);

function ranking(last: ReturnType<FusionStage['add']>) {
  return [...last.observations].sort((x, y) => y.score - x.score).map((o) => o.label);
}

test('score fusion: weighted mean of per-sensor scores gives the expected ranking', () => {
  const stage = new FusionStage(labelSet('score'), opts);
  const alone = stage.add(mic(1000), audioVec);
  assert.deepEqual(ranking(alone), ['b', 'a'], 'audio alone says b');
  const both = stage.add(cam(1000), thermalVec);
  assert.deepEqual(ranking(both), ['a', 'b'], 'thermal outweighs it at equal weights');
  const a = both.observations.find((o) => o.label === 'a')!;
  assert.deepEqual(
    a.contributions!.map((c) => [c.sensorId, c.modality, c.weight]),
    [
      ['cam', 'thermal', 1],
      ['mic', 'audio', 1],
    ],
  );
  const mean = (a.contributions![0]!.score + a.contributions![1]!.score) / 2;
  assert.ok(Math.abs(a.score - mean) < 1e-6, 'fused score is the mean of the sensors');

  const audioHeavy = new FusionStage(labelSet('score'), { ...opts, weights: { audio: 10, thermal: 1 } });
  audioHeavy.add(mic(1000), audioVec);
  assert.deepEqual(ranking(audioHeavy.add(cam(1000), thermalVec)), ['b', 'a'], 'weights matter');
});

test('embedding fusion: weighted sum of unit embeddings, re-normalised, scored against fused label vectors', () => {
  const stage = new FusionStage(labelSet('embedding'), { ...opts, keepEmbeddings: true });
  stage.add(mic(1000), audioVec);
  const both = stage.add(cam(1000), thermalVec);
  assert.deepEqual(ranking(both), ['a', 'b']);
  const a = both.observations.find((o) => o.label === 'a')!;
  // Fused = normalise(audio + thermal); fused "a" = normalise(e0 + e1): cosine known in closed form.
  const fused = normalizeInPlace(Float32Array.from(audioVec, (x, i) => x + thermalVec[i]!));
  assert.ok(a.embedding, 'the fused embedding is kept');
  for (let i = 0; i < DIM; i++) assert.ok(Math.abs(a.embedding[i]! - fused[i]!) < 1e-6);
  // Audio weighted far above thermal: the fused embedding is mostly audio, so b wins.
  const heavy = new FusionStage(labelSet('embedding'), { ...opts, weights: { audio: 10 } });
  heavy.add(mic(1000), audioVec);
  assert.deepEqual(ranking(heavy.add(cam(1000), thermalVec)), ['b', 'a']);
});

test('a stale or dropped sensor drops out of fusion; events keep flowing from the others', () => {
  for (const mode of ['score', 'embedding'] as const) {
    const stage = new FusionStage(labelSet(mode), opts);
    let n = 0;
    const tracker = new EventTracker({
      labels: stage.set.labels.map((l) => ({ name: l.name, onThreshold: 0.5, offThreshold: 0.4 })),
      timing: {
        minWindows: 1,
        endWindows: 2,
        updateIntervalMs: 2000,
        unseenMs: 0,
        cooldownMs: 0,
        maxDurationMs: 600_000,
      },
      toWallMs: (ms) => ms,
      newId: () => `e${n++}`,
    });
    const aVec = e([0, 1]);
    const aThermal = e([1, 1]);
    const events: TrackedEvent[] = [];
    const sourcesAt = new Map<number, string[]>();
    for (let t = 1000; t <= 20_000; t += 1000) {
      const feed = (r: ReturnType<FusionStage['add']>) => {
        for (const o of r.observations) {
          if (o.label === 'a')
            sourcesAt.set(
              t,
              o.sources.map((s) => s.sensorId),
            );
          events.push(...tracker.observe(o));
        }
      };
      feed(stage.add(mic(t), aVec));
      if (t <= 8000) feed(stage.add(cam(t), aThermal)); // the thermal camera stops at 8 s
    }
    events.push(...tracker.flush(20_000));
    assert.deepEqual(sourcesAt.get(8000), ['cam', 'mic'], `${mode}: both while both run`);
    assert.deepEqual(
      sourcesAt.get(9000),
      ['cam', 'mic'],
      `${mode}: within tolerance the camera still counts`,
    );
    assert.deepEqual(sourcesAt.get(10_000), ['mic'], `${mode}: stale beyond tolerance`);
    assert.deepEqual(stage.freshSensors(), ['mic']);
    const a = events.filter((x) => x.label === 'a');
    assert.deepEqual(
      a.map((x) => x.type),
      ['start', ...a.slice(1, -1).map(() => 'update' as const), 'end'],
      `${mode}: one event, never cut by the lost sensor`,
    );
    assert.ok(
      a.filter((x) => x.type === 'update').length >= 5,
      'updates keep coming after the camera stopped',
    );
    const end = a.at(-1)!;
    assert.equal(end.endTime, new Date(20_000).toISOString());
    assert.deepEqual(
      end.contributions.map((c) => c.modality),
      ['thermal', 'audio'],
      'the event says which modalities contributed',
    );

    stage.dropSensor('mic');
    assert.deepEqual(stage.freshSensors(), []);
  }
});

test('margin: a label that does not beat the runner-up by the margin does not pass the start gate', () => {
  const set = labelSet('score', { margin: 0.3 });
  const stage = new FusionStage(set, opts);
  const close = stage.add(mic(1000), e([0, 1], [2, 0.95]));
  assert.equal(close.observations.find((o) => o.label === 'a')!.gate, false);
  const clear = stage.add(mic(2000), e([0, 1], [2, 0.2]));
  assert.equal(clear.observations.find((o) => o.label === 'a')!.gate, true);
  assert.equal(clear.observations.find((o) => o.label === 'b')!.gate, false);
});

test('minCosine: a low raw similarity fails the gate and does not hold an event', () => {
  const stage = new FusionStage(labelSet('score', { minCosine: 0.5 }), opts);
  const weak = stage.add(mic(1000), e([0, 0.3], [5, 1]));
  const a = weak.observations.find((o) => o.label === 'a')!;
  assert.ok(a.score > 0.5, 'softmax alone would call it a');
  assert.equal(a.gate, false);
  assert.equal(a.hold, false);
});

test('smoothing: median ignores a one-window spike, mean does not', () => {
  const spike = [e([7, 1]), e([7, 1]), e([0, 1]), e([7, 1]), e([7, 1])];
  const run = (smoothing: 'mean' | 'median') => {
    const stage = new FusionStage(labelSet('score'), { ...opts, smoothingWindows: 3, smoothing });
    return spike.map(
      (v, i) => stage.add(mic((i + 1) * 1000), v).observations.find((o) => o.label === 'a')!.score,
    );
  };
  assert.ok(Math.max(...run('median')) < 0.1, 'median: never above background');
  assert.ok(Math.max(...run('mean')) > 0.25, 'mean: the spike shows');
});

test('embeddings that are not unit length are re-normalised before scoring', () => {
  const stage = new FusionStage(labelSet('score'), opts);
  const unit = stage.add(mic(1000), audioVec).observations.map((o) => o.score);
  const scaled = new FusionStage(labelSet('score'), opts)
    .add(
      mic(1000),
      Float32Array.from(audioVec, (x) => 20 * x),
    )
    .observations.map((o) => o.score);
  scaled.forEach((s, i) => assert.ok(Math.abs(s - unit[i]!) < 1e-6));
});

/** `labelSet(mode)` plus a thermal-only label `extra` (e5 for c, e6 for d) in the given order. */
function swapSet(names: readonly ('a' | 'b' | 'c' | 'd')[], over: Partial<LabelEmbedding> = {}): LabelSet {
  const base = labelSet('score', over);
  const all: Record<string, LabelEmbedding> = {
    // Fresh copies: a kept label is recognised by its vectors' values, not by identity.
    a: { ...base.labels[0]!, vectors: new Map([...base.labels[0]!.vectors].map(([m, v]) => [m, v.slice()])) },
    b: base.labels[1]!,
    c: label('c', { thermal: e([5, 1]) }),
    d: label('d', { thermal: e([6, 1]) }),
  };
  return { ...base, labels: names.map((n) => all[n]!) };
}

const scoreOf = (r: ReturnType<FusionStage['add']>, name: string) =>
  r.observations.find((o) => o.label === name)?.score;

test("retarget: a kept label's smoothed score goes on exactly as without the swap", () => {
  // Alternating audio windows, so a 3-window mean differs clearly from a single window.
  const seq = [e([0, 1]), e([2, 1]), e([0, 1]), e([2, 1]), e([0, 1]), e([2, 1])];
  const smooth: FusionOptions = { ...opts, smoothingWindows: 3 };
  const swapped = new FusionStage(swapSet(['a', 'b', 'c']), smooth);
  const reference = new FusionStage(swapSet(['a', 'b', 'c']), smooth);
  const newSet = swapSet(['d', 'b', 'a']); // c removed, d added (thermal only), order changed
  const aScores: number[] = [];
  seq.forEach((v, i) => {
    const t = (i + 1) * 1000;
    if (i === 3) swapped.retarget(newSet);
    const got = swapped.add(mic(t), v);
    aScores.push(scoreOf(got, 'a')!);
    const want = reference.add(mic(t), v);
    for (const name of ['a', 'b']) {
      const g = scoreOf(got, name)!;
      const w = scoreOf(want, name)!;
      assert.ok(Math.abs(g - w) < 1e-9, `${name} at ${t} ms: ${g} vs ${w} without the swap`);
    }
  });
  // A stage rebuilt at the swap (the old way) has no history: a jumps to the single window's score.
  const rebuilt = scoreOf(new FusionStage(newSet, smooth).add(mic(4000), seq[3]!), 'a')!;
  assert.ok(Math.abs(rebuilt - aScores[3]!) > 0.1, 'a rebuilt stage would have jumped');
  assert.equal(swapped.indexOf('a'), 2);
  assert.equal(swapped.set, newSet);
});

test("retarget: removed labels stop, added labels start fresh, every sensor's latest window still counts", () => {
  const smooth: FusionOptions = { ...opts, smoothingWindows: 3 };
  const stage = new FusionStage(swapSet(['a', 'b', 'c']), smooth);
  const newSet = swapSet(['d', 'b', 'a']);
  const history: [ReturnType<typeof mic> | ReturnType<typeof cam>, Float32Array][] = [
    [cam(1000), e([5, 1], [1, 0.5])],
    [mic(1000), audioVec],
    [mic(2000), audioVec],
    [cam(2000), e([5, 1], [6, 0.5])],
  ];
  assert.ok(scoreOf(stage.add(...history[0]!), 'c') !== undefined, 'c is observed before the swap');
  stage.add(...history[1]!);
  stage.retarget(newSet);
  assert.deepEqual(stage.freshSensors(), ['cam', 'mic'], 'no sensor is forgotten');

  // The unsmoothed truth under the new set, given the same windows.
  const raw = new FusionStage(newSet, opts);
  for (const [w, v] of history.slice(0, 2)) raw.add(w, v);

  // First window after the swap is audio: the camera's window from before the swap takes part.
  const afterMic = stage.add(...history[2]!);
  const rawMic = raw.add(...history[2]!);
  const a = afterMic.observations.find((o) => o.label === 'a')!;
  const want = rawMic.observations.find((o) => o.label === 'a')!;
  assert.deepEqual(
    a.sources.map((s) => s.sensorId),
    ['cam', 'mic'],
    "the camera's window from before the swap still counts",
  );
  a.contributions!.forEach((c, k) =>
    assert.ok(
      Math.abs(c.score - want.contributions![k]!.score) < 1e-9,
      `${c.sensorId}: its window is re-scored against the new set`,
    ),
  );

  const afterCam = stage.add(...history[3]!);
  const rawCam = raw.add(...history[3]!);
  assert.deepEqual(afterCam.observations.map((o) => o.label).sort(), ['a', 'b', 'd'], 'c is gone');
  assert.ok(Math.abs(scoreOf(afterCam, 'd')! - scoreOf(rawCam, 'd')!) < 1e-9, 'd starts with no history');

  // c's smoothing went with it: brought back, it starts over as well.
  const back = swapSet(['a', 'b', 'c']);
  stage.retarget(back);
  const rawBack = new FusionStage(back, opts);
  for (const [w, v] of history) rawBack.add(w, v);
  const again = scoreOf(stage.add(cam(3000), thermalVec), 'c')!;
  const fresh = scoreOf(rawBack.add(cam(3000), thermalVec), 'c')!;
  assert.ok(Math.abs(again - fresh) < 1e-9, 'c has no old history');
});

test('retarget: a kept label whose vectors changed restarts its smoothing', () => {
  const smooth: FusionOptions = { ...opts, smoothingWindows: 3 };
  const stage = new FusionStage(swapSet(['a', 'b']), smooth);
  const seq = [e([0, 1]), e([2, 1]), e([0, 1])];
  seq.forEach((v, i) => stage.add(mic((i + 1) * 1000), v));
  // a's prompts changed: its audio vector is now e4.
  const changed = swapSet(['a', 'b']);
  const a = changed.labels[0]!;
  const newSet: LabelSet = {
    ...changed,
    labels: [{ ...a, vectors: new Map([...a.vectors, ['audio', e([4, 1])]]) }, changed.labels[1]!],
  };
  stage.retarget(newSet);
  const v = e([2, 1], [4, 0.5]);
  const got = stage.add(mic(4000), v);
  const raw = new FusionStage(newSet, opts).add(mic(4000), v);
  assert.ok(Math.abs(scoreOf(got, 'a')! - scoreOf(raw, 'a')!) < 1e-9, 'a: no history from its old vector');
  assert.ok(Math.abs(scoreOf(got, 'b')! - scoreOf(raw, 'b')!) > 0.05, 'b (unchanged) keeps its smoothing');
});

test('retarget with new options (SIGHUP): the new temperature applies at once, smoothing restarts', () => {
  const smooth: FusionOptions = { ...opts, smoothingWindows: 3 };
  const stage = new FusionStage(swapSet(['a', 'b']), smooth);
  [e([0, 1]), e([2, 1]), e([0, 1])].forEach((v, i) => stage.add(mic((i + 1) * 1000), v));
  const set = swapSet(['a', 'b']);
  const sharper: FusionOptions = { ...smooth, temperature: opts.temperature * 2 };
  stage.retarget(set, sharper);
  const v = audioVec;
  const got = stage.add(mic(4000), v);
  const fresh = new FusionStage(set, sharper).add(mic(4000), v);
  for (const name of ['a', 'b'])
    assert.ok(
      Math.abs(scoreOf(got, name)! - scoreOf(fresh, name)!) < 1e-9,
      `${name}: scored at the new temperature, with no history from the old one`,
    );
  const old = new FusionStage(set, { ...opts }).add(mic(4000), v);
  assert.ok(Math.abs(scoreOf(got, 'a')! - scoreOf(old, 'a')!) > 1e-3, 'the temperature did change the score');
});

test('score fusion hands out the same observations every window (no allocation per window), refilled', () => {
  const stage = new FusionStage(labelSet('score'), opts);
  const first = stage.add(mic(1000), audioVec);
  const observations = first.observations;
  const objects = [...observations];
  const fresh = new FusionStage(labelSet('score'), opts);
  fresh.add(mic(1000), audioVec);
  const expected = fresh.add(cam(1000), thermalVec).observations.map((o) => ({
    ...o,
    sources: [...o.sources],
    contributions: [...o.contributions!],
  }));
  const second = stage.add(cam(1000), thermalVec);
  assert.equal(second.observations, observations, 'the same array');
  second.observations.forEach((o, i) => assert.equal(o, objects[i], 'the same observation object'));
  assert.deepEqual(
    second.observations.map((o) => ({ ...o, sources: [...o.sources], contributions: [...o.contributions!] })),
    expected,
    'refilled with what a new stage computes',
  );
  // A sensor that drops out shortens the arrays in place.
  stage.dropSensor('cam');
  const third = stage.add(mic(2000), audioVec);
  for (const o of third.observations) assert.deepEqual(o.sources, [{ sensorId: 'mic', modality: 'audio' }]);
});

test('median smoothing is exact while the ring fills and once it is full', () => {
  // Label a's score for these windows alone, then smoothed over 4 windows by median.
  const vectors = [e([0, 1]), e([7, 1]), e([0, 1], [7, 1]), e([7, 1]), e([0, 1]), e([0, 1])];
  const raw = vectors.map((v, i) => {
    const s = new FusionStage(labelSet('score'), opts);
    return s.add(mic((i + 1) * 1000), v).observations.find((o) => o.label === 'a')!.score;
  });
  const stage = new FusionStage(labelSet('score'), { ...opts, smoothingWindows: 4, smoothing: 'median' });
  vectors.forEach((v, i) => {
    const got = stage.add(mic((i + 1) * 1000), v).observations.find((o) => o.label === 'a')!.score;
    const last = raw.slice(Math.max(0, i - 3), i + 1).sort((x, y) => x - y);
    const m = last.length >> 1;
    const want = last.length % 2 ? last[m]! : (last[m - 1]! + last[m]!) / 2;
    assert.ok(Math.abs(got - want) < 1e-12, `window ${i}: ${got} vs ${want}`);
  });
});
