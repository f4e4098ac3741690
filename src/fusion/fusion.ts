/**
 * Cross-sensor fusion: per window, the composition root hands over (window, unit embedding) and
 * gets back one observation per label the window's modality can see, ready for the tracker.
 *
 * Every sensor's latest window counts toward fusion while it is within `toleranceMs` of the newest
 * window; an unplugged or unhealthy sensor simply goes stale and drops out (or is dropped at once
 * with `dropSensor`). Per label, one of:
 *  - `score`: weighted mean of the fresh sensors' own softmax scores for the label;
 *  - `embedding`: ImageBind's embedding arithmetic — the weighted sum of the fresh sensors' unit
 *    embeddings, re-normalised, scored against the label's matching weighted sum of per-modality
 *    label vectors.
 * Then smoothing over the label's last N fused observations (mean or median), and the start gate:
 * the label must beat the runner-up label or the background by `margin`, and its raw cosine
 * must reach `minCosine`.
 *
 * `retarget` swaps the label set in place (a label swap over MQTT): every sensor's latest window
 * stays and is re-scored, labels that stay keep their smoothing, removed labels' state goes, and
 * added labels start fresh.
 */
import type { SensorModality } from '../pipeline/types.js';
import type { LabelEmbedding, LabelSet } from './label-set.js';
import { ScoreBuffer, Scorer, topK, type RankedLabel, type WindowScores } from './scoring.js';
import type { Contribution, Observation } from './tracker.js';
import { normalizeInPlace, weightedDirection } from '../util/vectors.js';

export interface FusionOptions {
  /** Softmax temperature. */
  temperature: number;
  /** A sensor's latest window counts for this long after the newest window's end. */
  toleranceMs: number;
  /** Weight per modality (default 1). */
  weights?: Partial<Record<SensorModality, number>>;
  /** Smooth over this many fused observations per label (1 = off). */
  smoothingWindows?: number;
  smoothing?: 'mean' | 'median';
  /** Attach fused embeddings to observations (events.includeEmbedding). */
  keepEmbeddings?: boolean;
}

/** The window being fused, without its data. */
export interface WindowRef {
  sensorId: string;
  modality: SensorModality;
  startMs: number;
  endMs: number;
}

export interface FusionResult {
  observations: Observation[];
  /**
   * This window's own scores (before fusion), for inspection. Valid until the next window of the
   * same sensor: each sensor's scores are written into one buffer (no allocation per window).
   */
  window: WindowScores;
}

/** Top-k labels of one window, as given to `onScores` and the debug log. */
export interface ScoreInspection {
  sensorId: string;
  modality: SensorModality;
  startMs: number;
  endMs: number;
  top: RankedLabel[];
}

interface Latest extends WindowRef {
  embedding: Float32Array;
  scores: WindowScores;
}

class Ring {
  private readonly values: Float64Array;
  private next = 0;
  private count = 0;
  constructor(size: number) {
    this.values = new Float64Array(size);
  }
  push(x: number): void {
    this.values[this.next] = x;
    this.next = (this.next + 1) % this.values.length;
    this.count = Math.min(this.values.length, this.count + 1);
  }
  mean(): number {
    let s = 0;
    for (let i = 0; i < this.count; i++) s += this.values[i]!;
    return s / this.count;
  }
  median(): number {
    const a = Array.from(this.values.subarray(0, this.count)).sort((x, y) => x - y);
    const m = a.length >> 1;
    return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
  }
}

interface Rings {
  score: Ring;
  runnerUp: Ring;
  cosine: Ring;
}

export class FusionStage {
  private current: LabelSet;
  private currentScorer: Scorer;
  private readonly latest = new Map<string, Latest>();
  private rings = new Map<string, Rings>();
  private labelIndex: Map<string, number>;
  /** One score buffer per sensor, sized for the current label set (issue #19). */
  private buffers = new Map<string, ScoreBuffer>();

  constructor(
    set: LabelSet,
    private opts: FusionOptions,
  ) {
    this.current = set;
    this.currentScorer = new Scorer(set, { temperature: opts.temperature });
    this.labelIndex = new Map(set.labels.map((l, i) => [l.name, i]));
  }

  /** The active label set (replaced by `retarget`). */
  get set(): LabelSet {
    return this.current;
  }

  get scorer(): Scorer {
    return this.currentScorer;
  }

