/**
 * The label scorer as it was before issue #19 (one `dot()` per label and background prompt, new
 * arrays per window): the reference the `scoring` part of `npm run bench` times the matrix scorer
 * against, in the same run. test/fusion/scoring-matrix.test.ts checks both give the same bits.
 */
import type { LabelSet } from '../../src/fusion/label-set.js';
import type { WindowScores } from '../../src/fusion/scoring.js';
import type { SensorModality } from '../../src/pipeline/types.js';
import { dot } from '../../src/util/vectors.js';

export function referenceScore(
  set: LabelSet,
  modality: SensorModality,
  embedding: Float32Array,
  temp: number,
): WindowScores {
  const labels = set.labels.map((l) => l.vectors.get(modality));
  const background = [...(set.background.get(modality) ?? [])];
  const n = set.labels.length;
  const cosines = new Float32Array(n).fill(Number.NaN);
  const scores = new Float32Array(n).fill(Number.NaN);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (!v) continue;
    const c = dot(embedding, v);
    if (!Number.isFinite(c)) continue;
    cosines[i] = c;
    max = Math.max(max, temp * c);
  }
  const bg = background.map((b) => temp * dot(embedding, b));
  for (const l of bg) if (Number.isFinite(l)) max = Math.max(max, l);
  if (max === -Infinity) return { cosines, scores, background: Number.NaN };
  let sum = 0;
  for (let i = 0; i < n; i++) if (!Number.isNaN(cosines[i]!)) sum += Math.exp(temp * cosines[i]! - max);
  let bgSum = 0;
  for (const l of bg) if (Number.isFinite(l)) bgSum += Math.exp(l - max);
  sum += bgSum;
  for (let i = 0; i < n; i++) {
    if (!Number.isNaN(cosines[i]!)) scores[i] = Math.exp(temp * cosines[i]! - max) / sum;
  }
  return { cosines, scores, background: bgSum / sum };
}
