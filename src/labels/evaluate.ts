/** labels/test: how a candidate label set would have scored the recent windows. */
import type { LabelSet } from '../fusion/label-set.js';
import { Scorer } from '../fusion/scoring.js';
import type { EmbeddingRing } from './recent.js';

export interface LabelTestResult {
  windows: number;
  labels: { name: string; windows: number; maxScore: number; meanScore: number; matches: number }[];
}

/** Scores a candidate label set against recent embeddings (labels/test). */
export function evaluateLabels(set: LabelSet, ring: EmbeddingRing, temperature: number): LabelTestResult {
  const scorer = new Scorer(set, { temperature });
  const acc = set.labels.map((l) => ({
    name: l.name,
    windows: 0,
    maxScore: 0,
    sum: 0,
    matches: 0,
    on: l.onThreshold,
  }));
  for (const r of ring.all()) {
    const { scores } = scorer.score(r.modality, r.embedding);
    acc.forEach((a, i) => {
      const s = scores[i]!;
      if (Number.isNaN(s)) return;
      a.windows++;
      a.sum += s;
      a.maxScore = Math.max(a.maxScore, s);
      if (s >= a.on) a.matches++;
    });
  }
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    windows: ring.all().length,
    labels: acc.map((a) => ({
      name: a.name,
      windows: a.windows,
      maxScore: r4(a.maxScore),
      meanScore: a.windows > 0 ? r4(a.sum / a.windows) : 0,
      matches: a.matches,
    })),
  };
}
