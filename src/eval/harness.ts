/**
 * Evaluation harness: runs the REAL agent (startAgent: windows, encoders, fusion, tracker, MQTT
 * on an embedded broker at a free port) over replayed recordings, as fast as it goes and in a
 * deterministic time order, then scores its events against ground-truth intervals.
 *
 * Time: the agent runs on a manual clock frozen at 0, so every replay starts at monotonic 0 and
 * an event's times are milliseconds from the start of the recordings.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { z } from 'zod';
import { configErrorMap, formatIssues, type ResolvedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import type { EncoderSet } from '../encoders/types.js';
import type { ScoreInspection } from '../fusion/fusion.js';
import { startAgent } from '../main.js';
import type { EventPayload } from '../mqtt/payloads.js';
import { ManualClock } from '../pipeline/clock.js';
import {
  DEFAULT_TOLERANCE_MS,
  evaluate,
  formatMetrics,
  SceneTruthSchema,
  TruthSchema,
  sceneTruthIntervals,
  type DetectedEvent,
  type EvalMetrics,
  type TruthInterval,
} from './metrics.js';

const WALL_ORIGIN_MS = Date.UTC(2026, 0, 1);

export interface EvalRunOptions {
  /** Agent config; its replay sensors are the recordings (played once, at speed 0). */
  config: ResolvedConfig;
  truth: readonly TruthInterval[];
  /** Encoders to use instead of the configured pack. */
  encoders?: EncoderSet;
  logger?: Logger;
  /** Slack when matching events to truth intervals, ms. Default 1000. */
  toleranceMs?: number;
  onScores?: (inspection: ScoreInspection) => void;
}

export interface EvalReport {
  /** Every event message the agent produced (start, update, end). */
  events: EventPayload[];
  /** One per event id, from its end message. */
  detected: DetectedEvent[];
  metrics: EvalMetrics;
  table: string;
}

export async function runEval(opts: EvalRunOptions): Promise<EvalReport> {
  const { config } = opts;
  for (const s of config.sensors) {
    if ((s.driver as string) !== 'replay')
      throw new TypeError(`eval needs replay sensors; ${s.id} is not one`);
  }
  // A private state dir (no persisted remote labels or outbox leak in or out) that shares the
  // real one's label cache and generated packs.
  const stateDir = mkdtempSync(join(tmpdir(), 'edgebind-eval-'));
  for (const shared of ['label-cache', 'packs']) {
    mkdirSync(join(config.stateDir, shared), { recursive: true });
    symlinkSync(join(config.stateDir, shared), join(stateDir, shared), 'dir');
  }
  const evalConfig: ResolvedConfig = {
    ...config,
    stateDir,
    sensors: config.sensors.map((s) => ({ ...s, speed: 0, loop: false })),
    mqtt: { ...config.mqtt, broker: 'embedded', embeddedPort: 0 },
  };
  const events: EventPayload[] = [];
  try {
    const agent = await startAgent({
      config: evalConfig,
      logger: opts.logger ?? pino({ level: 'silent' }),
      clock: new ManualClock(0, WALL_ORIGIN_MS),
      deterministic: true,
      onEvent: (e) => events.push(e),
      ...(opts.encoders ? { encoders: opts.encoders } : {}),
      ...(opts.onScores ? { onScores: opts.onScores } : {}),
    });
    try {
      await agent.done;
    } finally {
      await agent.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  const detected = detectedEvents(events);
  const metrics = evaluate(detected, opts.truth, {
    toleranceMs: opts.toleranceMs ?? DEFAULT_TOLERANCE_MS,
    labels: config.labels.map((l) => l.name),
  });
  return { events, detected, metrics, table: formatMetrics(metrics) };
}

/**
 * Plays `config`'s replay sensors once at speed 0 through the real agent in `config.stateDir`
 * (kept: its embedding history is what the caller reads), with windows stamped from wall time
 * `wallOriginMs` on: recordings replayed one after another at different origins land in one
 * history at separate times, as a day of the agent's would (issue #18 recall evaluation).
 */
export async function replayThroughAgent(opts: {
  config: ResolvedConfig;
  wallOriginMs: number;
  encoders?: EncoderSet;
  logger?: Logger;
}): Promise<void> {
  for (const s of opts.config.sensors) {
    if ((s.driver as string) !== 'replay')
      throw new TypeError(`a replay run needs replay sensors; ${s.id} is not one`);
  }
  const agent = await startAgent({
    config: {
      ...opts.config,
      sensors: opts.config.sensors.map((s) => ({ ...s, speed: 0, loop: false })),
      mqtt: { ...opts.config.mqtt, broker: 'embedded', embeddedPort: 0 },
    },
    logger: opts.logger ?? pino({ level: 'silent' }),
    clock: new ManualClock(0, opts.wallOriginMs),
    deterministic: true,
    ...(opts.encoders ? { encoders: opts.encoders } : {}),
  });
  try {
    await agent.done;
  } finally {
    await agent.stop();
  }
}

/** One DetectedEvent per event id (its end message; times relative to the recordings' start). */
export function detectedEvents(events: readonly EventPayload[]): DetectedEvent[] {
  const out: DetectedEvent[] = [];
  for (const e of events) {
    if (e.type !== 'end') continue;
    out.push({
      id: e.id,
      label: e.label,
      startMs: Date.parse(e.startTime) - WALL_ORIGIN_MS,
      endMs: Date.parse(e.endTime ?? e.timestamp) - WALL_ORIGIN_MS,
      peakScore: e.peakScore,
    });
  }
  return out;
}

/**
 * Reads a ground-truth file: a list `[{ "label": "...", "startMs": 0, "endMs": 1000 }, ...]`, or
 * the `truth.json` that `edgebind simulate` writes (`{ "events": [{ "label", "startS", "endS" }] }`,
 * as shipped in samples/). Every problem is reported with its place in the file.
 */
export async function readTruth(file: string): Promise<TruthInterval[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'file not found' : e.message;
    throw new ConfigError('CONFIG_PARSE', `${file}: cannot read ground truth: ${why}`, { file, cause: err });
  }
  if (Array.isArray(json)) {
    const r = TruthSchema.safeParse(json, { error: configErrorMap });
    if (r.success) return r.data;
    throw badTruth(file, r.error.issues);
  }
  if (typeof json === 'object' && json !== null && 'events' in json) {
    const r = SceneTruthSchema.safeParse(json);
    if (r.success) return sceneTruthIntervals(r.data);
    throw badTruth(file, r.error.issues);
  }
  throw new ConfigError(
    'CONFIG_INVALID',
    `${file}: ground truth must be a list [{"label", "startMs", "endMs"}] or a simulator truth.json ({"events": [{"label", "startS", "endS"}]})`,
    { file },
  );
}

function badTruth(file: string, issues: readonly z.core.$ZodIssue[]): ConfigError {
  const problems = formatIssues(issues);
  const lines = problems.map((p) => `  ${p.path || '(top level)'}: ${p.message}`).join('\n');
  return new ConfigError('CONFIG_INVALID', `${file}: invalid ground truth\n${lines}`, { file, problems });
}
