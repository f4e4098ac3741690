/**
 * Event lifecycle per label: start → update… → end, with hysteresis and timing rules.
 *
 *  - start after `minWindows` consecutive observations at or above the label's on-threshold
 *    (not during cooldown);
 *  - update at most every `updateIntervalMs`, carrying the current and peak score;
 *  - end after `endWindows` consecutive observations below the off-threshold, when nothing at or
 *    above it was seen for `unseenMs` (checked by `tick`), after `maxDurationMs`, when its label is
 *    removed, or when the agent stops; the end says which (`endReason`, issue 17 item 5).
 *
 * Starting also needs the observation's gate (margin over the runner-up, minimum cosine) to pass;
 * keeping an event alive needs only the off-threshold (hysteresis). Each label may override the
 * timing. Every start gets exactly one end; ids are UUIDv7, the same on start, updates and end.
 * Time is the data's own monotonic time, passed in.
 *
 * `retarget` swaps the label set in place: open events of labels that stay (same name) continue
 * with their id and start, events of removed labels end, and added labels start fresh.
 */
import { v7 as uuidv7 } from 'uuid';
import type { EndReason, LabelEvent, SensorModality } from '../pipeline/types.js';
import { float16ToBase64 } from '../util/vectors.js';

/**
 * Times are sums of floating-point milliseconds (e.g. clock origin + 3 × 1000 ms hop); compare
 * them with this slack so an interval of exactly 3000 ms is never read as 2999.9999999.
 */
const SLACK_MS = 1e-6;

export interface TrackerTiming {
  minWindows: number;
  endWindows: number;
  updateIntervalMs: number;
  unseenMs: number;
  cooldownMs: number;
  maxDurationMs: number;
}

export interface TrackedLabel {
  name: string;
  onThreshold: number;
  offThreshold: number;
  /** Overrides of the tracker-wide timing for this label. */
  timing?: Partial<TrackerTiming>;
}

/** What one sensor contributed to a (fused) observation. */
export interface Contribution {
  sensorId: string;
  modality: SensorModality;
  /** That sensor's own score for the label. */
  score: number;
  /** Its fusion weight. */
  weight: number;
}

/** Per-sensor contribution over an event's life, as published. */
export interface EventContribution {
  sensorId: string;
  modality: SensorModality;
  /** Latest and highest score of that sensor for the label while the event was open. */
  score: number;
  peakScore: number;
  weight: number;
}

/** A LabelEvent with per-sensor contributions and, optionally, the fused embedding at the peak. */
export type TrackedEvent = LabelEvent & {
  contributions: EventContribution[];
  /** base64 of little-endian float16 values (events.includeEmbedding). */
  embedding?: string;
};

export interface EventTrackerOptions {
  labels: readonly TrackedLabel[];
  /** Tracker-wide timing; a label's `timing` overrides parts of it. */
  timing: TrackerTiming;
  /** Monotonic → wall-clock milliseconds (the injected clock's `toWallMs`). */
  toWallMs: (monoMs: number) => number;
  /** Event id factory. Default: UUIDv7. */
  newId?: () => string;
  /** Put the fused embedding of the peak observation into events (base64 fp16). Default false. */
  includeEmbedding?: boolean;
}

export interface Observation {
  label: string;
  score: number;
  /** Monotonic start and end of the observed window(s). */
  startMs: number;
  endMs: number;
  /** Sensors (and their modalities) whose windows made the score. */
  sources: readonly { sensorId: string; modality: SensorModality }[];
  /** False when the start gate (margin over the runner-up, minimum cosine) fails. Default true. */
  gate?: boolean;
  /** False when the observation must count as a miss whatever its score (below minCosine). */
  hold?: boolean;
  /** Per-sensor scores behind a fused score. */
  contributions?: readonly Contribution[];
  /** Fused unit embedding (kept for the peak when events carry embeddings). */
  embedding?: Float32Array;
}

interface Open {
  id: string;
  startMs: number;
  lastSeenMs: number;
  lastUpdateMs: number;
  peak: number;
  last: number;
  misses: number;
  windows: number;
  modalities: Set<SensorModality>;
  sensors: Set<string>;
  contributions: Map<string, EventContribution>;
  peakEmbedding: Float32Array | undefined;
}

