/**
 * Recall of the embedding history's search on simulated scenes (issue #18): the scenes are
 * replayed one after another through the real agent (its encoder path and HistoryWriter) into one
 * history, as a day of the agent's would hold them, and that history is searched the way
 * `edgebind history search` searches it (history/search.ts over the files).
 *
 * - Text: each class's canonical prompt; precision at K = of the first K moments, the share that
 *   overlap (±toleranceMs) a true interval of that class (fewer than K moments count as misses);
 *   and the rank of the first such moment.
 * - Cross-modal: for each incident that audio and thermal both observe, the mean of the audio
 *   windows within it (what `--event` and `--example` query with) searched over thermal windows
 *   only; how often the same incident is the first moment (R@1) or among the first K (R@K), and
 *   the share of the first K moments that overlap any incident of its class.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { stringify } from 'yaml';
import { deviceStateDir, parseConfig } from '../config/load.js';
import { openEncoders } from '../encoders/registry.js';
import type { EncoderSet } from '../encoders/types.js';
import { replayThroughAgent } from '../eval/harness.js';
import { DEFAULT_TOLERANCE_MS } from '../eval/metrics.js';
import { windowVectors } from '../history/reader.js';
import { searchHistory } from '../history/search.js';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';
import { meanDirection } from '../util/vectors.js';
import { SIM_CLASSES, type SimClass } from './classes.js';
import { MINI_WINDOWS } from './pack-params.js';
import { CANONICAL } from './prompts.js';
import type { Recording } from './recording.js';

/** Moments per query the figures look at. */
export const RECALL_K = 10;
/** Quiet time between two scenes in the history: more than any window, so no moment spans two. */
const SCENE_GAP_MS = 60_000;
const HOUR_MS = 3_600_000;
const DEVICE_ID = 'history-recall';

/** `phase` is what is being done; `done` of `total` units of it (sim/eval.ts's ProgressCallback). */
type ProgressCallback = (phase: string, done: number, total?: number) => void;

/** A true interval placed in the history's wall time. */
export interface PlacedIncident {
  label: SimClass;
  scene: string;
  startWallMs: number;
  endWallMs: number;
  observedBy: readonly string[];
}

export interface TextRecall {
  prompt: string;
  /** True intervals of the class in the history. */
  incidents: number;
  /** Of the first K moments, the share overlapping a true interval of the class. */
  precisionAtK: number;
  /** Distinct true intervals the first K moments overlap. */
  incidentsFound: number;
  /** 1-based rank of the first true moment among the first K; null when none. */
  firstTrueRank: number | null;
}

export interface CrossModalRecall {
  /** Incidents observed by both audio and thermal that had audio windows to query with. */
  queries: number;
  /** Share whose first thermal moment overlaps the same incident. */
  sameIncidentAt1: number;
  /** Share with the same incident among the first K thermal moments. */
  sameIncidentAtK: number;
  /** Mean share of the first K thermal moments overlapping any incident of the query's class. */
  classPrecisionAtK: number;
  /** The same figures per class: [queries, sameIncidentAtK, classPrecisionAtK]. */
  perClass: Record<string, { queries: number; sameIncidentAtK: number; classPrecisionAtK: number }>;
}

export interface HistoryRecallResult {
  k: number;
  toleranceMs: number;
  scenes: number;
  /** Windows the agent wrote into the history, per modality. */
  windows: Record<string, number>;
  text: Partial<Record<SimClass, TextRecall>>;
  crossModal: CrossModalRecall;
}

export interface HistoryRecallOptions {
  recordings: readonly Recording[];
  /** A pack directory, or `test`. */
  pack: string;
  /** The pack's encoders, already open (else opened and closed here). */
  encoders?: EncoderSet;
  /** Prompts per class replacing the canonical ones (the first is searched). */
  labels?: Partial<Record<SimClass, string[]>>;
  logger?: Logger;
  onProgress?: ProgressCallback;
  toleranceMs?: number;
  k?: number;
}

