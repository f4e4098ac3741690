/**
 * Evaluates a pack on simulated recordings (`edgebind simulate` output): emergent zero-shot top-1
 * per modality over the classes it can observe (canonical and held-out paraphrased prompts),
 * cross-modal retrieval R@1, few-shot accuracy, and event precision/recall of the whole agent
 * replaying the recordings. Every embedding comes from the agent's own encoder path
 * (src/encoders/registry.ts: preprocessing → ONNX → postprocessing).
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { parse, stringify } from 'yaml';
import { parseConfig, type ResolvedConfig } from '../config/load.js';
import { ScoringSchema } from '../config/schema.js';
import { embedWindows } from '../encoders/embed.js';
import { TEST_PACK_NAME, openEncoders } from '../encoders/registry.js';
import { ConfigError } from '../errors.js';
import type { EncoderSet } from '../encoders/types.js';
import { runEval } from '../eval/harness.js';
import { DEFAULT_TOLERANCE_MS, sceneTruthIntervals, type TruthInterval } from '../eval/metrics.js';
import { SENSOR_MODALITIES, type SensorModality, type Window } from '../pipeline/types.js';
import { OBSERVED_BY, SIM_CLASSES, TRANSIENT, observableClasses, type SimClass } from './classes.js';
import { MINI_WINDOWS } from './pack-params.js';
import { evaluateHistoryRecall, type HistoryRecallResult } from './history-recall.js';
import { CANONICAL, PARAPHRASES } from './prompts.js';
import { Rng } from './random.js';
import { Recording } from './recording.js';
import { TRUTH_FILE } from './simulate.js';
import { dot, meanDirection } from '../util/vectors.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url));
export const FEW_SHOT_K = [1, 2, 4, 8] as const;

export interface EvalOptions {
  pack: string;
  /** A scene directory (with truth.json) or a directory of them. */
  data: string;
  /** Prompts per class replacing the canonical ones (`--labels FILE.json`). */
  labels?: Partial<Record<SimClass, string[]>>;
  /** Agent config whose labels, scoring and events settings the events metric uses. */
  agentConfig?: string;
  /** Skip the agent run (events metric). */
  events?: boolean;
  /** Skip the history search figures (another agent run over every scene). */
  history?: boolean;
  logger?: Logger;
  /** Told what is being done and how far it got (a progress line on a terminal). */
  onProgress?: ProgressCallback;
}

/** `phase` is what is being done; `done` of `total` units of it (total unknown: undefined). */
export type ProgressCallback = (phase: string, done: number, total?: number) => void;

/** Counts of true class (row) × predicted class (column), zero-shot with the canonical prompts. */
export interface Confusion {
  classes: string[];
  counts: number[][];
}

/**
 * Label scores binned on [0, 1] in `SCORE_BINS` bins: `shown[b]` counts the windows that show a
 * class scored by that class's label, `notShown[b]` every other label's score of a window.
 */
export interface ScoreHistogram {
  shown: number[];
  notShown: number[];
}

export const SCORE_BINS = 20;
/** The softmax scale of the score histograms: `scoring.temperature`'s default. */
export const SCORE_TEMPERATURE: number = ScoringSchema.shape.temperature.parse(undefined);

export interface EventsResult {
  precision: number;
  recall: number;
  events: number;
  truePositives: number;
  incidents: number;
  detected: number;
  falsePerTenMinutes: number;
  seconds: number;
  missed: string[];
  falseEvents: string[];
}

export interface EvalResult {
  pack: { id: string; version: string };
  scenes: number;
  windows: Record<string, number>;
  zeroShotTop1: Record<string, number>;
  zeroShotTop1Paraphrased: Record<string, number>;
  perClassTop1: Record<string, Record<string, number>>;
  retrievalR1: Record<string, number>;
  fewShot: Record<string, Record<string, number>>;
  /** Per modality, zero-shot with the canonical prompts: what each class was taken for. */
  confusion: Record<string, Confusion>;
  /** Per modality, the score distributions a threshold is picked from (issue 17 item 9). */
  scores: Record<string, ScoreHistogram>;
  events: EventsResult | null;
  /** Text and cross-modal search of a history of every scene (sim/history-recall.ts, issue #18). */
  historySearch: HistoryRecallResult | null;
  /** Median milliseconds to embed one window (agent preprocessing + ONNX), batch 1, one thread. */
  msPerWindow: Record<string, number>;
  /** Bytes of every file in the pack directory. */
  packBytes: number;
}

