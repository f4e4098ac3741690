/**
 * A query made from an event (issue #18, `history search --event`): the event's fused embedding
 * when it carries one (events.includeEmbedding), else the mean direction of the history's windows
 * that lie within its span on its sensors. The span itself is what the search then leaves out.
 */
import { HistoryError } from '../errors.js';
import { base64ToFloat16, meanDirection, normalizeInPlace } from '../util/vectors.js';
import { windowVectors } from './reader.js';

/** The fields of an event message (mqtt/payloads.ts EventSchema) a query needs. */
export interface EventForQuery {
  id: string;
  startTime: string;
  endTime: string | null;
  /** When the message was made: the end of the span while the event is still open. */
  timestamp: string;
  sensors: readonly string[];
  embedding?: string | undefined;
  pack: { id: string; version: string };
}

export interface EventQuery {
  vector: Float32Array;
  from: 'embedding' | 'windows';
  /** History windows averaged (0 for an embedding). */
  windows: number;
  span: { startWallMs: number; endWallMs: number };
}

export function eventQuery(
  dir: string,
  ev: EventForQuery,
  pack: { id: string; version: string; dim: number },
): EventQuery {
  if (ev.pack.id !== pack.id || ev.pack.version !== pack.version)
    throw new HistoryError(
      'HISTORY_EVENT_UNKNOWN',
      dir,
      `event ${ev.id} was detected with pack ${ev.pack.id} ${ev.pack.version}, the history holds ${pack.id} ${pack.version}: another space`,
    );
  const span = {
    startWallMs: Date.parse(ev.startTime),
    endWallMs: Date.parse(ev.endTime ?? ev.timestamp),
  };
  if (ev.embedding !== undefined) {
    const v = base64ToFloat16(ev.embedding);
    if (v.length === pack.dim && v.every(Number.isFinite) && v.some((x) => x !== 0))
      return { vector: normalizeInPlace(v), from: 'embedding', windows: 0, span };
  }
  const vectors = windowVectors(dir, {
    fromWallMs: span.startWallMs,
    toWallMs: span.endWallMs,
    ...(ev.sensors.length > 0 ? { sensors: ev.sensors } : {}),
    pack,
  });
  if (vectors.length === 0)
    throw new HistoryError(
      'HISTORY_EVENT_UNKNOWN',
      dir,
      `the history holds no window of event ${ev.id} (${ev.startTime} → ${ev.endTime ?? ev.timestamp}, ${ev.sensors.join(', ') || 'no sensor'}): it was deleted by retention, or written while history.enabled was false`,
    );
  return { vector: meanDirection(vectors), from: 'windows', windows: vectors.length, span };
}