/** Does a span overlap an incident, with `tol` ms of slack on either side? */
export function overlaps(
  m: { startWallMs: number; endWallMs: number },
  e: { startWallMs: number; endWallMs: number },
  tol: number,
): boolean {
  return m.startWallMs < e.endWallMs + tol && m.endWallMs > e.startWallMs - tol;
}

/** Precision at K, the distinct incidents found and the first true rank of one ranked list. */
export function rankFigures(
  moments: readonly { startWallMs: number; endWallMs: number }[],
  truth: readonly { startWallMs: number; endWallMs: number }[],
  k: number,
  tol: number,
): { precisionAtK: number; incidentsFound: number; firstTrueRank: number | null } {
  const top = moments.slice(0, k);
  const found = new Set<number>();
  let hits = 0;
  let first: number | null = null;
  top.forEach((m, i) => {
    let hit = false;
    truth.forEach((e, j) => {
      if (overlaps(m, e, tol)) {
        hit = true;
        found.add(j);
      }
    });
    if (hit) {
      hits++;
      first ??= i + 1;
    }
  });
  return { precisionAtK: hits / k, incidentsFound: found.size, firstTrueRank: first };
}

/**
 * Replays `recordings` one after another into one history (device `history-recall` under
 * `stateDir`), every scene at its own wall-time origin; returns the history directory and every
 * true interval placed at its wall time.
 */
export async function buildSceneHistory(o: {
  recordings: readonly Recording[];
  pack: string;
  stateDir: string;
  encoders: EncoderSet;
  logger: Logger;
  onProgress?: ProgressCallback;
}): Promise<{ dir: string; incidents: PlacedIncident[] }> {
  const span = o.recordings.reduce((t, r) => t + r.truth.durationS * 1000 + SCENE_GAP_MS, 0);
  // Within the default retention of now, so the writer's retention (by the real clock) keeps all.
  let origin = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - Math.ceil(span / HOUR_MS + 1) * HOUR_MS;
  const incidents: PlacedIncident[] = [];
  let dir = '';
  for (const [n, rec] of o.recordings.entries()) {
    o.onProgress?.('history: agent replays', n, o.recordings.length);
    const config = parseConfig(
      stringify({
        deviceId: DEVICE_ID,
        stateDir: o.stateDir,
        mqtt: { broker: 'embedded', healthIntervalS: 0 },
        encoders: { pack: o.pack === 'test' ? 'test' : resolve(o.pack) },
        sensors: SENSOR_MODALITIES.map((m) => ({
          id: m,
          driver: 'replay',
          modality: m,
          file: join(resolve(rec.dir), rec.truth.files[m]),
          loop: false,
          queueSize: 64,
          window: MINI_WINDOWS[m],
        })),
        labels: [],
        history: { enabled: true, maxAgeS: 366 * 24 * 3600 },
        log: { level: 'silent' },
      }),
      join(o.stateDir, 'history-recall.yaml'),
    );
    await replayThroughAgent({ config, wallOriginMs: origin, encoders: o.encoders, logger: o.logger });
    dir = join(deviceStateDir(config), 'history');
    const scene = `${rec.truth.scenario}#${rec.truth.seed}`;
    for (const e of rec.truth.events)
      incidents.push({
        label: e.label,
        scene,
        startWallMs: origin + e.startS * 1000,
        endWallMs: origin + e.endS * 1000,
        observedBy: e.observedBy,
      });
    origin += Math.ceil(rec.truth.durationS) * 1000 + SCENE_GAP_MS;
  }
  o.onProgress?.('history: agent replays', o.recordings.length, o.recordings.length);
  return { dir, incidents };
}