interface State {
  label: TrackedLabel;
  timing: TrackerTiming;
  hits: number;
  firstHitMs: number;
  /** End of the label's last event (-Infinity: none yet); the cooldown runs from here. */
  lastEndMs: number;
  open: Open | undefined;
}

/** What observe() returns when nothing happened; frozen so that no caller can fill it. */
export const NO_EVENTS: TrackedEvent[] = Object.freeze([]) as unknown as TrackedEvent[];

export class EventTracker {
  private states: Map<string, State>;

  private timing: TrackerTiming;
  private readonly toWallMs: (monoMs: number) => number;
  private readonly newId: () => string;
  private includeEmbedding: boolean;

  constructor(opts: EventTrackerOptions) {
    this.timing = opts.timing;
    this.toWallMs = opts.toWallMs;
    this.newId = opts.newId ?? uuidv7;
    this.includeEmbedding = opts.includeEmbedding ?? false;
    this.states = this.freshStates(opts.labels);
  }

  /**
   * Replaces the label set at monotonic time `nowMs`; returns the ends of open events whose label
   * is gone (at their last matching window, as `flush`). A label with the same name keeps its open
   * event (id, start, peak, counters), its cooldown and, if its on-threshold is unchanged, a
   * pending streak; its new thresholds and timing apply from the next observation or `tick`.
   * That holds even if its prompts or thresholds changed: consumers follow the name, and an event
   * the new definition no longer matches ends by itself after `endWindows` misses. `settings`
   * replaces the tracker-wide timing and includeEmbedding in the same swap (SIGHUP, issue 17 item 1).
   */
  retarget(
    labels: readonly TrackedLabel[],
    nowMs: number,
    settings?: { timing: TrackerTiming; includeEmbedding: boolean },
  ): TrackedEvent[] {
    if (settings) {
      this.timing = settings.timing;
      this.includeEmbedding = settings.includeEmbedding;
    }
    const next = this.freshStates(labels);
    for (const [name, s] of next) {
      const prev = this.states.get(name);
      if (!prev) continue;
      s.open = prev.open;
      if (s.open && !this.includeEmbedding) s.open.peakEmbedding = undefined;
      s.lastEndMs = prev.lastEndMs;
      if (prev.label.onThreshold === s.label.onThreshold) {
        s.hits = prev.hits;
        s.firstHitMs = prev.firstHitMs;
      }
    }
    const out: TrackedEvent[] = [];
    for (const [name, s] of this.states)
      if (s.open && !next.has(name))
        out.push(this.close(s, Math.min(nowMs, s.open.lastSeenMs), 'labelRemoved'));
    this.states = next;
    return out;
  }

  /**
   * Feeds one observation; returns the event it causes, if any. No event (most windows):
   * NO_EVENTS, shared and frozen, so nothing is allocated per window.
   */
  observe(o: Observation): TrackedEvent[] {
    const s = this.states.get(o.label);
    if (!s) throw new TypeError(`unknown label "${o.label}"`);
    const { label, timing } = s;
    const t = o.endMs;
    if (!s.open) {
      if (o.score >= label.onThreshold && o.gate !== false) {
        if (s.hits === 0) s.firstHitMs = o.startMs;
        s.hits++;
      } else s.hits = 0;
      if (s.hits >= timing.minWindows && t + SLACK_MS >= s.lastEndMs + timing.cooldownMs) {
        s.open = {
          id: this.newId(),
          startMs: s.firstHitMs,
          lastSeenMs: t,
          lastUpdateMs: t,
          peak: o.score,
          last: o.score,
          misses: 0,
          windows: s.hits,
          modalities: new Set(o.sources.map((x) => x.modality)),
          sensors: new Set(o.sources.map((x) => x.sensorId)),
          contributions: new Map(),
          peakEmbedding: this.includeEmbedding ? o.embedding : undefined,
        };
        recordContributions(s.open, o);
        s.hits = 0;
        return [this.event('start', s, s.open, null, null)];
      }
      return NO_EVENTS;
    }
    const ev = s.open;
    ev.windows++;
    ev.last = o.score;
    recordContributions(ev, o);
    if (o.score >= label.offThreshold && o.hold !== false) {
      ev.misses = 0;
      ev.lastSeenMs = t;
      if (o.score > ev.peak && this.includeEmbedding && o.embedding) ev.peakEmbedding = o.embedding;
      ev.peak = Math.max(ev.peak, o.score);
      for (const x of o.sources) {
        ev.modalities.add(x.modality);
        ev.sensors.add(x.sensorId);
      }
    } else ev.misses++;

    if (ev.misses >= timing.endWindows) return [this.close(s, ev.lastSeenMs, 'belowThreshold')];
    if (t - ev.startMs + SLACK_MS >= timing.maxDurationMs) return [this.close(s, t, 'maxDuration')];
    if (timing.updateIntervalMs > 0 && t - ev.lastUpdateMs + SLACK_MS >= timing.updateIntervalMs) {
      ev.lastUpdateMs = t;
      return [this.event('update', s, ev, null, null)];
    }
    return NO_EVENTS;
  }

