/**
 * Scoring as one matrix–vector product (issue #19) gives the same numbers, bit for bit, as the
 * per-label dot-product loop it replaced (written out below as the reference), and writes into a
 * caller's buffer without allocating new arrays.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabelEmbedding, LabelSet } from '../../src/fusion/label-set.js';
import { ScoreBuffer, Scorer } from '../../src/fusion/scoring.js';
import { SENSOR_MODALITIES, type SensorModality } from '../../src/pipeline/types.js';
import { dot, normalizeInPlace } from '../../src/util/vectors.js';

function rnd(n: number, seed: number): Float32Array {
  let a = seed;
  return Float32Array.from({ length: n }, () => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

/** The scorer before issue #19: one dot() per label and background prompt, then the softmax. */
function reference(set: LabelSet, modality: SensorModality, e: Float32Array, temp: number) {
  const n = set.labels.length;
  const cosines = new Float32Array(n).fill(Number.NaN);
  const scores = new Float32Array(n).fill(Number.NaN);
  let max = -Infinity;
  set.labels.forEach((l, i) => {
    const v = l.vectors.get(modality);
    if (!v) return;
    const c = dot(e, v);
    if (!Number.isFinite(c)) return;
    cosines[i] = c;
    max = Math.max(max, temp * c);
  });
  const bg = (set.background.get(modality) ?? []).map((b) => temp * dot(e, b));
  for (const l of bg) if (Number.isFinite(l)) max = Math.max(max, l);
  let sum = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(cosines[i]!)) sum += Math.exp(temp * cosines[i]! - max);
  let bgSum = 0;
  for (const l of bg) if (Number.isFinite(l)) bgSum += Math.exp(l - max);
  sum += bgSum;
  for (let i = 0; i < n; i++)
    if (!Number.isNaN(cosines[i]!)) scores[i] = Math.exp(temp * cosines[i]! - max) / sum;
  return { cosines, scores, background: bgSum / sum };
}

function labelSet(n: number, dim: number): LabelSet {
  const labels: LabelEmbedding[] = Array.from({ length: n }, (_, i) => ({
    name: `l${i}`,
    modalities: new Set(SENSOR_MODALITIES),
    onThreshold: 0.5,
    offThreshold: 0.5,
    margin: 0,
    minCosine: -1,
    fusion: 'score',
    timing: {},
    // Every third label has no audio vector; label 4 is poisoned with a NaN.
    vectors: new Map(
      SENSOR_MODALITIES.filter((m) => m !== 'audio' || i % 3 !== 2).map((m, k) => {
        const v = normalizeInPlace(rnd(dim, i * 10 + k + 1));
        if (i === 4 && m === 'audio') v[3] = Number.NaN;
        return [m, v];
      }),
    ),
  }));
  return {
    hash: 'h',
    labels,
    background: new Map([['audio', [normalizeInPlace(rnd(dim, 777)), normalizeInPlace(rnd(dim, 778))]]]),
  };
}

test('matrix scores equal the per-label loop bit for bit (10-1,000 labels, 128 and 1024 dims)', () => {
  for (const dim of [128, 1024]) {
    for (const n of [1, 10, 13, 1000]) {
      const set = labelSet(n, dim);
      const scorer = new Scorer(set, { temperature: 50 });
      for (const [modality, seed] of [
        ['audio', 5],
        ['thermal', 6],
        ['audio', 7],
      ] as const) {
        const e = normalizeInPlace(rnd(dim, seed));
        const got = scorer.score(modality, e);
        const want = reference(set, modality, e, 50);
        assert.deepEqual(got.cosines, want.cosines, `${n} labels, ${dim}-d, ${modality}: cosines`);
        assert.deepEqual(got.scores, want.scores, `${n} labels, ${dim}-d, ${modality}: scores`);
        assert.ok(
          Object.is(got.background, want.background),
          `background ${got.background} vs ${want.background}`,
        );
        if (modality === 'audio' && n > 4)
          assert.ok(Number.isNaN(got.scores[4]!), 'the NaN label does not apply');
      }
    }
  }
});

test('a ScoreBuffer is filled in place and returned, window after window', () => {
  const set = labelSet(20, 64);
  const scorer = new Scorer(set, { temperature: 30 });
  const buf = new ScoreBuffer(20);
  const { cosines, scores } = buf;
  for (const seed of [1, 2, 3]) {
    const e = normalizeInPlace(rnd(64, seed));
    const got = scorer.score('audio', e, buf);
    assert.equal(got, buf);
    assert.equal(got.cosines, cosines);
    assert.equal(got.scores, scores);
    const want = reference(set, 'audio', e, 30);
    assert.deepEqual(got.scores, want.scores);
    assert.ok(Object.is(got.background, want.background));
  }
  assert.throws(() => scorer.score('audio', normalizeInPlace(rnd(64, 1)), new ScoreBuffer(3)), {
    name: 'TypeError',
    message: 'Scorer: score buffer holds 3 labels, the set has 20',
  });
  assert.throws(() => scorer.score('audio', new Float32Array(63)), /vector has 63 values, the rows have 64/);
});