interface Labelled {
  scene: number;
  /** Scene + window end: windows of different modalities at the same moment share it. */
  key: string;
  cls: SimClass;
  window: Window;
  vector?: Float32Array;
}

/**
 * Scene directories (with truth.json): `data` itself, or inside it up to two levels down. A
 * `data` that is no directory, or holds no scene, is a ConfigError (a wrong `--data`).
 */
export async function findScenes(data: string): Promise<string[]> {
  const st = await stat(data).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(
      'CONFIG_NOT_FOUND',
      `${data}: ${err.code === 'ENOENT' ? 'no such directory' : err.message}`,
      {
        file: data,
        cause: err,
      },
    );
  });
  if (!st.isDirectory())
    throw new ConfigError(
      'CONFIG_INVALID',
      `${data}: not a directory of scenes written by \`edgebind simulate\``,
      {
        file: data,
      },
    );
  const out = await scenesIn(data, 2);
  if (out.length === 0)
    throw new ConfigError(
      'CONFIG_INVALID',
      `${data}: no simulated scenes (${TRUTH_FILE}) found; write some with \`edgebind simulate --out ${data}\``,
      { file: data },
    );
  return out;
}

async function scenesIn(data: string, depth: number): Promise<string[]> {
  const isScene = async (d: string) =>
    stat(join(d, TRUTH_FILE)).then(
      () => true,
      () => false,
    );
  if (await isScene(data)) return [data];
  const out: string[] = [];
  if (depth > 0) {
    for (const entry of (await readdir(data, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      if (entry.isDirectory() || entry.isSymbolicLink())
        out.push(...(await scenesIn(join(data, entry.name), depth - 1).catch(() => [])));
    }
  }
  return out;
}

/** Moments (window end, s) to evaluate an event at: all modalities that observe it see it whole. */
export function evalMoments(cls: SimClass, startS: number, endS: number): number[] {
  if (TRANSIENT.has(cls)) return [startS + 1];
  const out: number[] = [];
  for (let t = startS + 5.5; t <= endS - 0.25; t += 3) out.push(t);
  return out;
}

async function labelledWindows(
  dirs: readonly string[],
  onProgress?: ProgressCallback,
): Promise<{ items: Labelled[]; recordings: Recording[] }> {
  const items: Labelled[] = [];
  const recordings: Recording[] = [];
  for (const [i, dir] of dirs.entries()) {
    onProgress?.('reading scenes', i, dirs.length);
    const rec = await Recording.open(dir);
    recordings.push(rec);
    const { truth } = rec;
    const moments: { cls: SimClass; t: number }[] = [];
    for (const e of truth.events)
      for (const t of evalMoments(e.label, e.startS, e.endS)) moments.push({ cls: e.label, t });
    // Quiet stretches: nothing happening in the 5 s before (or just after) the window end.
    for (let t = 5.5; t <= truth.durationS - 0.5; t += 3) {
      const busy = truth.events.some((e) => e.startS < t + 0.5 && e.endS + 2 > t - 5.5);
      if (!busy) moments.push({ cls: 'empty_room', t });
    }
    for (const { cls, t } of moments) {
      for (const m of OBSERVED_BY[cls]) {
        const w = rec.window(m, t * 1000, MINI_WINDOWS[m].lengthMs);
        if (w) items.push({ scene: i, key: `${i}@${t.toFixed(2)}`, cls, window: w });
      }
    }
  }
  return { items, recordings };
}

async function embedAll(
  encoders: EncoderSet,
  items: Labelled[],
  onProgress?: ProgressCallback,
): Promise<void> {
  let before = 0;
  for (const m of SENSOR_MODALITIES) {
    if (!encoders.windows.has(m)) continue;
    const mine = items.filter((x) => x.window.modality === m);
    const vecs = await embedWindows(
      encoders,
      m,
      mine.map((x) => x.window),
      { onBatch: (done) => onProgress?.(`embedding ${m} windows`, before + done, items.length) },
    );
    before += mine.length;
    mine.forEach((x, k) => (x.vector = vecs[k]));
  }
}

function confusion(
  items: readonly Labelled[],
  classes: readonly SimClass[],
  protos: Map<SimClass, Float32Array>,
): Confusion {
  const index = new Map(classes.map((c, i) => [c, i]));
  const counts = classes.map(() => classes.map(() => 0));
  for (const x of items) {
    const t = index.get(x.cls);
    const p = index.get(argmaxClass(x.vector!, protos));
    if (t !== undefined && p !== undefined) counts[t]![p]!++;
  }
  return { classes: [...classes], counts };
}

/**
 * Each window scored like the agent scores it: softmax at `SCORE_TEMPERATURE` of the cosines to
 * every observable class's prompt, empty_room's prompt standing in for the background prompts
 * (it is never a label; the agent's templates are left out). Then per label its score, binned
 * as shown or not shown.
 */
function scoreHistogram(
  items: readonly Labelled[],
  classes: readonly SimClass[],
  protos: Map<SimClass, Float32Array>,
): ScoreHistogram {
  const shown = new Array<number>(SCORE_BINS).fill(0);
  const notShown = new Array<number>(SCORE_BINS).fill(0);
  const bin = (score: number) => Math.min(SCORE_BINS - 1, Math.floor(score * SCORE_BINS));
  const logits = new Float64Array(classes.length);
  for (const x of items) {
    let max = -Infinity;
    classes.forEach((c, i) => {
      logits[i] = SCORE_TEMPERATURE * dot(x.vector!, protos.get(c)!);
      max = Math.max(max, logits[i]);
    });
    let sum = 0;
    for (let i = 0; i < classes.length; i++) sum += logits[i] = Math.exp(logits[i]! - max);
    classes.forEach((c, i) => {
      if (c === 'empty_room') return;
      (c === x.cls ? shown : notShown)[bin(logits[i]! / sum)]!++;
    });
  }
  return { shown, notShown };
}

function argmaxClass(v: Float32Array, protos: Map<SimClass, Float32Array>): SimClass {
  let best: SimClass = 'empty_room';
  let bestS = -Infinity;
  for (const [c, p] of protos) {
    const s = dot(v, p);
    if (s > bestS) {
      bestS = s;
      best = c;
    }
  }
  return best;
}

function accuracy(items: readonly Labelled[], protos: Map<SimClass, Float32Array>): number {
  if (items.length === 0) return Number.NaN;
  let ok = 0;
  for (const x of items) if (argmaxClass(x.vector!, protos) === x.cls) ok++;
  return ok / items.length;
}

async function textProtos(
  encoders: EncoderSet,
  classes: readonly SimClass[],
  prompts: (c: SimClass) => string[],
): Promise<Map<SimClass, Float32Array>> {
  const out = new Map<SimClass, Float32Array>();
  for (const c of classes) out.set(c, meanDirection(await encoders.text.embed(prompts(c))));
  return out;
}

function fewShot(items: readonly Labelled[], classes: readonly SimClass[], k: number, episodes = 10): number {
  const rng = new Rng(1234 + k);
  let ok = 0;
  let total = 0;
  for (let ep = 0; ep < episodes; ep++) {
    const protos = new Map<SimClass, Float32Array>();
    const supportScenes = new Set<number>();
    for (const c of classes) {
      const pool = items.filter((x) => x.cls === c);
      if (pool.length < k) continue;
      const chosen: Labelled[] = [];
      const copy = [...pool];
      for (let i = 0; i < k; i++) chosen.push(copy.splice(Math.floor(rng.next() * copy.length), 1)[0]!);
      chosen.forEach((x) => supportScenes.add(x.scene));
      protos.set(c, meanDirection(chosen.map((x) => x.vector!)));
    }
    // Queries from scenes no support example came from: no room or event instance is shared.
    for (const x of items) {
      if (supportScenes.has(x.scene) || !protos.has(x.cls)) continue;
      total++;
      if (argmaxClass(x.vector!, protos) === x.cls) ok++;
    }
  }
  return total > 0 ? ok / total : Number.NaN;
}

function retrieval(items: readonly Labelled[], a: SensorModality, b: SensorModality): number {
  const byKey = new Map<string, { a?: Labelled; b?: Labelled }>();
  for (const x of items) {
    if (x.window.modality !== a && x.window.modality !== b) continue;
    const e = byKey.get(x.key) ?? {};
    if (x.window.modality === a) e.a = x;
    else e.b = x;
    byKey.set(x.key, e);
  }
  const pairs = [...byKey.values()].filter((p) => p.a && p.b);
  if (pairs.length === 0) return Number.NaN;
  let ok = 0;
  for (const p of pairs) {
    let best: Labelled | undefined;
    let bestS = -Infinity;
    for (const q of pairs) {
      const s = dot(p.a!.vector!, q.b!.vector!);
      if (s > bestS) {
        bestS = s;
        best = q.b;
      }
    }
    if (best!.cls === p.a!.cls) ok++;
  }
  return ok / pairs.length;
}

export const RETRIEVAL_PAIRS: [SensorModality, SensorModality][] = [
  ['audio', 'thermal'],
  ['audio', 'depth'],
  ['audio', 'imu'],
  ['thermal', 'depth'],
  ['thermal', 'imu'],
  ['depth', 'imu'],
];

/**
 * The agent config of an events run over one recording: the given config's labels, scoring and
 * events settings, one replay sensor per modality (its window from that config, else the mini
 * pack's). `runEval` (src/eval/harness.ts) then plays it at speed 0 on its manual clock and
 * embedded broker, as `edgebind eval-events` does.
 */
async function eventsRunConfig(
  rec: Recording,
  pack: string,
  agentConfig: string,
  stateDir: string,
): Promise<ResolvedConfig> {
  const base = parse(await readFile(agentConfig, 'utf8')) as Record<string, unknown>;
  const demoSensors = (base.sensors ?? []) as { modality: SensorModality; window?: unknown }[];
  const windowOf = (m: SensorModality) =>
    demoSensors.find((s) => s.modality === m)?.window ?? MINI_WINDOWS[m];
  const files = rec.truth.files;
  const cfg = {
    ...base,
    deviceId: 'eval',
    stateDir,
    mqtt: { broker: 'embedded' },
    encoders: { ...((base.encoders as object | undefined) ?? {}), pack: packPath(pack) },
    sensors: SENSOR_MODALITIES.map((m) => ({
      id: m,
      driver: 'replay',
      modality: m,
      file: join(resolve(rec.dir), files[m]),
      loop: false,
      queueSize: 64,
      window: windowOf(m),
    })),
    log: { level: 'silent' },
  };
  return parseConfig(stringify(cfg), join(dirname(resolve(agentConfig)), 'eval.yaml'));
}

/** `test`, the random-weight test pack every command takes (generated in the state directory), or a directory. */
const TEST_PACK = 'test';
const packPath = (pack: string) => (pack === TEST_PACK ? TEST_PACK : resolve(pack));

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(dir, e.name))).size;
  }
  return total;
}

