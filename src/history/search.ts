/**
 * History search (issue #18): a query (a text, an example recording, or a vector) → the best
 * windows of the history (history/reader.ts) → moments: hits that overlap or lie within `gapMs`
 * of each other, on any sensor, merged into one span with its best score and the sensors and
 * modalities that matched.
 *
 * Scores are cosines of unit embeddings in the pack's shared space, the same for every modality;
 * a text finds windows of every modality its pack embeds, an audio example finds thermal windows
 * as well as audio ones.
 */
import type { EncoderSet } from '../encoders/types.js';
import { embedWindows } from '../encoders/embed.js';
import type { SensorModality } from '../pipeline/types.js';
import { cutRecording } from '../sensors/replay/recording.js';
import { meanDirection, normalizeInPlace } from '../util/vectors.js';
export { parseWhen } from './when.js';
import { scanHistory, scanHistoryAsync, type ScanStats, type WindowHit } from './reader.js';

export interface Moment {
  startWallMs: number;
  endWallMs: number;
  /** Cosine of the moment's best window with the query. */
  score: number;
  /**
   * The best window's standard score within its modality (score − mean) / std over the searched
   * windows; null where the modality had fewer than 30 windows. Moments are ranked by cosine:
   * ranking by z put scene starts first on simulated scenes (docs/history.md, recall).
   */
  z: number | null;
  sensors: string[];
  modalities: SensorModality[];
  /** Hits merged into it. */
  windows: number;
  /** The best window. */
  best: WindowHit;
}

export type HistoryQuery =
  { text: string } | { example: string; modality: SensorModality } | { vector: Float32Array };

export interface HistorySearchOptions {
  /** The history directory, `<stateDir>/devices/<deviceId>/history`. */
  dir: string;
  query: HistoryQuery;
  /** Needed for a text or an example query. */
  encoders?: EncoderSet;
  sinceWallMs?: number;
  untilWallMs?: number;
  sensors?: readonly string[];
  modalities?: readonly SensorModality[];
  /** Moments returned. Default 10. */
  top?: number;
  /** Hits this close (ms) are one moment. Default 1000. */
  gapMs?: number;
  /** Best windows merged into moments. Default max(1000, 100 × top). */
  candidates?: number;
  /**
   * Only windows that stand out join a moment (so that a short history does not merge into one
   * moment of everything): those scoring at least this share of the way from their modality's
   * mean score over the searched windows to its best; applied where a modality has 30 windows or
   * more. Default 0.5.
   */
  minRise?: number;
  /** Only windows with at least this cosine join a moment. */
  minScore?: number;
  /** Windows overlapping this span join no moment (the event a query was made from). */
  exclude?: { startWallMs: number; endWallMs: number };
  /** Only segments written with this pack (see WindowQuery.pack). */
  pack?: { id: string; version: string };
  /**
   * Read and score in chunks with the event loop running between them (scanHistoryAsync), for a
   * process that must go on with other work; `signal` stops it between chunks.
   */
  yieldEvery?: { chunkBytes?: number; signal?: AbortSignal };
}

export interface HistorySearchResult {
  moments: Moment[];
  stats: ScanStats & { ms: number; queryDim: number };
}

/** The unit query vector of a text (the pack's text encoder) or an example recording (its mean). */
export async function queryVector(query: HistoryQuery, encoders?: EncoderSet): Promise<Float32Array> {
  if ('vector' in query) return normalizeInPlace(Float32Array.from(query.vector));
  if (!encoders) throw new TypeError('a text or example query needs the pack encoders');
  if ('text' in query) {
    const [v] = await encoders.text.embed([query.text]);
    return v!;
  }
  const { windows } = await cutRecording({ file: query.example, modality: query.modality });
  const vectors = await embedWindows(encoders, query.modality, windows);
  return meanDirection(vectors);
}

