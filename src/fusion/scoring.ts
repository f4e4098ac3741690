/**
 * Zero-shot scoring of one window embedding against the active labels.
 *
 * Raw cosines bunch together and drift between modalities, so a label's score is its softmax
 * probability among the labels that apply to the window's modality plus "background" prompts at
 * a fixed temperature: a window that looks like nothing in particular lands on background.
 */
import type { SensorModality } from '../pipeline/types.js';
import { dot } from './vectors.js';

export interface LabelEmbedding {
  readonly name: string;
  readonly modalities: ReadonlySet<SensorModality>;
  readonly onThreshold: number;
  readonly offThreshold: number;
  /** Unit vector. */
  readonly vector: Float32Array;
}

export interface LabelSet {
  readonly labels: readonly LabelEmbedding[];
  /** Unit vectors of the background prompts. */
  readonly background: readonly Float32Array[];
  /** Content hash of what the embeddings were computed from. */
  readonly hash: string;
}

export interface ScorerOptions {
  temperature: number;
  /** Mean over this many consecutive windows of the same sensor. */
  smoothingWindows: number;
}

export interface WindowScores {
  /** Cosine per label (NaN where the label does not apply to the modality). */
  readonly cosines: Float32Array;
  /** Smoothed softmax score per label (NaN where it does not apply). */
  readonly scores: Float32Array;
}

/** Scores windows; keeps per-sensor smoothing history. Buffers are reused between calls. */
export class Scorer {
  private readonly logits: Float64Array;
  private readonly history = new Map<string, { ring: Float32Array; next: number; count: number }>();
  private readonly out: WindowScores;

  constructor(
    readonly set: LabelSet,
    private readonly opts: ScorerOptions,
  ) {
    const n = set.labels.length;
    this.logits = new Float64Array(n + set.background.length);
    this.out = { cosines: new Float32Array(n), scores: new Float32Array(n) };
  }

  /**
   * Scores a unit embedding from `sensorId`. The returned arrays are overwritten by the next call;
   * copy what you keep.
   */
  score(sensorId: string, modality: SensorModality, embedding: Float32Array): WindowScores {
    const { labels, background } = this.set;
    const { cosines, scores } = this.out;
    const t = this.opts.temperature;
    let max = -Infinity;
    let k = 0;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (!label.modalities.has(modality)) {
        cosines[i] = Number.NaN;
        continue;
      }
      const c = dot(embedding, label.vector);
      cosines[i] = c;
      this.logits[k++] = t * c;
      max = Math.max(max, t * c);
    }
    for (const b of background) {
      const l = t * dot(embedding, b);
      this.logits[k++] = l;
      max = Math.max(max, l);
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(this.logits[j]! - max);
    for (let i = 0; i < labels.length; i++) {
      const c = cosines[i]!;
      scores[i] = Number.isNaN(c) ? Number.NaN : Math.exp(t * c - max) / sum;
    }
    this.smooth(sensorId, scores);
    return this.out;
  }

  private smooth(sensorId: string, scores: Float32Array): void {
    const n = this.opts.smoothingWindows;
    if (n <= 1) return;
    const len = scores.length;
    let h = this.history.get(sensorId);
    if (!h) {
      h = { ring: new Float32Array(n * len), next: 0, count: 0 };
      this.history.set(sensorId, h);
    }
    h.ring.set(scores, h.next * len);
    h.next = (h.next + 1) % n;
    h.count = Math.min(n, h.count + 1);
    for (let i = 0; i < len; i++) {
      if (Number.isNaN(scores[i])) continue;
      let s = 0;
      for (let j = 0; j < h.count; j++) s += h.ring[j * len + i]!;
      scores[i] = s / h.count;
    }
  }
}
