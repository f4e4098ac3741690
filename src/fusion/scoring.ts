/**
 * Zero-shot scoring of one embedding against the active labels.
 *
 * Raw cosines bunch together and drift between modalities, so a label's score is its softmax
 * probability, at a fixed temperature, among the labels that apply plus the "background" prompts:
 * a window that looks like nothing in particular lands on background (calibration against
 * "nothing"). Cosines are kept too, for the absolute `minCosine` gate and for inspection.
 */
import type { SensorModality } from '../pipeline/types.js';
import type { LabelEmbedding, LabelSet } from './label-set.js';
import { dot, weightedDirection } from '../util/vectors.js';

export type { LabelEmbedding, LabelSet } from './label-set.js';

export interface ScorerOptions {
  /** Softmax scale applied to cosines. */
  temperature: number;
}

export interface WindowScores {
  /** Cosine per label (NaN where the label does not apply). */
  readonly cosines: Float32Array;
  /** Softmax probability per label (NaN where it does not apply). */
  readonly scores: Float32Array;
  /** Probability mass that went to the background prompts. */
  readonly background: number;
}

/** One row of a top-k listing; `label` is `(background)` for the background mass. */
export interface RankedLabel {
  label: string;
  score: number;
  cosine: number | null;
}

export const BACKGROUND = '(background)';

interface Targets {
  labels: (Float32Array | undefined)[];
  background: Float32Array[];
}

/** Scores embeddings; stateless apart from caches of fused label vectors. */
export class Scorer {
  private readonly fusedTargets = new Map<string, Targets>();

  constructor(
    readonly set: LabelSet,
    private readonly opts: ScorerOptions,
  ) {}

  /** Softmax scale for `modality`: the label set's own (scoring.mode imagebind), else the option. */
  temperatureFor(modality: SensorModality): number {
    return this.set.temperatures?.get(modality) ?? this.opts.temperature;
  }

  /** Scores a unit embedding of one modality. */
  score(modality: SensorModality, embedding: Float32Array): WindowScores {
    return this.scoreAgainst(
      embedding,
      {
        labels: this.set.labels.map((l) => l.vectors.get(modality)),
        background: [...(this.set.background.get(modality) ?? [])],
      },
      this.temperatureFor(modality),
    );
  }

  /**
   * Scores a fused embedding made of several modalities: each label's vector is the same
   * weighted sum of its per-modality vectors (re-normalised), so text templates of every
   * contributing modality take part.
   */
  scoreFused(embedding: Float32Array, weights: ReadonlyMap<SensorModality, number>): WindowScores {
    const key = [...weights]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([m, w]) => `${m}:${w}`)
      .join(',');
    let t = this.fusedTargets.get(key);
    if (!t) {
      const combine = (get: (m: SensorModality) => Float32Array | undefined) => {
        const vs: Float32Array[] = [];
        const ws: number[] = [];
        for (const [m, w] of weights) {
          const v = get(m);
          if (v && w > 0) {
            vs.push(v);
            ws.push(w);
          }
        }
        return vs.length > 0 ? weightedDirection(vs, ws) : undefined;
      };
      const nBg = Math.max(0, ...[...this.set.background.values()].map((b) => b.length));
      t = {
        labels: this.set.labels.map((l) => combine((m) => l.vectors.get(m))),
        background: Array.from({ length: nBg }, (_, b) =>
          combine((m) => this.set.background.get(m)?.[b]),
        ).filter((v): v is Float32Array => v !== undefined),
      };
      if (this.fusedTargets.size > 256) this.fusedTargets.clear();
      this.fusedTargets.set(key, t);
    }
    // Per-modality scales (mode imagebind) are mixed with the fusion weights, like the vectors.
    let temp = this.opts.temperature;
    if (this.set.temperatures) {
      let sum = 0;
      let total = 0;
      for (const [m, w] of weights) {
        if (w <= 0) continue;
        sum += w * this.temperatureFor(m);
        total += w;
      }
      if (total > 0) temp = sum / total;
    }
    return this.scoreAgainst(embedding, t, temp);
  }

  private scoreAgainst(embedding: Float32Array, t: Targets, temp: number): WindowScores {
    const n = this.set.labels.length;
    const cosines = new Float32Array(n).fill(Number.NaN);
    const scores = new Float32Array(n).fill(Number.NaN);
    // A non-finite cosine (a NaN or infinite label vector or embedding) counts as "does not apply"
    // for that label alone: one bad vector must never turn every softmax into NaN (issue 14).
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = t.labels[i];
      if (!v) continue;
      const c = dot(embedding, v);
      if (!Number.isFinite(c)) continue;
      cosines[i] = c;
      max = Math.max(max, temp * c);
    }
    const bg = t.background.map((b) => temp * dot(embedding, b));
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
}

/**
 * ImageBind's own zero-shot score (issue 20 item 4): softmax over labels of `embedding · text`,
 * with both as the model outputs them (ImageBind: unit × logit scale, audio clips averaged), no
 * temperature of ours and no background. Cosines are reported beside the scores.
 */
export function imageBindScores(embedding: Float32Array, texts: readonly Float32Array[]): WindowScores {
  const n = texts.length;
  const logits = texts.map((t) => dot(embedding, t));
  const norm = Math.sqrt(dot(embedding, embedding));
  const cosines = Float32Array.from(texts, (t, i) => logits[i]! / (norm * Math.sqrt(dot(t, t))));
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  const scores = new Float32Array(n);
  exps.forEach((e, i) => (scores[i] = e / sum));
  return { cosines, scores, background: Number.NaN };
}

/** The `k` best labels (and the background mass) of one scored window, best first. */
export function topK(
  labels: readonly Pick<LabelEmbedding, 'name'>[],
  s: Pick<WindowScores, 'scores' | 'cosines' | 'background'>,
  k: number,
): RankedLabel[] {
  const rows: RankedLabel[] = [];
  labels.forEach((l, i) => {
    if (!Number.isNaN(s.scores[i]!)) rows.push({ label: l.name, score: s.scores[i]!, cosine: s.cosines[i]! });
  });
  if (!Number.isNaN(s.background)) rows.push({ label: BACKGROUND, score: s.background, cosine: null });
  rows.sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : 1));
  return rows.slice(0, k);
}

/** A fixed-width table of ranked labels, one row each: `rank label score cosine`. */
export function formatRanking(rows: readonly RankedLabel[]): string {
  const w = Math.max(5, ...rows.map((r) => r.label.length));
  const lines = [`${'#'.padStart(2)}  ${'label'.padEnd(w)}  score   cosine`];
  rows.forEach((r, i) =>
    lines.push(
      `${String(i + 1).padStart(2)}  ${r.label.padEnd(w)}  ${r.score.toFixed(4)}  ${r.cosine === null ? '     -' : r.cosine.toFixed(4).padStart(7)}`,
    ),
  );
  return lines.join('\n');
}