export interface EvaluateEventsOptions {
  recordings: readonly Recording[];
  pack: string;
  /** Agent config whose labels, scoring and events settings the run uses. */
  agentConfig: string;
  logger: Logger;
  /** Slack when matching events to incidents, ms. Default DEFAULT_TOLERANCE_MS (1000). */
  toleranceMs?: number;
  onProgress?: ProgressCallback;
}

/**
 * Event precision and recall of the whole agent over `recordings`, summed: each recording is one
 * `runEval` run scored by src/eval/metrics.ts `evaluate` (one-to-one matching, `toleranceMs`
 * slack), the evaluator `edgebind eval-events` uses, so both report the same figures for the same
 * run (issue 16). Only incidents of labels the config has count.
 */
export async function evaluateEvents(opts: EvaluateEventsOptions): Promise<EventsResult> {
  const { recordings, pack, agentConfig, logger } = opts;
  const cfg = parse(await readFile(agentConfig, 'utf8')) as { labels?: { name: string }[] };
  const configured = new Set((cfg.labels ?? []).map((l) => l.name));
  let events = 0;
  let tp = 0;
  let incidents = 0;
  let detected = 0;
  let seconds = 0;
  const missed: string[] = [];
  const falseEvents: string[] = [];
  const stateDir = await mkdtemp(join(tmpdir(), 'edgebind-eval-'));
  try {
    for (const [n, rec] of recordings.entries()) {
      opts.onProgress?.('events: agent replays', n, recordings.length);
      const truth: TruthInterval[] = sceneTruthIntervals(rec.truth).filter((e) => configured.has(e.label));
      const report = await runEval({
        config: await eventsRunConfig(rec, pack, agentConfig, stateDir),
        truth,
        logger,
        toleranceMs: opts.toleranceMs ?? DEFAULT_TOLERANCE_MS,
      });
      const { total, matches } = report.metrics;
      const scene = `${rec.truth.scenario}#${rec.truth.seed}`;
      seconds += rec.truth.durationS;
      events += total.events;
      tp += total.truePositives;
      incidents += total.truth;
      detected += total.truePositives;
      const matchedIds = new Set(matches.map((m) => m.eventId));
      const matchedTruth = new Set(matches.map((m) => m.truth));
      for (const e of report.detected) {
        if (!matchedIds.has(e.id))
          falseEvents.push(
            `${scene} ${e.label} ${(e.startMs / 1000).toFixed(1)}-${(e.endMs / 1000).toFixed(1)} s`,
          );
      }
      for (const g of truth) {
        if (!matchedTruth.has(g)) missed.push(`${scene} ${g.label} ${g.startMs / 1000}-${g.endMs / 1000} s`);
      }
      opts.onProgress?.('events: agent replays', n + 1, recordings.length);
    }
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
  return {
    precision: events > 0 ? tp / events : 1,
    recall: incidents > 0 ? detected / incidents : 1,
    events,
    truePositives: tp,
    incidents,
    detected,
    falsePerTenMinutes: seconds > 0 ? ((events - tp) * 600) / seconds : 0,
    seconds,
    missed,
    falseEvents,
  };
}

export async function evaluatePack(opts: EvalOptions): Promise<EvalResult> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const dirs = await findScenes(opts.data);
  const { items, recordings } = await labelledWindows(dirs, opts.onProgress);
  const stateDir = await mkdtemp(join(tmpdir(), 'edgebind-eval-'));
  const encoders = await openEncoders({
    config: {
      stateDir,
      encoders: {
        pack: packPath(opts.pack),
        providers: ['cpu'],
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: 8,
      },
    },
    modalities: [...SENSOR_MODALITIES],
    logger,
  });
  try {
    await embedAll(encoders, items, opts.onProgress);
    const result: EvalResult = {
      pack: encoders.pack,
      scenes: dirs.length,
      windows: {},
      zeroShotTop1: {},
      zeroShotTop1Paraphrased: {},
      perClassTop1: {},
      retrievalR1: {},
      fewShot: {},
      confusion: {},
      scores: {},
      events: null,
      historySearch: null,
      msPerWindow: {},
      packBytes: await dirBytes(
        opts.pack === TEST_PACK ? join(stateDir, 'packs', TEST_PACK_NAME) : resolve(opts.pack),
      ),
    };
    opts.onProgress?.('timing the encoders', 0, SENSOR_MODALITIES.length);
    for (const [n, m] of SENSOR_MODALITIES.entries()) {
      opts.onProgress?.('timing the encoders', n, SENSOR_MODALITIES.length);
      const w = items.find((x) => x.window.modality === m)?.window;
      const enc = encoders.windows.get(m);
      if (!w || !enc) continue;
      const times: number[] = [];
      for (let i = 0; i < 25; i++) {
        const t0 = performance.now();
        await enc.embed([w]);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      result.msPerWindow[m] = times[Math.floor(times.length / 2)]!;
    }
    for (const [done, m] of SENSOR_MODALITIES.entries()) {
      opts.onProgress?.('zero-shot, few-shot', done, SENSOR_MODALITIES.length);
      const classes = observableClasses(m);
      const mine = items.filter((x) => x.window.modality === m);
      result.windows[m] = mine.length;
      const canon = await textProtos(encoders, classes, (c) => opts.labels?.[c] ?? [CANONICAL[c]]);
      result.zeroShotTop1[m] = accuracy(mine, canon);
      const perClass: Record<string, number> = {};
      for (const c of classes)
        perClass[c] = accuracy(
          mine.filter((x) => x.cls === c),
          canon,
        );
      result.perClassTop1[m] = perClass;
      result.confusion[m] = confusion(mine, classes, canon);
      result.scores[m] = scoreHistogram(mine, classes, canon);
      const n = Math.min(...classes.map((c) => PARAPHRASES[c].length));
      let sum = 0;
      for (let j = 0; j < n; j++)
        sum += accuracy(mine, await textProtos(encoders, classes, (c) => [PARAPHRASES[c][j]!]));
      result.zeroShotTop1Paraphrased[m] = sum / n;
      result.fewShot[m] = Object.fromEntries(FEW_SHOT_K.map((k) => [String(k), fewShot(mine, classes, k)]));
    }
    for (const [a, b] of RETRIEVAL_PAIRS) result.retrievalR1[`${a}->${b}`] = retrieval(items, a, b);
    if (opts.events ?? true) {
      const eventScenes = recordings.filter(
        (r) => r.truth.scenario === 'demo' || r.truth.scenario === 'random',
      );
      if (eventScenes.length > 0) {
        result.events = await evaluateEvents({
          recordings: eventScenes,
          pack: opts.pack,
          agentConfig: opts.agentConfig ?? DEMO_CONFIG,
          logger,
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        });
      }
    }
    if (opts.history ?? true) {
      result.historySearch = await evaluateHistoryRecall({
        recordings,
        pack: opts.pack,
        encoders,
        logger,
        ...(opts.labels ? { labels: opts.labels } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    }
    return result;
  } finally {
    await encoders.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export { SIM_CLASSES };