  /**
   * Replaces the label set in place (a label swap). Every sensor's latest window still counts,
   * re-scored against the new set, so a kept label's fused score does not dip for lack of the
   * other sensors. Removed labels' smoothing is dropped; added labels start with none. `opts`
   * replaces the options in the same swap (SIGHUP, issue 17 item 1).
   */
  retarget(set: LabelSet, opts: FusionOptions = this.opts): void {
    const before = new Map(this.current.labels.map((l) => [l.name, l]));
    // Scores kept in the rings were measured under the old scale, weights and background; a ring
    // of another length cannot take them over either.
    const sameScale =
      opts.temperature === this.opts.temperature &&
      (opts.smoothingWindows ?? 1) === (this.opts.smoothingWindows ?? 1) &&
      sameWeights(opts.weights, this.opts.weights) &&
      sameBackground(this.current, set);
    const rings = new Map<string, Rings>();
    for (const label of set.labels) {
      const prev = before.get(label.name);
      const r = this.rings.get(label.name);
      // The ring holds scores measured against the old vectors. If the prompts or examples changed,
      // averaging those in would let the old definition start or hold an event for up to N-1 more
      // windows, so such a label restarts its ring: its first score under the new definition is
      // its raw score (no dip, only no smoothing yet). Its open event still goes on in the tracker.
      if (sameScale && prev && r && sameEmbedding(prev, label)) rings.set(label.name, r);
    }
    this.opts = opts;
    this.current = set;
    this.currentScorer = new Scorer(set, { temperature: this.opts.temperature });
    this.labelIndex = new Map(set.labels.map((l, i) => [l.name, i]));
    this.rings = rings;
    this.buffers = new Map();
    for (const [id, l] of this.latest)
      this.latest.set(id, {
        ...l,
        scores: this.currentScorer.score(l.modality, l.embedding, this.bufferOf(id)),
      });
  }

  private bufferOf(sensorId: string): ScoreBuffer {
    let b = this.buffers.get(sensorId);
    if (!b) {
      b = new ScoreBuffer(this.current.labels.length);
      this.buffers.set(sensorId, b);
    }
    return b;
  }

  weightOf(modality: SensorModality): number {
    return this.opts.weights?.[modality] ?? 1;
  }

  /** Forgets a sensor at once (it failed); its last window no longer counts. */
  dropSensor(sensorId: string): void {
    this.latest.delete(sensorId);
  }

  /** Sensors whose latest window is still fresh (for tests and health). */
  freshSensors(): string[] {
    return [...this.latest.keys()].sort();
  }

  add(w: WindowRef, embedding: Float32Array): FusionResult {
    // Encoders return unit vectors; re-normalise anything that is not (scaled model outputs).
    let n2 = 0;
    for (let i = 0; i < embedding.length; i++) n2 += embedding[i]! * embedding[i]!;
    if (Math.abs(n2 - 1) > 1e-3) embedding = normalizeInPlace(Float32Array.from(embedding));
    const own = this.scorer.score(w.modality, embedding, this.bufferOf(w.sensorId));
    this.latest.set(w.sensorId, {
      sensorId: w.sensorId,
      modality: w.modality,
      startMs: w.startMs,
      endMs: w.endMs,
      embedding,
      scores: own,
    });
    for (const [id, l] of this.latest) if (w.endMs - l.endMs > this.opts.toleranceMs) this.latest.delete(id);

    const observations: Observation[] = [];
    const fusedCache = new Map<string, { vector: Float32Array; scores: WindowScores }>();
    this.set.labels.forEach((label, i) => {
      if (!label.modalities.has(w.modality)) return;
      const contributors = [...this.latest.values()].filter(
        (l) => label.modalities.has(l.modality) && this.weightOf(l.modality) > 0,
      );
      if (contributors.length === 0) return;
      contributors.sort((a, b) => (a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0));
      const weights = contributors.map((c) => this.weightOf(c.modality));
      const contributions: Contribution[] = contributors.map((c, k) => ({
        sensorId: c.sensorId,
        modality: c.modality,
        score: c.scores.scores[i]!,
        weight: weights[k]!,
      }));

      let score: number;
      let runnerUp: number;
      let cosine: number;
      let fused: Float32Array | undefined;
      if (label.fusion === 'embedding') {
        const f = this.fuseEmbeddings(contributors, weights, fusedCache);
        fused = f.vector;
        score = f.scores.scores[i]!;
        cosine = f.scores.cosines[i]!;
        runnerUp = runnerUpOf(f.scores, i);
      } else {
        const sumW = weights.reduce((a, b) => a + b, 0);
        score = 0;
        runnerUp = 0;
        cosine = 0;
        contributors.forEach((c, k) => {
          score += (weights[k]! * c.scores.scores[i]!) / sumW;
          cosine += (weights[k]! * c.scores.cosines[i]!) / sumW;
          runnerUp += (weights[k]! * runnerUpOf(c.scores, i)) / sumW;
        });
        if (this.opts.keepEmbeddings) fused = this.fuseEmbeddings(contributors, weights, fusedCache).vector;
      }

      const smoothed = this.smooth(label, score, runnerUp, cosine);
      const obs: Observation = {
        label: label.name,
        score: smoothed.score,
        startMs: Math.min(...contributors.map((c) => c.startMs)),
        endMs: w.endMs,
        sources: contributors.map((c) => ({ sensorId: c.sensorId, modality: c.modality })),
        gate: smoothed.score - smoothed.runnerUp >= label.margin - 1e-9 && smoothed.cosine >= label.minCosine,
        hold: smoothed.cosine >= label.minCosine,
        contributions,
      };
      if (fused && this.opts.keepEmbeddings) obs.embedding = fused;
      observations.push(obs);
    });
    return { observations, window: own };
  }

