/**
 * Retroactive labels (issue #18): a candidate label set replayed over the embedding history —
 * "would this label have fired, when, with which score". The history's windows in a time range go,
 * in the order the agent fused them, through the agent's own fusion and tracker (fusion/
 * event-stage.ts) with the config's scoring, fusion and events settings; what comes out are the
 * events the set would have made, and per label the scores labels/test reports for recent windows.
 *
 * What the replay cannot know, and so differs from a live run: the history keeps int8-quantised
 * embeddings (format.ts; cosines move by about 0.01), not sensor health (a sensor that went down
 * simply stops having windows, and fusion's tolerance drops it) nor label swaps (the candidate set
 * scores the whole range). Unseen timeouts run at each window's end, as a real-time agent's clock
 * would; a segment of another writer process is another agent run: the events still open end
 * `stopped` there and fusion and tracker start afresh, as they did. Events still open at the end of
 * the range are answered with `endReason: null`.
 *
 * It reads the history in small chunks with the event loop running between them (history/reader.ts
 * historyWindows), so an agent answering labels/test over MQTT goes on detecting meanwhile.
 */
import type { Config } from '../config/schema.js';
import { HistoryError, RequestError, type Problem } from '../errors.js';
import { EventStage } from '../fusion/event-stage.js';
import type { LabelSet } from '../fusion/label-set.js';
import type { TrackedEvent } from '../fusion/tracker.js';
import { historyWindows, listSegments, readSegmentHeader, type ScanStats } from '../history/reader.js';
import { parseWhen } from '../history/when.js';
import type { Clock } from '../pipeline/clock.js';
import type { EndReason, SensorModality } from '../pipeline/types.js';
import { normalizeInPlace } from '../util/vectors.js';
import type { ScoredSpan } from './evaluate.js';

/**
 * Bytes of history per chunk: each window of a chunk goes through fusion and tracking (tens of
 * microseconds with a few labels), so chunks are smaller than a search's 1 MiB of dot products.
 */
export const REPLAY_CHUNK_BYTES = 64 * 1024;

export interface ReplayRange {
  sinceWallMs: number;
  /** Default: no upper bound (the newest window). */
  untilWallMs?: number | undefined;
  sensors?: readonly string[] | undefined;
  modalities?: readonly SensorModality[] | undefined;
}

export interface ReplayOptions {
  /** `<stateDir>/devices/<deviceId>/history`. */
  dir: string;
  /** The candidate set, built with the pack that wrote the history. */
  set: LabelSet;
  settings: Pick<Config, 'scoring' | 'fusion' | 'events'>;
  /** Only segments of this pack and dimension are replayed (others live in another space). */
  pack: { id: string; version: string };
  dim: number;
  range: ReplayRange;
  /** More windows in the range than this: HISTORY_REPLAY_TOO_LARGE, at once when it is passed. */
  maxWindows?: number;
  chunkBytes?: number;
  signal?: AbortSignal;
}

/** An event the set would have made. */
export interface ReplayedEvent {
  label: string;
  /** ISO 8601 UTC, as events carry them. */
  start: string;
  /** The last window at or above the off-threshold (as an end event's endTime). */
  end: string;
  peakScore: number;
  sensors: string[];
  modalities: SensorModality[];
  windows: number;
  /** Why it ended, as in an end event; null: still on when the range ended. */
  endReason: EndReason | null;
}

export interface LabelReplay {
  name: string;
  /** Windows of its modalities; max, mean and matches (≥ threshold) of their own scores. */
  windows: number;
  maxScore: number;
  meanScore: number;
  matches: number;
  events: ReplayedEvent[];
}

export interface ReplayResult {
  source: 'history';
  since: string;
  until: string | null;
  /** Embeddings replayed are int8-quantised (one scale per window), not the encoder's float32. */
  embeddings: 'int8';
  windows: number;
  /** First window start and last window end replayed, and the windows per sensor. */
  span: ScoredSpan | null;
  labels: LabelReplay[];
  stats: {
    segments: number;
    skippedSegments: number;
    damaged: number;
    bytes: number;
    ms: number;
    /** Longest time one chunk held the event loop, milliseconds. */
    longestSliceMs: number;
    /** Agent runs (writer processes) the range spans. */
    runs: number;
    problems: string[];
  };
}

/** A clock that stands where the replay is: each window's end, in wall milliseconds. */
class ReplayClock implements Clock {
  t = 0;
  nowMs(): number {
    return this.t;
  }
  toWallMs(ms: number): number {
    return ms;
  }
}

