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
  /**
   * One observation per label the window's modality can see. The array and its observations are
   * reused by the next `add` (no allocation per window): read them, or copy, before then.
   */
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

type Source = { sensorId: string; modality: SensorModality };

/** A weighted sum of contributors' embeddings, re-normalised, and its scores. */
interface FusedVector {
  vector: Float32Array;
  scores: WindowScores;
}

/** A label's observation, handed out again every window with its arrays refilled in place. */
interface Slot extends Observation {
  sources: Source[];
  contributions: Contribution[];
}

const newSlot = (label: string): Slot => ({
  label,
  score: 0,
  startMs: 0,
  endMs: 0,
  sources: [],
  contributions: [],
  gate: true,
  hold: true,
});

/** Ascending by sensor id, so fused sums add up in the same order whatever the arrival order. */
function insertBySensorId(list: Latest[], l: Latest): void {
  let k = list.length;
  list.push(l);
  while (k > 0 && list[k - 1]!.sensorId > l.sensorId) {
    list[k] = list[k - 1]!;
    k--;
  }
  list[k] = l;
}

class Ring {
  private readonly values: Float64Array;
  private readonly sorted: Float64Array;
  private next = 0;
  private count = 0;
  constructor(size: number) {
    this.values = new Float64Array(size);
    this.sorted = new Float64Array(size);
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
  /** Sorted into a scratch array (unfilled slots as +Infinity, last): nothing allocated. */
  median(): number {
    const a = this.sorted;
    a.set(this.values);
    a.fill(Infinity, this.count);
    a.sort();
    const m = this.count >> 1;
    return this.count % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
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
  /** Per label index, the observation `add` hands out (reused: no allocation per window). */
  private slots: Slot[];
  private readonly observations: Observation[] = [];
  private readonly result: FusionResult = { observations: this.observations, window: undefined! };
  /** Scratch: a label's contributing sensors, by sensor id. */
  private readonly contributors: Latest[] = [];
  private readonly smoothed = { score: 0, runnerUp: 0, cosine: 0 };

  constructor(
    set: LabelSet,
    private opts: FusionOptions,
  ) {
    this.current = set;
    this.currentScorer = new Scorer(set, { temperature: opts.temperature });
    this.labelIndex = new Map(set.labels.map((l, i) => [l.name, i]));
    this.slots = set.labels.map((l) => newSlot(l.name));
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
    this.slots = set.labels.map((l) => newSlot(l.name));
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

  /**
   * Scores the window, then fuses it per label with every fresh sensor's latest window. In the
   * default score fusion nothing is allocated in steady state (issue #19: hot paths allocate
   * nothing per window); embedding fusion and kept embeddings make a fused vector per window.
   */
  add(w: WindowRef, embedding: Float32Array): FusionResult {
    // Encoders return unit vectors; re-normalise anything that is not (scaled model outputs).
    let n2 = 0;
    for (let i = 0; i < embedding.length; i++) n2 += embedding[i]! * embedding[i]!;
    if (Math.abs(n2 - 1) > 1e-3) embedding = normalizeInPlace(Float32Array.from(embedding));
    const own = this.scorer.score(w.modality, embedding, this.bufferOf(w.sensorId));
    const mine = this.latest.get(w.sensorId);
    if (mine) {
      mine.modality = w.modality;
      mine.startMs = w.startMs;
      mine.endMs = w.endMs;
      mine.embedding = embedding;
      mine.scores = own;
    } else
      this.latest.set(w.sensorId, {
        sensorId: w.sensorId,
        modality: w.modality,
        startMs: w.startMs,
        endMs: w.endMs,
        embedding,
        scores: own,
      });
    for (const [id, l] of this.latest) if (w.endMs - l.endMs > this.opts.toleranceMs) this.latest.delete(id);

    const observations = this.observations;
    observations.length = 0;
    let fusedCache: Map<string, FusedVector> | undefined;
    const labels = this.set.labels;
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (!label.modalities.has(w.modality)) continue;
      const contributors = this.contributors;
      contributors.length = 0;
      for (const l of this.latest.values())
        if (label.modalities.has(l.modality) && this.weightOf(l.modality) > 0)
          insertBySensorId(contributors, l);
      if (contributors.length === 0) continue;

      const slot = this.slots[i]!;
      slot.sources.length = contributors.length;
      slot.contributions.length = contributors.length;
      let sumW = 0;
      let startMs = Infinity;
      for (let k = 0; k < contributors.length; k++) {
        const c = contributors[k]!;
        const weight = this.weightOf(c.modality);
        sumW += weight;
        startMs = Math.min(startMs, c.startMs);
        const src = (slot.sources[k] ??= { sensorId: c.sensorId, modality: c.modality });
        src.sensorId = c.sensorId;
        src.modality = c.modality;
        const con = (slot.contributions[k] ??= { sensorId: '', modality: c.modality, score: 0, weight: 0 });
        con.sensorId = c.sensorId;
        con.modality = c.modality;
        con.score = c.scores.scores[i]!;
        con.weight = weight;
      }

      let score: number;
      let runnerUp: number;
      let cosine: number;
      let fused: FusedVector | undefined;
      if (label.fusion === 'embedding' || this.opts.keepEmbeddings)
        fused = this.fuseEmbeddings(contributors, (fusedCache ??= new Map<string, FusedVector>()));
      if (label.fusion === 'embedding') {
        score = fused!.scores.scores[i]!;
        cosine = fused!.scores.cosines[i]!;
        runnerUp = runnerUpOf(fused!.scores, i);
      } else {
        score = 0;
        runnerUp = 0;
        cosine = 0;
        for (let k = 0; k < contributors.length; k++) {
          const c = contributors[k]!;
          const weight = slot.contributions[k]!.weight;
          score += (weight * c.scores.scores[i]!) / sumW;
          cosine += (weight * c.scores.cosines[i]!) / sumW;
          runnerUp += (weight * runnerUpOf(c.scores, i)) / sumW;
        }
      }

      const smoothed = this.smooth(label, score, runnerUp, cosine);
      slot.label = label.name;
      slot.score = smoothed.score;
      slot.startMs = startMs;
      slot.endMs = w.endMs;
      slot.gate =
        smoothed.score - smoothed.runnerUp >= label.margin - 1e-9 && smoothed.cosine >= label.minCosine;
      slot.hold = smoothed.cosine >= label.minCosine;
      slot.embedding = fused && this.opts.keepEmbeddings ? fused.vector : undefined;
      observations.push(slot);
    }
    this.result.window = own;
    return this.result;
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
    cache: Map<string, { vector: Float32Array; scores: WindowScores }>,
  ): { vector: Float32Array; scores: WindowScores } {
    const weights = contributors.map((c) => this.weightOf(c.modality));
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
    const out = this.smoothed;
    if (n <= 1) {
      out.score = score;
      out.runnerUp = runnerUp;
      out.cosine = cosine;
      return out;
    }
    let r = this.rings.get(label.name);
    if (!r) {
      r = { score: new Ring(n), runnerUp: new Ring(n), cosine: new Ring(n) };
      this.rings.set(label.name, r);
    }
    r.score.push(score);
    r.runnerUp.push(runnerUp);
    r.cosine.push(cosine);
    const median = this.opts.smoothing === 'median';
    out.score = median ? r.score.median() : r.score.mean();
    out.runnerUp = median ? r.runnerUp.median() : r.runnerUp.mean();
    out.cosine = median ? r.cosine.median() : r.cosine.mean();
    return out;
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
