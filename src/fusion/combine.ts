/**
 * Cross-sensor combination of per-window label scores. A label that several sensors can observe
 * takes, at each new window, the highest fresh score among those sensors (fresh = within
 * `toleranceMs` of the new window's end), so one sensor's quiet windows do not cancel another's
 * match, and a sensor that stops (unplugged, unhealthy) simply drops out once its score goes stale.
 */
import type { SensorModality } from '../pipeline/types.js';
import type { Observation } from './tracker.js';

interface Latest {
  score: number;
  startMs: number;
  endMs: number;
  modality: SensorModality;
}

export class ScoreCombiner {
  private readonly latest: Map<string, Latest>[];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly toleranceMs: number,
  ) {
    this.latest = labelNames.map(() => new Map<string, Latest>());
  }

  /**
   * Records one window's scores (NaN = label not applicable) and returns one observation per
   * applicable label.
   */
  add(
    sensorId: string,
    modality: SensorModality,
    startMs: number,
    endMs: number,
    scores: Float32Array,
    offThresholds: readonly number[],
  ): Observation[] {
    const out: Observation[] = [];
    for (let i = 0; i < this.labelNames.length; i++) {
      const s = scores[i]!;
      if (Number.isNaN(s)) continue;
      const per = this.latest[i]!;
      per.set(sensorId, { score: s, startMs, endMs, modality });
      let best = -Infinity;
      let bestStart = startMs;
      const sources: { sensorId: string; modality: SensorModality }[] = [];
      for (const [id, l] of per) {
        if (endMs - l.endMs > this.toleranceMs) continue;
        if (l.score > best) {
          best = l.score;
          bestStart = l.startMs;
        }
        if (l.score >= offThresholds[i]!) sources.push({ sensorId: id, modality: l.modality });
      }
      if (sources.length === 0) sources.push({ sensorId, modality });
      out.push({ label: this.labelNames[i]!, score: best, startMs: bestStart, endMs, sources });
    }
    return out;
  }
}