export async function searchHistory(o: HistorySearchOptions): Promise<HistorySearchResult> {
  const vector = await queryVector(o.query, o.encoders);
  const top = Math.max(1, o.top ?? 10);
  const t0 = performance.now();
  const windowQuery = {
    vector,
    keep: o.candidates ?? Math.min(100_000, Math.max(1000, 100 * top)),
    ...(o.sinceWallMs !== undefined ? { sinceWallMs: o.sinceWallMs } : {}),
    ...(o.untilWallMs !== undefined ? { untilWallMs: o.untilWallMs } : {}),
    ...(o.sensors ? { sensors: o.sensors } : {}),
    ...(o.modalities ? { modalities: o.modalities } : {}),
    ...(o.pack ? { pack: o.pack } : {}),
  };
  const { hits, stats } = o.yieldEvery
    ? await scanHistoryAsync(o.dir, windowQuery, o.yieldEvery)
    : scanHistory(o.dir, windowQuery);
  const zOf = (h: WindowHit): number | null => {
    const s = stats.scoreStats[h.modality];
    return !s || s.windows < 30 || s.std === 0 ? null : (h.score - s.mean) / s.std;
  };
  // Cosines of different modalities sit at different levels: a window counts by how far it stands
  // above its own modality's windows (too few of them, and the level means nothing: raw cosine).
  // Not by standard deviations: where a class fills a tenth of a modality's windows its scores
  // widen the spread so much that 2 σ lay above its best window (audio for "an alarm beeping" on
  // simulated scenes: mean 0.18, σ 0.31, alarm windows 0.66-0.73, all left out).
  const best = new Map<SensorModality, number>();
  for (const h of hits) if (h.score > (best.get(h.modality) ?? -Infinity)) best.set(h.modality, h.score);
  const minRise = o.minRise ?? 0.5;
  const floorOf = (m: SensorModality): number => {
    const s = stats.scoreStats[m];
    if (!s || s.windows < 30) return Number.NEGATIVE_INFINITY;
    return s.mean + minRise * (best.get(m)! - s.mean);
  };
  const floors = new Map([...best.keys()].map((m) => [m, floorOf(m)]));
  const minScore = o.minScore ?? Number.NEGATIVE_INFINITY;
  const ex = o.exclude;
  const standing = hits.filter(
    (h) =>
      h.score >= minScore &&
      h.score >= floors.get(h.modality)! &&
      !(ex && h.endWallMs > ex.startWallMs && h.startWallMs < ex.endWallMs),
  );
  const moments = mergeMoments(standing, o.gapMs ?? 1000, zOf).slice(0, top);
  return { moments, stats: { ...stats, ms: Math.round(performance.now() - t0), queryDim: vector.length } };
}

/**
 * A moment as `history search --json` prints it and history/search answers it (times ISO 8601,
 * scores to 4 places); mqtt/payloads.ts has its schema.
 */
export function momentRecord(m: Moment) {
  return {
    start: new Date(m.startWallMs).toISOString(),
    end: new Date(m.endWallMs).toISOString(),
    score: +m.score.toFixed(4),
    z: m.z === null ? null : +m.z.toFixed(2),
    sensors: m.sensors,
    modalities: m.modalities,
    windows: m.windows,
    best: {
      sensorId: m.best.sensorId,
      modality: m.best.modality,
      start: new Date(m.best.startWallMs).toISOString(),
      end: new Date(m.best.endWallMs).toISOString(),
    },
  };
}

/**
 * Hits merged into moments (overlapping or within gapMs), best moment (highest cosine) first;
 * `zOf` gives each moment's best window its standard score.
 */
export function mergeMoments(
  hits: readonly WindowHit[],
  gapMs: number,
  zOf: (h: WindowHit) => number | null = () => null,
): Moment[] {
  const byTime = [...hits].sort((a, b) => a.startWallMs - b.startWallMs);
  const out: Moment[] = [];
  let cur: (Moment & { sensorSet: Set<string>; modalitySet: Set<SensorModality> }) | undefined;
  for (const h of byTime) {
    if (cur && h.startWallMs <= cur.endWallMs + gapMs) {
      cur.endWallMs = Math.max(cur.endWallMs, h.endWallMs);
      cur.windows++;
      cur.sensorSet.add(h.sensorId);
      cur.modalitySet.add(h.modality);
      if (h.score > cur.score) {
        cur.score = h.score;
        cur.z = zOf(h);
        cur.best = h;
      }
      continue;
    }
    if (cur) out.push(finish(cur));
    cur = {
      startWallMs: h.startWallMs,
      endWallMs: h.endWallMs,
      score: h.score,
      z: zOf(h),
      sensors: [],
      modalities: [],
      windows: 1,
      best: h,
      sensorSet: new Set([h.sensorId]),
      modalitySet: new Set([h.modality]),
    };
  }
  if (cur) out.push(finish(cur));
  return out.sort((a, b) => b.score - a.score);
}

function finish(m: Moment & { sensorSet: Set<string>; modalitySet: Set<SensorModality> }): Moment {
  const { sensorSet, modalitySet, ...rest } = m;
  return { ...rest, sensors: [...sensorSet].sort(), modalities: [...modalitySet].sort() };
}
