/** labels/test: how a candidate label set would have scored the recent windows. */
import type { LabelSet } from '../fusion/label-set.js';
import { Scorer } from '../fusion/scoring.js';
import type { SensorModality } from '../pipeline/types.js';
import type { EmbeddingRing } from './recent.js';

/**
 * Which windows labels/test scored (issue 17 item 10): when the oldest and the newest reached the
 * agent (ISO 8601 UTC) and how many came from each sensor.
 */
export interface ScoredSpan {
  from: string;
  to: string;
  sensors: { sensorId: string; modality: SensorModality; windows: number }[];
}

export interface LabelTestResult {
  windows: number;
  /** null when no window has been embedded yet (nothing was scored). */
  span: ScoredSpan | null;
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
  const recent = ring.all();
  for (const r of recent) {
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
    windows: recent.length,
    span: spanOf(ring),
    labels: acc.map((a) => ({
      name: a.name,
      windows: a.windows,
      maxScore: r4(a.maxScore),
      meanScore: a.windows > 0 ? r4(a.sum / a.windows) : 0,
      matches: a.matches,
    })),
  };
}

function spanOf(ring: EmbeddingRing): ScoredSpan | null {
  const recent = ring.all();
  if (recent.length === 0) return null;
  const iso = (ms: number) => new Date(ring.clock.toWallMs(ms)).toISOString();
  const sensors = new Map<string, { sensorId: string; modality: SensorModality; windows: number }>();
  let from = Infinity;
  let to = -Infinity;
  for (const r of recent) {
    from = Math.min(from, r.receivedMs);
    to = Math.max(to, r.receivedMs);
    const s = sensors.get(r.sensorId) ?? { sensorId: r.sensorId, modality: r.modality, windows: 0 };
    s.windows++;
    sensors.set(r.sensorId, s);
  }
  return {
    from: iso(from),
    to: iso(to),
    sensors: [...sensors.values()].sort((a, b) =>
      a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0,
    ),
  };
}
