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
import { RowMatrix } from '../util/matvec.js';
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

/**
 * What one window is scored against, as one contiguous matrix (issue #19): the rows are the labels
 * that have a vector here, in label order, then the background prompts. Built once per modality
 * (or fusion weighting) and label set; a label swap builds a new Scorer, so a new matrix.
 */
class Targets {
  readonly matrix: RowMatrix;
  /** Matrix row of label i, or -1 where the label has no vector here (it does not apply). */
  readonly labelRow: Int32Array;
  readonly backgroundRow: number;
  readonly backgroundRows: number;

  constructor(
    labels: readonly (Float32Array | undefined)[],
    background: readonly Float32Array[],
    dim: number,
  ) {
    this.labelRow = new Int32Array(labels.length).fill(-1);
    const rows: Float32Array[] = [];
    labels.forEach((v, i) => {
      if (v) this.labelRow[i] = rows.push(v) - 1;
    });
    this.backgroundRow = rows.length;
    this.backgroundRows = background.length;
    rows.push(...background);
    // Vectors of another length than the embeddings become NaN rows: that label does not apply.
    this.matrix = new RowMatrix(rows, dim);
  }
}

/**
 * Scores written in place (`score(…, into)`): the agent keeps one per sensor, so scoring a window
 * allocates nothing. Its arrays are overwritten by the next call given the same buffer.
 */
export class ScoreBuffer implements WindowScores {
  readonly cosines: Float32Array;
  readonly scores: Float32Array;
  background = Number.NaN;
  constructor(labels: number) {
    this.cosines = new Float32Array(labels);
    this.scores = new Float32Array(labels);
  }
}

/** Scores embeddings; stateless apart from the label matrices it builds on first use. */
export class Scorer {
  private readonly fusedTargets = new Map<string, Targets>();
  private readonly modalityTargets = new Map<SensorModality, Targets>();
  /** exp(temp·cosine − max) per label, reused by every window. */
  private readonly exps: Float64Array;

  constructor(
    readonly set: LabelSet,
    private readonly opts: ScorerOptions,
  ) {
    this.exps = new Float64Array(set.labels.length);
  }

  /** Softmax scale for `modality`: the label set's own (scoring.mode imagebind), else the option. */
  temperatureFor(modality: SensorModality): number {
    return this.set.temperatures?.get(modality) ?? this.opts.temperature;
  }

  /** Which matrix kernel scores `modality` (util/matvec.ts); undefined before its first window. */
  kernelFor(modality: SensorModality): 'wasm' | 'js' | undefined {
    return this.modalityTargets.get(modality)?.matrix.kernel;
  }

  /**
   * Scores a unit embedding of one modality, into `into` when given (allocating nothing), else
   * into new arrays. TypeError when the embedding's length differs from the label vectors'.
   */
  score(modality: SensorModality, embedding: Float32Array, into?: ScoreBuffer): WindowScores {
    let t = this.modalityTargets.get(modality);
    if (!t) {
      const labels = this.set.labels.map((l) => l.vectors.get(modality));
      const background = this.set.background.get(modality) ?? [];
      t = new Targets(labels, background, dimOf([...labels, ...background], embedding.length));
      this.modalityTargets.set(modality, t);
    }
    return this.scoreAgainst(embedding, t, this.temperatureFor(modality), into);
  }

  /**
   * Scores a fused embedding made of several modalities: each label's vector is the same
   * weighted sum of its per-modality vectors (re-normalised), so text templates of every
   * contributing modality take part.
   */
  scoreFused(
    embedding: Float32Array,
    weights: ReadonlyMap<SensorModality, number>,
    into?: ScoreBuffer,
  ): WindowScores {
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
      const labels = this.set.labels.map((l) => combine((m) => l.vectors.get(m)));
      const background = Array.from({ length: nBg }, (_, b) =>
        combine((m) => this.set.background.get(m)?.[b]),
      ).filter((v): v is Float32Array => v !== undefined);
      t = new Targets(labels, background, dimOf([...labels, ...background], embedding.length));
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
    return this.scoreAgainst(embedding, t, temp, into);
  }

  /**
   * One matrix–vector product for every cosine, then the softmax. The arithmetic is the per-label
   * `dot()` loop's, value for value (util/matvec.ts keeps each row's summation order), so scores
   * are bit-for-bit those of the scorer before issue #19.
   */
  private scoreAgainst(embedding: Float32Array, t: Targets, temp: number, into?: ScoreBuffer): WindowScores {
    const n = this.set.labels.length;
    const out = into ?? new ScoreBuffer(n);
    if (out.cosines.length !== n) {
      throw new TypeError(`Scorer: score buffer holds ${out.cosines.length} labels, the set has ${n}`);
    }
    const { cosines, scores } = out;
    const exps = this.exps;
    const products = t.matrix.multiply(embedding);
    const labelRow = t.labelRow;
    cosines.fill(Number.NaN);
    scores.fill(Number.NaN);
    // A non-finite cosine (a NaN or infinite label vector or embedding) counts as "does not apply"
    // for that label alone: one bad vector must never turn every softmax into NaN (issue 14).
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const row = labelRow[i]!;
      if (row < 0) continue;
      const c = products[row]!;
      if (!Number.isFinite(c)) continue;
      cosines[i] = c;
      max = Math.max(max, temp * c);
    }
    const bg0 = t.backgroundRow;
    const bgEnd = bg0 + t.backgroundRows;
    for (let r = bg0; r < bgEnd; r++) {
      const l = temp * products[r]!;
      if (Number.isFinite(l)) max = Math.max(max, l);
    }
    if (max === -Infinity) {
      out.background = Number.NaN;
      return out;
    }
    let sum = 0;
    for (let i = 0; i < n; i++) {
      // The float32 cosine, as stored: the softmax of what is reported.
      const c = cosines[i]!;
      if (Number.isNaN(c)) continue;
      const e = Math.exp(temp * c - max);
      exps[i] = e;
      sum += e;
    }
    let bgSum = 0;
    for (let r = bg0; r < bgEnd; r++) {
      const l = temp * products[r]!;
      if (Number.isFinite(l)) bgSum += Math.exp(l - max);
    }
    sum += bgSum;
    for (let i = 0; i < n; i++) if (!Number.isNaN(cosines[i]!)) scores[i] = exps[i]! / sum;
    out.background = bgSum / sum;
    return out;
  }
}

/** The label vectors' length (the first one's), or the embedding's when there are none. */
function dimOf(vectors: readonly (Float32Array | undefined)[], fallback: number): number {
  for (const v of vectors) if (v) return v.length;
  return fallback;
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