  /** Ends events whose label has not been seen for `unseenMs` as of monotonic time `nowMs`. */
  tick(nowMs: number): TrackedEvent[] {
    const out: TrackedEvent[] = [];
    for (const s of this.states.values()) {
      if (s.open && s.timing.unseenMs > 0 && nowMs - s.open.lastSeenMs + SLACK_MS >= s.timing.unseenMs) {
        out.push(this.close(s, s.open.lastSeenMs, 'unseen'));
      }
    }
    return out;
  }

  /** Ends every open event (the agent stops, or its sensors have all ended). */
  flush(nowMs: number): TrackedEvent[] {
    const out: TrackedEvent[] = [];
    for (const s of this.states.values())
      if (s.open) out.push(this.close(s, Math.min(nowMs, s.open.lastSeenMs), 'stopped'));
    return out;
  }

  openCount(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.open) n++;
    return n;
  }

  private close(s: State, endMs: number, reason: EndReason): TrackedEvent {
    const ev = s.open!;
    s.open = undefined;
    s.hits = 0;
    s.lastEndMs = endMs;
    return this.event('end', s, ev, endMs, reason);
  }

  private freshStates(labels: readonly TrackedLabel[]): Map<string, State> {
    const states = new Map<string, State>();
    for (const label of labels) {
      if (states.has(label.name)) throw new TypeError(`label "${label.name}" is given twice`);
      states.set(label.name, {
        label,
        timing: { ...this.timing, ...definedOnly(label.timing ?? {}) },
        hits: 0,
        firstHitMs: 0,
        lastEndMs: -Infinity,
        open: undefined,
      });
    }
    return states;
  }

  private event(
    type: LabelEvent['type'],
    s: State,
    ev: Open,
    endMs: number | null,
    endReason: EndReason | null,
  ): TrackedEvent {
    const iso = (ms: number) => new Date(this.toWallMs(ms)).toISOString();
    const out: TrackedEvent = {
      id: ev.id,
      type,
      label: s.label.name,
      score: round4(ev.last),
      peakScore: round4(ev.peak),
      modalities: [...ev.modalities].sort(),
      sensors: [...ev.sensors].sort(),
      startTime: iso(ev.startMs),
      endTime: endMs === null ? null : iso(endMs),
      endReason,
      timestamp: iso(endMs ?? ev.lastSeenMs),
      windows: ev.windows,
      contributions: [...ev.contributions.values()]
        .sort((a, b) => (a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0))
        .map((c) => ({ ...c, score: round4(c.score), peakScore: round4(c.peakScore) })),
    };
    if (ev.peakEmbedding) out.embedding = float16ToBase64(ev.peakEmbedding);
    return out;
  }
}

function recordContributions(ev: Open, o: Observation): void {
  for (const c of o.contributions ?? []) {
    const prev = ev.contributions.get(c.sensorId);
    ev.contributions.set(c.sensorId, {
      sensorId: c.sensorId,
      modality: c.modality,
      score: c.score,
      peakScore: Math.max(prev?.peakScore ?? -Infinity, c.score),
      weight: c.weight,
    });
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