/**
 * The sensors the history names (segment headers of `pack`), for checking a request's sensor ids
 * before replaying: a sensor id with no window would otherwise answer "nothing fired".
 */
export function historySensors(
  dir: string,
  pack: { id: string; version: string },
): Map<string, SensorModality> {
  const out = new Map<string, SensorModality>();
  for (const seg of listSegments(dir)) {
    const h = readSegmentHeader(seg.path);
    if (typeof h === 'string' || h.pack.id !== pack.id || h.pack.version !== pack.version) continue;
    for (const s of h.sensors) out.set(s.id, s.modality);
  }
  return out;
}

export async function replayLabels(opts: ReplayOptions): Promise<ReplayResult> {
  const t0 = performance.now();
  const { set, settings, range } = opts;
  // Peak embeddings are not answered: no need to keep them.
  const config = { ...settings, events: { ...settings.events, includeEmbedding: false } };
  const clock = new ReplayClock();
  let stage: EventStage | undefined;
  let run: number | undefined;
  let runs = 0;
  const done: ReplayedEvent[] = [];
  const collect = (events: readonly TrackedEvent[], final = false) => {
    for (const e of events) {
      // An end message carries the whole event: its start, end, peak and sensors.
      if (e.type !== 'end') continue;
      done.push({
        label: e.label,
        start: e.startTime,
        end: e.endTime ?? e.timestamp,
        peakScore: e.peakScore,
        sensors: [...e.sensors],
        modalities: [...e.modalities],
        windows: e.windows,
        endReason: final ? null : e.endReason,
      });
    }
  };
  const acc = set.labels.map(() => ({ windows: 0, max: 0, sum: 0, matches: 0 }));
  const sensors = new Map<string, { sensorId: string; modality: SensorModality; windows: number }>();
  let from = Infinity;
  let to = -Infinity;
  let windows = 0;
  let longest = 0;
  const stats: ScanStats = {
    windows: 0,
    segments: 0,
    skippedSegments: 0,
    damaged: 0,
    bytes: 0,
    problems: [],
    scoreStats: {},
  };
  const chunks = historyWindows(
    opts.dir,
    {
      sinceWallMs: range.sinceWallMs,
      ...(range.untilWallMs !== undefined ? { untilWallMs: range.untilWallMs } : {}),
      ...(range.sensors ? { sensors: range.sensors } : {}),
      ...(range.modalities ? { modalities: range.modalities } : {}),
      pack: opts.pack,
      dim: opts.dim,
    },
    stats,
    {
      chunkBytes: opts.chunkBytes ?? REPLAY_CHUNK_BYTES,
      ...(opts.signal ? { signal: opts.signal } : {}),
    },
  );
  for await (const chunk of chunks) {
    const t1 = performance.now();
    windows += chunk.windows.length;
    if (opts.maxWindows !== undefined && windows > opts.maxWindows)
      throw new HistoryError(
        'HISTORY_REPLAY_TOO_LARGE',
        opts.dir,
        `more than ${opts.maxWindows} windows in the range (remote.maxReplayWindows): replay a shorter range (a later since, an until) or fewer sensors`,
      );
    if (!stage || chunk.writerPid !== run) {
      // Another agent run: its own fusion and tracker, as it had (issue #18).
      if (stage) collect(stage.flush());
      stage = new EventStage({ config, labels: set, clock });
      run = chunk.writerPid;
      runs++;
    }
    for (const w of chunk.windows) {
      clock.t = w.endWallMs;
      collect(stage.tick());
      const { events, window } = stage.add(
        { sensorId: w.sensorId, modality: w.modality, startMs: w.startWallMs, endMs: w.endWallMs },
        // The agent fused the encoder's unit vector; its int8 copy is re-normalised to match.
        normalizeInPlace(w.embedding),
      );
      collect(events);
      set.labels.forEach((l, i) => {
        const s = window.scores[i]!;
        if (Number.isNaN(s)) return;
        const a = acc[i]!;
        a.windows++;
        a.sum += s;
        a.max = Math.max(a.max, s);
        if (s >= l.onThreshold) a.matches++;
      });
      const s = sensors.get(w.sensorId) ?? { sensorId: w.sensorId, modality: w.modality, windows: 0 };
      s.windows++;
      sensors.set(w.sensorId, s);
      from = Math.min(from, w.startWallMs);
      to = Math.max(to, w.endWallMs);
    }
    longest = Math.max(longest, performance.now() - t1);
  }
  if (stage) collect(stage.flush(), true);
  const byLabel = new Map<string, ReplayedEvent[]>(set.labels.map((l) => [l.name, []]));
  for (const e of done.sort((a, b) => Date.parse(a.start) - Date.parse(b.start)))
    byLabel.get(e.label)?.push(e);
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    source: 'history',
    since: iso(range.sinceWallMs),
    until: range.untilWallMs === undefined ? null : iso(range.untilWallMs),
    embeddings: 'int8',
    windows,
    span:
      windows === 0
        ? null
        : {
            from: iso(from),
            to: iso(to),
            sensors: [...sensors.values()].sort((a, b) =>
              a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0,
            ),
          },
    labels: set.labels.map((l, i) => {
      const a = acc[i]!;
      return {
        name: l.name,
        windows: a.windows,
        maxScore: r4(a.max),
        meanScore: a.windows > 0 ? r4(a.sum / a.windows) : 0,
        matches: a.matches,
        events: byLabel.get(l.name)!,
      };
    }),
    stats: {
      segments: stats.segments,
      skippedSegments: stats.skippedSegments,
      damaged: stats.damaged,
      bytes: stats.bytes,
      ms: Math.round(performance.now() - t0),
      longestSliceMs: +longest.toFixed(2),
      runs,
      problems: stats.problems,
    },
  };
}