/** Text and cross-modal recall of the history search over `recordings` (see the module comment). */
export async function evaluateHistoryRecall(opts: HistoryRecallOptions): Promise<HistoryRecallResult> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const k = opts.k ?? RECALL_K;
  const tol = opts.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  const stateDir = await mkdtemp(join(tmpdir(), 'edgebind-history-recall-'));
  const encoders =
    opts.encoders ??
    (await openEncoders({
      config: {
        stateDir,
        encoders: {
          pack: opts.pack === 'test' ? 'test' : resolve(opts.pack),
          providers: ['cpu'],
          intraOpThreads: 1,
          interOpThreads: 1,
          maxBatch: 8,
        },
      },
      modalities: [...SENSOR_MODALITIES],
      logger,
    }));
  try {
    const { dir, incidents } = await buildSceneHistory({
      recordings: opts.recordings,
      pack: opts.pack,
      stateDir,
      encoders,
      logger,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
    const pack = encoders.pack;
    const search = (query: { text: string } | { vector: Float32Array }, modalities?: SensorModality[]) =>
      searchHistory({ dir, query, encoders, top: k, pack, ...(modalities ? { modalities } : {}) });

    const result: HistoryRecallResult = {
      k,
      toleranceMs: tol,
      scenes: opts.recordings.length,
      windows: {},
      text: {},
      crossModal: {
        queries: 0,
        sameIncidentAt1: 0,
        sameIncidentAtK: 0,
        classPrecisionAtK: 0,
        perClass: {},
      },
    };
    const classes = SIM_CLASSES.filter((c) => c !== 'empty_room' && incidents.some((e) => e.label === c));
    for (const [n, cls] of classes.entries()) {
      opts.onProgress?.('history: text search', n, classes.length);
      const prompt = opts.labels?.[cls]?.[0] ?? CANONICAL[cls];
      const { moments, stats } = await search({ text: prompt });
      for (const [m, s] of Object.entries(stats.scoreStats)) result.windows[m] = s.windows;
      const truth = incidents.filter((e) => e.label === cls);
      result.text[cls] = { prompt, incidents: truth.length, ...rankFigures(moments, truth, k, tol) };
    }

    const cm = result.crossModal;
    const both = incidents.filter((e) => e.observedBy.includes('audio') && e.observedBy.includes('thermal'));
    let at1 = 0;
    let atK = 0;
    let precision = 0;
    for (const [n, e] of both.entries()) {
      opts.onProgress?.('history: cross-modal search', n, both.length);
      const audio = windowVectors(dir, {
        fromWallMs: e.startWallMs,
        toWallMs: e.endWallMs,
        sensors: ['audio'],
        pack,
      });
      if (audio.length === 0) continue;
      const { moments } = await search({ vector: meanDirection(audio) }, ['thermal']);
      const same = rankFigures(moments, [e], k, tol);
      const cls = rankFigures(
        moments,
        incidents.filter((x) => x.label === e.label),
        k,
        tol,
      );
      cm.queries++;
      if (same.firstTrueRank === 1) at1++;
      if (same.firstTrueRank !== null) atK++;
      precision += cls.precisionAtK;
      const pc = (cm.perClass[e.label] ??= { queries: 0, sameIncidentAtK: 0, classPrecisionAtK: 0 });
      pc.queries++;
      pc.sameIncidentAtK += same.firstTrueRank !== null ? 1 : 0;
      pc.classPrecisionAtK += cls.precisionAtK;
    }
    if (cm.queries > 0) {
      cm.sameIncidentAt1 = at1 / cm.queries;
      cm.sameIncidentAtK = atK / cm.queries;
      cm.classPrecisionAtK = precision / cm.queries;
    } else {
      cm.sameIncidentAt1 = cm.sameIncidentAtK = cm.classPrecisionAtK = Number.NaN;
    }
    for (const pc of Object.values(cm.perClass)) {
      pc.sameIncidentAtK /= pc.queries;
      pc.classPrecisionAtK /= pc.queries;
    }
    return result;
  } finally {
    if (!opts.encoders) await encoders.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