  /** Top-k of the window just added (its own, unfused scores). */
  inspect(w: WindowRef, scores: WindowScores, k: number): ScoreInspection {
    return {
      sensorId: w.sensorId,
      modality: w.modality,
      startMs: w.startMs,
      endMs: w.endMs,
      top: topK(this.set.labels, scores, k),
    };
  }

  indexOf(label: string): number | undefined {
    return this.labelIndex.get(label);
  }

  private fuseEmbeddings(
    contributors: readonly Latest[],
    weights: readonly number[],
    cache: Map<string, { vector: Float32Array; scores: WindowScores }>,
  ): { vector: Float32Array; scores: WindowScores } {
    const key = contributors.map((c, k) => `${c.sensorId}:${weights[k]}`).join(',');
    let f = cache.get(key);
    if (!f) {
      const vector = weightedDirection(
        contributors.map((c) => c.embedding),
        weights,
      );
      const perModality = new Map<SensorModality, number>();
      contributors.forEach((c, k) =>
        perModality.set(c.modality, (perModality.get(c.modality) ?? 0) + weights[k]!),
      );
      f = { vector, scores: this.scorer.scoreFused(vector, perModality) };
      cache.set(key, f);
    }
    return f;
  }

  private smooth(
    label: LabelEmbedding,
    score: number,
    runnerUp: number,
    cosine: number,
  ): { score: number; runnerUp: number; cosine: number } {
    const n = this.opts.smoothingWindows ?? 1;
    if (n <= 1) return { score, runnerUp, cosine };
    let r = this.rings.get(label.name);
    if (!r) {
      r = { score: new Ring(n), runnerUp: new Ring(n), cosine: new Ring(n) };
      this.rings.set(label.name, r);
    }
    r.score.push(score);
    r.runnerUp.push(runnerUp);
    r.cosine.push(cosine);
    const agg = (ring: Ring) => (this.opts.smoothing === 'median' ? ring.median() : ring.mean());
    return { score: agg(r.score), runnerUp: agg(r.runnerUp), cosine: agg(r.cosine) };
  }
}

/** Same fusion mode and, per modality, the same label vector (element by element). */
function sameEmbedding(a: LabelEmbedding, b: LabelEmbedding): boolean {
  if (a.fusion !== b.fusion || a.vectors.size !== b.vectors.size) return false;
  for (const [m, v] of a.vectors) {
    const w = b.vectors.get(m);
    if (!w || w.length !== v.length || v.some((x, i) => x !== w[i])) return false;
  }
  return true;
}

function sameWeights(a: FusionOptions['weights'], b: FusionOptions['weights']): boolean {
  const modalities = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]) as Set<SensorModality>;
  return [...modalities].every((m) => (a?.[m] ?? 1) === (b?.[m] ?? 1));
}

/** Same background vectors and softmax scales per modality. */
function sameBackground(a: LabelSet, b: LabelSet): boolean {
  if (a.background.size !== b.background.size) return false;
  for (const [m, vs] of a.background) {
    const ws = b.background.get(m);
    if (!ws || ws.length !== vs.length || vs.some((v, i) => v.some((x, k) => x !== ws[i]![k]))) return false;
  }
  const ta = a.temperatures ?? new Map<SensorModality, number>();
  const tb = b.temperatures ?? new Map<SensorModality, number>();
  return ta.size === tb.size && [...ta].every(([m, t]) => tb.get(m) === t);
}

/** The best competitor of label `i`: another applicable label or the background mass. */
function runnerUpOf(s: WindowScores, i: number): number {
  let best = Number.isNaN(s.background) ? 0 : s.background;
  for (let j = 0; j < s.scores.length; j++) {
    if (j !== i && !Number.isNaN(s.scores[j]!)) best = Math.max(best, s.scores[j]!);
  }
  return best;
}