/** The embedding dimension of a built set (its label vectors, else its background's). */
export function setDim(set: LabelSet): number {
  for (const l of set.labels) for (const v of l.vectors.values()) return v.length;
  for (const vs of set.background.values()) for (const v of vs) return v.length;
  return 0;
}

/** labels/test's history fields (mqtt/payloads.ts LabelsTestRequestSchema). */
export interface ReplayRequest {
  since?: string | undefined;
  until?: string | undefined;
  sensors?: string[] | undefined;
}

/**
 * labels/test with `since` over MQTT: the request's range checked against this device's history
 * (every problem at its JSON path), then the replay; failures become the request's error codes.
 */
export async function replayForRequest(
  req: ReplayRequest,
  o: Omit<ReplayOptions, 'range'> & { now: number },
): Promise<ReplayResult> {
  const problems: Problem[] = [];
  const since = req.since === undefined ? undefined : parseWhen(req.since, o.now);
  const until = req.until === undefined ? undefined : parseWhen(req.until, o.now);
  if (since === undefined)
    problems.push({
      path: '$.since',
      message:
        req.since === undefined
          ? 'required with until or sensors (since is what makes labels/test replay the history)'
          : `expected a duration such as 1h, 30m, 90s, 2d or an ISO 8601 time, got ${JSON.stringify(req.since.slice(0, 40))}`,
    });
  if (req.until !== undefined && until === undefined)
    problems.push({
      path: '$.until',
      message: `expected a duration such as 1h, 30m, 90s, 2d or an ISO 8601 time, got ${JSON.stringify(req.until.slice(0, 40))}`,
    });
  if (since !== undefined && until !== undefined && until <= since)
    problems.push({
      path: '$.until',
      message: `${new Date(until).toISOString()} is not after since (${new Date(since).toISOString()})`,
    });
  let known: Map<string, SensorModality>;
  try {
    known = historySensors(o.dir, o.pack);
  } catch (err) {
    throw asRequestError(err);
  }
  (req.sensors ?? []).forEach((id, i) => {
    if (!known.has(id))
      problems.push({
        path: `$.sensors[${i}]`,
        message: `no sensor "${id}" in this device's history (${[...known.keys()].join(', ') || 'none yet'})`,
      });
  });
  if (problems.length > 0)
    throw new RequestError(
      'REQUEST_INVALID',
      `invalid labels/test request: ${problems.length} problem(s)`,
      problems,
    );
  try {
    return await replayLabels({
      ...o,
      range: { sinceWallMs: since!, untilWallMs: until, sensors: req.sensors },
    });
  } catch (err) {
    throw asRequestError(err);
  }
}

function asRequestError(err: unknown): RequestError {
  if (
    err instanceof HistoryError &&
    (err.code === 'HISTORY_UNREADABLE' || err.code === 'HISTORY_REPLAY_TOO_LARGE')
  )
    return new RequestError(err.code, err.message, [{ path: '$.since', message: err.message }], {
      cause: err,
    });
  const message = `history replay failed: ${(err as Error).message}`;
  return new RequestError('HISTORY_REPLAY_FAILED', message, [{ path: '$', message }], { cause: err });
}
