/**
 * Evaluates a pack on simulated recordings (`edgebind simulate` output): emergent zero-shot top-1
 * per modality over the classes it can observe (canonical and held-out paraphrased prompts),
 * cross-modal retrieval R@1, few-shot accuracy, and event precision/recall of the whole agent
 * replaying the recordings. Every embedding comes from the agent's own encoder path
 * (src/encoders/registry.ts: preprocessing → ONNX → postprocessing).
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { openEncoders } from '../encoders/registry.js';
import type { EncoderSet } from '../encoders/types.js';
import { startAgent } from '../main.js';
import type { EventPayload } from '../mqtt/payloads.js';
import type { Clock } from '../pipeline/clock.js';
import { SENSOR_MODALITIES, type SensorModality, type Window } from '../pipeline/types.js';
import { OBSERVED_BY, SIM_CLASSES, TRANSIENT, observableClasses, type SimClass } from './classes.js';
import { MINI_WINDOWS } from './pack-params.js';
import { CANONICAL, PARAPHRASES } from './prompts.js';
import { Rng } from './random.js';
import { Recording } from './recording.js';
import { TRUTH_FILE } from './simulate.js';

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
  logger?: Logger;
}

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
  events: EventsResult | null;
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

/** Scene directories (with truth.json): `data` itself, or inside it up to two levels down. */
export async function findScenes(data: string, depth = 2): Promise<string[]> {
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
        out.push(...(await findScenes(join(data, entry.name), depth - 1).catch(() => [])));
    }
  }
  if (out.length === 0) throw new Error(`${data}: no simulated scenes (${TRUTH_FILE}) found`);
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
): Promise<{ items: Labelled[]; recordings: Recording[] }> {
  const items: Labelled[] = [];
  const recordings: Recording[] = [];
  for (const [i, dir] of dirs.entries()) {
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

async function embedAll(encoders: EncoderSet, items: Labelled[]): Promise<void> {
  for (const m of SENSOR_MODALITIES) {
    const mine = items.filter((x) => x.window.modality === m);
    const enc = encoders.windows.get(m);
    if (!enc) continue;
    for (let i = 0; i < mine.length; i += 8) {
      const chunk = mine.slice(i, i + 8);
      const vecs = await enc.embed(chunk.map((x) => x.window));
      chunk.forEach((x, k) => (x.vector = vecs[k]));
    }
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function meanDir(vs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  const n = Math.hypot(...out) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
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
  for (const c of classes) out.set(c, meanDir(await encoders.text.embed(prompts(c))));
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
      protos.set(c, meanDir(chosen.map((x) => x.vector!)));
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

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

const WALL_ORIGIN_MS = Date.UTC(2026, 0, 1);
/**
 * Replay speed of the events run: faster than real time, yet slow enough that the encoders keep
 * up (at speed 0 a replay floods the bounded window queues and windows are dropped).
 */
const EVAL_REPLAY_SPEED = 10;

/**
 * Monotonic clock whose zero is its first reading, i.e. when the replays start: event times then
 * read as recording time.
 */
class ReplayClock implements Clock {
  private origin: number | undefined;
  nowMs(): number {
    const t = performance.now();
    this.origin ??= t;
    return t - this.origin;
  }
  toWallMs(monoMs: number): number {
    return WALL_ORIGIN_MS + monoMs;
  }
}
const MATCH_SLACK_S = 2;

/** Runs the agent over one recording (replay, as fast as it goes) and returns its events in recording time. */
export async function agentEvents(
  rec: Recording,
  pack: string,
  agentConfig: string,
  logger: Logger,
): Promise<{ label: string; startS: number; endS: number }[]> {
  const base = parse(await readFile(agentConfig, 'utf8')) as Record<string, unknown>;
  const stateDir = await mkdtemp(join(tmpdir(), 'edgebind-eval-'));
  try {
    const demoSensors = (base.sensors ?? []) as { modality: SensorModality; window?: unknown }[];
    const windowOf = (m: SensorModality) =>
      demoSensors.find((s) => s.modality === m)?.window ?? MINI_WINDOWS[m];
    const files = rec.truth.files;
    const cfg = {
      ...base,
      deviceId: 'eval',
      stateDir,
      mqtt: { broker: 'embedded', embeddedPort: await freePort() },
      encoders: { ...((base.encoders as object | undefined) ?? {}), pack: resolve(pack) },
      sensors: SENSOR_MODALITIES.map((m) => ({
        id: m,
        driver: 'replay',
        modality: m,
        file: join(resolve(rec.dir), files[m]),
        speed: EVAL_REPLAY_SPEED,
        loop: false,
        queueSize: 64,
        window: windowOf(m),
      })),
      log: { level: 'silent' },
    };
    const config = parseConfig(stringify(cfg), join(dirname(resolve(agentConfig)), 'eval.yaml'));
    const open = new Map<string, { label: string; startS: number }>();
    const done: { label: string; startS: number; endS: number }[] = [];
    const toS = (iso: string) => (Date.parse(iso) - WALL_ORIGIN_MS) / 1000;
    const agent = await startAgent({
      config,
      logger,
      clock: new ReplayClock(),
      // Windows in time order, none dropped: the report's event figures reproduce run to run
      // instead of depending on which sensor's window the scheduler delivered first.
      deterministic: true,
      onEvent: (e: EventPayload) => {
        if (e.type === 'start') open.set(e.id, { label: e.label, startS: toS(e.startTime) });
        if (e.type === 'end') {
          const o = open.get(e.id);
          open.delete(e.id);
          const a = o?.startS ?? toS(e.startTime);
          const b = toS(e.endTime ?? e.timestamp);
          done.push({
            label: e.label,
            startS: Math.min(a, b),
            endS: Math.max(a, b),
          });
        }
      },
    });
    await agent.done;
    await agent.stop();
    for (const o of open.values()) done.push({ ...o, endS: rec.truth.durationS });
    return done;
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(dir, e.name))).size;
  }
  return total;
}

function overlaps(a: { startS: number; endS: number }, b: { startS: number; endS: number }): boolean {
  return a.startS - MATCH_SLACK_S < b.endS && b.startS < a.endS + MATCH_SLACK_S;
}

export async function evaluateEvents(
  recordings: readonly Recording[],
  pack: string,
  agentConfig: string,
  logger: Logger,
): Promise<EventsResult> {
  const cfg = parse(await readFile(agentConfig, 'utf8')) as { labels?: { name: string }[] };
  const configured = new Set((cfg.labels ?? []).map((l) => l.name));
  let events = 0;
  let tp = 0;
  let incidents = 0;
  let detected = 0;
  let seconds = 0;
  const missed: string[] = [];
  const falseEvents: string[] = [];
  for (const rec of recordings) {
    const got = await agentEvents(rec, pack, agentConfig, logger);
    const truth = rec.truth.events.filter((e) => configured.has(e.label));
    seconds += rec.truth.durationS;
    for (const e of got) {
      events++;
      if (truth.some((g) => g.label === e.label && overlaps(g, e))) tp++;
      else
        falseEvents.push(
          `${rec.truth.scenario}#${rec.truth.seed} ${e.label} ${e.startS.toFixed(1)}-${e.endS.toFixed(1)} s`,
        );
    }
    for (const g of truth) {
      incidents++;
      if (got.some((e) => e.label === g.label && overlaps(g, e))) detected++;
      else missed.push(`${rec.truth.scenario}#${rec.truth.seed} ${g.label} ${g.startS}-${g.endS} s`);
    }
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
  const { items, recordings } = await labelledWindows(dirs);
  const stateDir = await mkdtemp(join(tmpdir(), 'edgebind-eval-'));
  const encoders = await openEncoders({
    config: {
      stateDir,
      encoders: {
        pack: resolve(opts.pack),
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
    await embedAll(encoders, items);
    const result: EvalResult = {
      pack: encoders.pack,
      scenes: dirs.length,
      windows: {},
      zeroShotTop1: {},
      zeroShotTop1Paraphrased: {},
      perClassTop1: {},
      retrievalR1: {},
      fewShot: {},
      events: null,
      msPerWindow: {},
      packBytes: await dirBytes(resolve(opts.pack)),
    };
    for (const m of SENSOR_MODALITIES) {
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
    for (const m of SENSOR_MODALITIES) {
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
        result.events = await evaluateEvents(eventScenes, opts.pack, opts.agentConfig ?? DEMO_CONFIG, logger);
      }
    }
    return result;
  } finally {
    await encoders.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export { SIM_CLASSES };
