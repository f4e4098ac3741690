/**
 * Score inspection: the top-k labels of every window, for `onScores` (a debug topic, the demo)
 * and, with `scoring.inspectTopK` > 0, the `scores` debug log as a small table.
 */
import type { Logger } from 'pino';
import type { FusionStage, ScoreInspection, WindowRef } from './fusion.js';
import { formatRanking, type WindowScores } from './scoring.js';

export interface ScoreLogOptions {
  /** FusionStage or EventStage: whatever scored the window. */
  fusion: Pick<FusionStage, 'inspect'>;
  /**
   * `scoring.inspectTopK`: rows in the debug log; 0 logs none (onScores then gets 5). A function
   * is read per window (SIGHUP changes it).
   */
  topK: number | (() => number);
  logger: Logger;
  onScores?: (inspection: ScoreInspection) => void;
}

/** Returns the per-window hook; it inspects only when someone listens (the check is per window). */
export function scoreInspector(o: ScoreLogOptions): (w: WindowRef, scores: WindowScores) => void {
  const topK = o.topK;
  return (w, scores) => {
    const k = typeof topK === 'function' ? topK() : topK;
    if (!o.onScores && !(k > 0 && o.logger.isLevelEnabled('debug'))) return;
    const inspection = o.fusion.inspect(w, scores, k > 0 ? k : 5);
    o.onScores?.(inspection);
    if (k > 0)
      o.logger.debug(
        { sensor: w.sensorId, startMs: w.startMs, endMs: w.endMs, top: inspection.top },
        `${w.sensorId} ${w.startMs.toFixed(0)}-${w.endMs.toFixed(0)} ms\n${formatRanking(inspection.top)}`,
      );
  };
}
