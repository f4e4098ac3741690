/**
 * Event lifecycle per label: start → update… → end, with hysteresis and timing rules.
 *
 *  - start after `minWindows` consecutive observations at or above the label's on-threshold
 *    (not during cooldown);
 *  - update at most every `updateIntervalMs`, carrying the current and peak score;
 *  - end after `endWindows` consecutive observations below the off-threshold, when nothing at or
 *    above it was seen for `unseenMs` (checked by `tick`), after `maxDurationMs`, or at shutdown.
 *
 * Every start gets exactly one end. Time is the data's own monotonic time, passed in.
 */
import { v7 as uuidv7 } from 'uuid';
import type { LabelEvent, SensorModality } from '../pipeline/types.js';

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
}

export interface Observation {
  label: string;
  score: number;
  /** Monotonic start and end of the observed window(s). */
  startMs: number;
  endMs: number;
  /** Sensors (and their modalities) whose windows made the score. */
  sources: readonly { sensorId: string; modality: SensorModality }[];
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
}

interface State {
  label: TrackedLabel;
  hits: number;
  firstHitMs: number;
  cooldownUntilMs: number;
  open: Open | undefined;
}

export class EventTracker {
  private readonly states = new Map<string, State>();

  constructor(
    labels: readonly TrackedLabel[],
    private readonly timing: TrackerTiming,
    private readonly toWallMs: (monoMs: number) => number,
    private readonly newId: () => string = uuidv7,
  ) {
    for (const label of labels) {
      this.states.set(label.name, {
        label,
        hits: 0,
        firstHitMs: 0,
        cooldownUntilMs: -Infinity,
        open: undefined,
      });
    }
  }

  /** Feeds one observation; returns the events it causes (0 or 1, 2 when an event is cut at max duration). */
  observe(o: Observation): LabelEvent[] {
    const s = this.states.get(o.label);
    if (!s) throw new TypeError(`unknown label "${o.label}"`);
    const { label } = s;
    const t = o.endMs;
    const out: LabelEvent[] = [];
    if (!s.open) {
      if (o.score >= label.onThreshold) {
        if (s.hits === 0) s.firstHitMs = o.startMs;
        s.hits++;
      } else s.hits = 0;
      if (s.hits >= this.timing.minWindows && t + SLACK_MS >= s.cooldownUntilMs) {
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
        };
        s.hits = 0;
        out.push(this.event('start', s, s.open, null));
      }
      return out;
    }
    const ev = s.open;
    ev.windows++;
    ev.last = o.score;
    if (o.score >= label.offThreshold) {
      ev.misses = 0;
      ev.lastSeenMs = t;
      ev.peak = Math.max(ev.peak, o.score);
      for (const x of o.sources) {
        ev.modalities.add(x.modality);
        ev.sensors.add(x.sensorId);
      }
    } else ev.misses++;

    if (ev.misses >= this.timing.endWindows) {
      out.push(this.close(s, ev.lastSeenMs));
    } else if (t - ev.startMs + SLACK_MS >= this.timing.maxDurationMs) {
      out.push(this.close(s, t));
    } else if (
      this.timing.updateIntervalMs > 0 &&
      t - ev.lastUpdateMs + SLACK_MS >= this.timing.updateIntervalMs
    ) {
      ev.lastUpdateMs = t;
      out.push(this.event('update', s, ev, null));
    }
    return out;
  }

  /** Ends events whose label has not been seen for `unseenMs` as of monotonic time `nowMs`. */
  tick(nowMs: number): LabelEvent[] {
    const out: LabelEvent[] = [];
    for (const s of this.states.values()) {
      if (
        s.open &&
        this.timing.unseenMs > 0 &&
        nowMs - s.open.lastSeenMs + SLACK_MS >= this.timing.unseenMs
      ) {
        out.push(this.close(s, s.open.lastSeenMs));
      }
    }
    return out;
  }

  /** Ends every open event (shutdown, label set replaced). */
  flush(nowMs: number): LabelEvent[] {
    const out: LabelEvent[] = [];
    for (const s of this.states.values())
      if (s.open) out.push(this.close(s, Math.min(nowMs, s.open.lastSeenMs)));
    return out;
  }

  openCount(): number {
    let n = 0;
    for (const s of this.states.values()) if (s.open) n++;
    return n;
  }

  private close(s: State, endMs: number): LabelEvent {
    const ev = s.open!;
    s.open = undefined;
    s.hits = 0;
    s.cooldownUntilMs = endMs + this.timing.cooldownMs;
    return this.event('end', s, ev, endMs);
  }

  private event(type: LabelEvent['type'], s: State, ev: Open, endMs: number | null): LabelEvent {
    const iso = (ms: number) => new Date(this.toWallMs(ms)).toISOString();
    return {
      id: ev.id,
      type,
      label: s.label.name,
      score: round4(ev.last),
      peakScore: round4(ev.peak),
      modalities: [...ev.modalities].sort(),
      sensors: [...ev.sensors].sort(),
      startTime: iso(ev.startMs),
      endTime: endMs === null ? null : iso(endMs),
      timestamp: iso(endMs ?? ev.lastSeenMs),
      windows: ev.windows,
    };
  }
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
