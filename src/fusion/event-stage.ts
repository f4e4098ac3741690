/**
 * Fusion then tracking, as the agent runs them: each embedded window is scored and fused
 * (fusion.ts), its observations go through the tracker (tracker.ts), and events come out. It also
 * keeps the newest data time, so a label swap or the final flush never lands before data already
 * seen (a faster-than-real-time replay runs ahead of the clock).
 */
import type { Config } from '../config/schema.js';
import type { Clock } from '../pipeline/clock.js';
import { FusionStage, type FusionOptions, type ScoreInspection, type WindowRef } from './fusion.js';
import type { LabelSet } from './label-set.js';
import type { WindowScores } from './scoring.js';
import { EventTracker, NO_EVENTS, type TrackedEvent, type TrackedLabel } from './tracker.js';

export interface EventStageOptions {
  config: Pick<Config, 'scoring' | 'fusion' | 'events'>;
  labels: LabelSet;
  clock: Clock;
}

export class EventStage {
  private readonly fusion: FusionStage;
  private readonly tracker: EventTracker;
  private readonly clock: Clock;
  private lastDataMs = -Infinity;

  constructor({ config, labels, clock }: EventStageOptions) {
    this.clock = clock;
    this.fusion = new FusionStage(labels, fusionOptions(config));
    this.tracker = new EventTracker({
      labels: trackedLabels(labels),
      timing: config.events,
      toWallMs: (ms) => clock.toWallMs(ms),
      includeEmbedding: config.events.includeEmbedding,
    });
  }

  /** Scores and fuses one window; returns the events it caused and the window's own scores. */
  add(w: WindowRef, embedding: Float32Array): { events: TrackedEvent[]; window: WindowScores } {
    const fused = this.fusion.add(w, embedding);
    // Allocates only when an event happens: most windows return the tracker's empty array.
    let events: TrackedEvent[] | undefined;
    for (const o of fused.observations) {
      const e = this.tracker.observe(o);
      if (e.length > 0) (events ??= []).push(...e);
    }
    this.lastDataMs = Math.max(this.lastDataMs, w.endMs);
    return { events: events ?? NO_EVENTS, window: fused.window };
  }

  /**
   * Swaps the label set. Both stages retarget in place rather than being rebuilt: kept labels keep
   * their open events (same id), smoothing and every sensor's latest window, so their fused score
   * does not dip at the swap; removed labels' open events end here (returned), so none dangles.
   * With `config`, the scoring, fusion and events settings change in the same swap (SIGHUP, issue
   * 17 item 1): they apply from the next window, and open events of kept labels stay open.
   */
  retarget(set: LabelSet, config?: EventStageOptions['config']): TrackedEvent[] {
    const settings = config && { timing: config.events, includeEmbedding: config.events.includeEmbedding };
    const events = this.tracker.retarget(trackedLabels(set), this.dataNowMs(), settings);
    this.fusion.retarget(set, config && fusionOptions(config));
    return events;
  }

  /** Unseen timeouts, on the real monotonic clock: they exist for sensors that go quiet. */
  tick(): TrackedEvent[] {
    return this.tracker.tick(this.clock.nowMs());
  }

  /** Ends every open event (the streams ended). */
  flush(): TrackedEvent[] {
    return this.tracker.flush(this.dataNowMs());
  }

  /** A sensor went down: its latest window stops counting at once. */
  dropSensor(sensorId: string): void {
    this.fusion.dropSensor(sensorId);
  }

  freshSensors(): string[] {
    return this.fusion.freshSensors();
  }

  inspect(w: WindowRef, scores: WindowScores, k: number): ScoreInspection {
    return this.fusion.inspect(w, scores, k);
  }

  private dataNowMs(): number {
    return Math.max(this.clock.nowMs(), this.lastDataMs);
  }
}

function fusionOptions(config: EventStageOptions['config']): FusionOptions {
  return {
    temperature: config.scoring.temperature,
    toleranceMs: config.fusion.toleranceMs,
    weights: config.fusion.weights,
    smoothingWindows: config.scoring.smoothingWindows,
    smoothing: config.scoring.smoothing,
    keepEmbeddings: config.events.includeEmbedding,
  };
}

/** The tracker's view of a label set: names, thresholds and timing. */
function trackedLabels(set: LabelSet): TrackedLabel[] {
  return set.labels.map((l) => ({
    name: l.name,
    onThreshold: l.onThreshold,
    offThreshold: l.offThreshold,
    timing: l.timing,
  }));
}
