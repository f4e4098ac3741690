/**
 * `edgebind history search (--text T | --example FILE | --event ID) [--since 24h] [--sensor …]
 * [--modality …] [--top K] [--json] [--state-dir DIR]` (issue #18): the moments of an agent's
 * embedding history that match a text, an example recording, or an event (its fused embedding, or
 * its windows in the history; found in the agent's outbox log, so recent events only). It reads the history's files only (no lock, nothing
 * written), so it is safe while the agent runs and appends to them.
 *
 * The query is embedded with the pack that wrote the history (the newest segment names it), or
 * `--pack`; a pack of another id or version is refused, since its embeddings live in another space.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  defaultStateDir,
  deviceStateDir,
  formatIssues,
  loadConfig,
  type ResolvedConfig,
} from '../../config/load.js';
import {
  EventsSchema,
  FusionSchema,
  LabelSchema,
  ScoringSchema,
  type LabelConfig,
} from '../../config/schema.js';
import { buildLabelSet } from '../../labels/build.js';
import { historySensors, replayLabels, type ReplayResult } from '../../labels/replay.js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { openEncoders } from '../../encoders/registry.js';
import type { EncoderSet } from '../../encoders/types.js';
import { ConfigError, HistoryError } from '../../errors.js';
import { listSegments, readSegmentHeader } from '../../history/reader.js';
import { eventQuery } from '../../history/event.js';
import {
  momentRecord,
  searchHistory,
  type HistoryQuery,
  type HistorySearchResult,
  type Moment,
} from '../../history/search.js';
import { createLogger } from '../../log.js';
import { readOutboxMessages } from '../../mqtt/outbox.js';
import { EventSchema, type EventPayload } from '../../mqtt/payloads.js';
import { SENSOR_MODALITIES, type SensorModality } from '../../pipeline/types.js';
import { reportAndExit } from '../errors.js';
import { parseSince } from '../since.js';
import { parseModality, parseScore } from './classify.js';
import { END_REASON_WORDS } from '../event-lines.js';

function parseTop(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError(`expected 1 to 1000, got "${value}"`);
  return n;
}

function parseList(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  ];
}

function parseModalities(value: string, previous: SensorModality[] = []): SensorModality[] {
  return [...previous, ...parseList(value).map(parseModality)];
}

/** The device whose history to read: `--device-id`, or the only one in the state directory. */
function historyDir(stateDir: string, deviceId: string | undefined): string {
  const devices = join(stateDir, 'devices');
  if (deviceId !== undefined) return join(devices, deviceId, 'history');
  let ids: string[] = [];
  try {
    ids = readdirSync(devices).filter((id) => {
      try {
        return readdirSync(join(devices, id)).includes('history');
      } catch {
        return false;
      }
    });
  } catch {
    // reported below
  }
  if (ids.length === 1) return join(devices, ids[0]!, 'history');
  if (ids.length === 0)
    throw new HistoryError(
      'HISTORY_UNREADABLE',
      devices,
      `no history in ${stateDir} (no devices/<id>/history): give the agent's stateDir with --state-dir`,
    );
  throw new InvalidArgumentError(
    `${stateDir} holds the history of several devices (${ids.join(', ')}): give --device-id`,
  );
}

interface SearchOptions {
  text?: string;
  example?: string;
  event?: string;
  exampleModality?: SensorModality;
  since?: number;
  until?: number;
  sensor?: string[];
  modality?: SensorModality[];
  top: number;
  json?: boolean;
  stateDir?: string;
  deviceId?: string;
  pack?: string;
  logLevel: string;
}

async function runSearch(opts: SearchOptions): Promise<void> {
  const given = [opts.text, opts.example, opts.event].filter((x) => x !== undefined).length;
  if (given !== 1) throw new InvalidArgumentError('give one of --text, --example or --event');
  let query: Exclude<HistoryQuery, { vector: Float32Array }> | undefined;
  if (opts.text !== undefined) {
    if (opts.text.trim() === '') throw new InvalidArgumentError('--text is empty');
    query = { text: opts.text };
  } else if (opts.example !== undefined) {
    const file = resolve(opts.example);
    const modality = opts.exampleModality ?? (extname(file).toLowerCase() === '.wav' ? 'audio' : undefined);
    if (!modality)
      throw new InvalidArgumentError(
        `--example ${opts.example}: give --example-modality (${SENSOR_MODALITIES.join(', ')})`,
      );
    query = { example: file, modality };
  }
  const stateDir = resolve(opts.stateDir ?? defaultStateDir());
  const dir = historyDir(stateDir, opts.deviceId);
  const segments = listSegments(dir);
  const newest = segments.at(-1);
  if (!newest) throw new HistoryError('HISTORY_UNREADABLE', dir, `the history in ${dir} is empty`);
  const header = readSegmentHeader(newest.path);
  if (typeof header === 'string')
    throw new HistoryError('HISTORY_UNREADABLE', newest.path, `${newest.path}: ${header}`);
  const pack = { id: header.pack.id, version: header.pack.version };
  const filters = {
    top: opts.top,
    pack,
    ...(opts.since !== undefined ? { sinceWallMs: opts.since } : {}),
    ...(opts.until !== undefined ? { untilWallMs: opts.until } : {}),
    ...(opts.sensor ? { sensors: opts.sensor } : {}),
    ...(opts.modality ? { modalities: opts.modality } : {}),
  };
  if (query === undefined) {
    // --event: no encoder; the query is the event's own embedding or its windows (history/event.ts).
    const q = eventQuery(dir, findEvent(dirname(dir), opts.event!), { ...pack, dim: header.dim });
    const result = await searchHistory({ dir, query: { vector: q.vector }, exclude: q.span, ...filters });
    const from = `${new Date(q.span.startWallMs).toISOString()} → ${new Date(q.span.endWallMs).toISOString()}`;
    print(opts, { event: opts.event!, from: q.from, windows: q.windows, span: from }, header.pack, result);
    if (!opts.json)
      process.stderr.write(
        `query: event ${opts.event!} (${from}), ${q.from === 'embedding' ? 'its fused embedding' : `the mean of its ${q.windows} windows`}; its own span is left out\n`,
      );
    return;
  }
  const encoders = await openHistoryPack(
    header.pack,
    opts.pack ?? header.pack.dir,
    stateDir,
    'example' in query ? [query.modality] : [],
    opts.logLevel,
  );
  try {
    const result = await searchHistory({ dir, query, encoders, ...filters });
    print(
      opts,
      'text' in query ? { text: query.text } : { example: query.example, modality: query.modality },
      header.pack,
      result,
    );
  } finally {
    await encoders.close();
  }
}

/**
 * The latest message of event `id` in the agent's outbox log. The agent keeps no event store: the
 * log holds an event until the broker acknowledged it and then until the next compaction (1 MiB
 * of acknowledged events, and every start), so only recent events can be found.
 */
function findEvent(deviceDir: string, id: string): EventPayload {
  const outbox = join(deviceDir, 'outbox');
  let found: EventPayload | undefined;
  for (const text of readOutboxMessages(outbox) ?? []) {
    if (!text.includes(id)) continue;
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      continue;
    }
    const ev = EventSchema.safeParse(msg);
    if (ev.success && ev.data.id === id) found = ev.data;
  }
  if (!found)
    throw new HistoryError(
      'HISTORY_EVENT_UNKNOWN',
      join(outbox, 'events.log'),
      `event ${id} is not in ${join(outbox, 'events.log')}: the agent keeps an event only until the broker has it and the outbox is next compacted (every start, and per 1 MiB of delivered events); take its id from a recent event, or search with --since/--until and --text`,
    );
  return found;
}

/** Moments as lines (stats on stderr) or, with --json, one JSON document. */
function print(opts: SearchOptions, query: unknown, pack: unknown, result: HistorySearchResult): void {
  for (const p of result.stats.problems) process.stderr.write(`edgebind: warning: ${p}\n`);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ query, pack, moments: result.moments.map(momentRecord), stats: result.stats }, null, 2)}\n`,
    );
    return;
  }
  result.moments.forEach((m, i) => process.stdout.write(`${momentLine(i + 1, m)}\n`));
  if (result.moments.length === 0) process.stdout.write('no matching windows\n');
  process.stderr.write(
    `${result.stats.windows} windows in ${result.stats.segments} segments searched in ${result.stats.ms} ms\n`,
  );
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Opens the pack a history was written with (CPU, one thread: a CLI beside a running agent) for
 * the given sensor modalities besides text; refuses another pack, whose embeddings live in
 * another space.
 */
async function openHistoryPack(
  written: { id: string; version: string },
  packDir: string | undefined,
  stateDir: string,
  modalities: SensorModality[],
  logLevel: string,
): Promise<EncoderSet> {
  if (!packDir)
    throw new InvalidArgumentError(
      `the history does not name its pack directory: give --pack (pack ${written.id} ${written.version})`,
    );
  const encoders = await openEncoders({
    config: {
      encoders: {
        pack: resolve(packDir),
        providers: ['cpu'],
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: 8,
      },
      stateDir,
    },
    modalities,
    logger: createLogger({ level: logLevel }),
  });
  if (encoders.pack.id !== written.id || encoders.pack.version !== written.version) {
    await encoders.close();
    throw new InvalidArgumentError(
      `the history was written with pack ${written.id} ${written.version}, ${packDir} is ${encoders.pack.id} ${encoders.pack.version}: its embeddings are not comparable`,
    );
  }
  return encoders;
}

function momentLine(rank: number, m: Moment): string {
  const seconds = ((m.endWallMs - m.startWallMs) / 1000).toFixed(1);
  return `${String(rank).padStart(2)}. ${iso(m.startWallMs)} → ${iso(m.endWallMs)} (${seconds} s)  score ${m.score.toFixed(3)}${m.z === null ? '' : ` (z ${m.z.toFixed(1)})`}  ${m.sensors.join(', ')} [${m.modalities.join(', ')}]  ${m.windows} windows, best ${m.best.sensorId} at ${iso(m.best.startWallMs)}`;
}

interface ReplayCliOptions {
  label?: string;
  prompt?: string[];
  threshold?: number;
  offThreshold?: number;
  /** Modalities --label listens to (its `modalities`); default every one. */
  modality?: SensorModality[];
  labels?: string;
  config?: string;
  since: number;
  until?: number;
  sensor?: string[];
  json?: boolean;
  stateDir?: string;
  deviceId?: string;
  pack?: string;
  logLevel: string;
}

/** `--labels FILE`: a YAML or JSON list of labels (or `{labels: [...]}`), as a config file has them. */
function readLabelsFile(file: string): LabelConfig[] {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 100 });
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError('CONFIG_PARSE', `--labels ${file}: ${reason}`, { file, cause: err });
  }
  const list =
    raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'labels' in raw ? raw.labels : raw;
  const parsed = z.array(LabelSchema).min(1).safeParse(list);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues).map((p) => ({
      ...p,
      path: `labels${p.path.startsWith('[') || p.path === '' ? p.path : `.${p.path}`}`,
    }));
    throw new ConfigError(
      'CONFIG_INVALID',
      `--labels ${file}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      { file, problems },
    );
  }
  return parsed.data;
}

/** The candidate labels: --label (with --prompt, thresholds), --labels FILE, or the config's. */
function replayLabelConfigs(opts: ReplayCliOptions, config: ResolvedConfig | undefined): LabelConfig[] {
  const given = [opts.label, opts.labels].filter((x) => x !== undefined).length;
  if (given > 1) throw new InvalidArgumentError('give --label or --labels, not both');
  if (
    opts.label === undefined &&
    (opts.prompt || opts.threshold !== undefined || opts.offThreshold !== undefined || opts.modality)
  )
    throw new InvalidArgumentError(
      '--prompt, --threshold, --off-threshold and --modality go with --label NAME',
    );
  if (opts.threshold !== undefined && opts.offThreshold !== undefined && opts.offThreshold > opts.threshold)
    throw new InvalidArgumentError(
      `--off-threshold ${opts.offThreshold} must not exceed --threshold ${opts.threshold}`,
    );
  if (opts.labels !== undefined) return readLabelsFile(resolve(opts.labels));
  if (opts.label !== undefined) {
    const label = LabelSchema.safeParse({
      name: opts.label,
      // A name alone is its own prompt: glass_breaking → "glass breaking".
      prompts: opts.prompt ?? [opts.label.replace(/[_-]+/g, ' ')],
      ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
      ...(opts.offThreshold !== undefined ? { offThreshold: opts.offThreshold } : {}),
      ...(opts.modality ? { modalities: opts.modality } : {}),
    });
    if (!label.success)
      throw new InvalidArgumentError(
        formatIssues(label.error.issues)
          .map(
            (p) =>
              `--${p.path.startsWith('prompts') ? 'prompt' : p.path === 'name' ? 'label' : p.path}: ${p.message}`,
          )
          .join('; '),
      );
    return [label.data];
  }
  if (config) {
    if (config.labels.length === 0)
      throw new InvalidArgumentError(`${config.source} has no labels: give --label or --labels`);
    return config.labels;
  }
  throw new InvalidArgumentError('give --label NAME [--prompt TEXT], --labels FILE or --config FILE');
}

async function runReplay(opts: ReplayCliOptions): Promise<void> {
  const config = opts.config !== undefined ? await loadConfig(opts.config) : undefined;
  const labels = replayLabelConfigs(opts, config);
  if (opts.until !== undefined && opts.until <= opts.since)
    throw new InvalidArgumentError(
      `--until ${new Date(opts.until).toISOString()} is not after --since ${new Date(opts.since).toISOString()}`,
    );
  if (config && !config.history.enabled && opts.stateDir === undefined)
    throw new HistoryError(
      'HISTORY_UNREADABLE',
      config.source,
      `history.enabled is false in ${config.source}: that agent keeps no history to replay`,
    );
  const stateDir = resolve(opts.stateDir ?? config?.stateDir ?? defaultStateDir());
  const dir =
    opts.deviceId === undefined && config && opts.stateDir === undefined
      ? join(deviceStateDir(config), 'history')
      : historyDir(stateDir, opts.deviceId ?? config?.deviceId);
  const newest = listSegments(dir).at(-1);
  if (!newest) throw new HistoryError('HISTORY_UNREADABLE', dir, `the history in ${dir} is empty`);
  const header = readSegmentHeader(newest.path);
  if (typeof header === 'string')
    throw new HistoryError('HISTORY_UNREADABLE', newest.path, `${newest.path}: ${header}`);
  const pack = { id: header.pack.id, version: header.pack.version };
  const known = historySensors(dir, pack);
  for (const id of opts.sensor ?? [])
    if (!known.has(id))
      throw new InvalidArgumentError(
        `--sensor ${id}: no such sensor in the history at ${dir} (${[...known.keys()].join(', ')})`,
      );
  const encoders = await openHistoryPack(
    header.pack,
    opts.pack ??
      header.pack.dir ??
      (config && config.encoders.pack !== 'test' ? config.encoders.pack : undefined),
    stateDir,
    [],
    opts.logLevel,
  );
  try {
    const settings = {
      scoring: config?.scoring ?? ScoringSchema.parse({}),
      fusion: config?.fusion ?? FusionSchema.parse({}),
      events: config?.events ?? EventsSchema.parse({}),
    };
    const set = await buildLabelSet({
      labels,
      scoring: settings.scoring,
      fusionMode: settings.fusion.mode,
      modalities: [...new Set(known.values())],
      text: encoders.text,
      pack: encoders.pack,
      cacheDir: join(stateDir, 'label-cache'),
      // Read-only against the agent's state directory: nothing is cached on disk.
      persist: false,
      baseDir:
        opts.labels !== undefined
          ? dirname(resolve(opts.labels))
          : config
            ? dirname(config.source)
            : process.cwd(),
      logger: createLogger({ level: opts.logLevel }),
    });
    for (const w of set.warnings ?? []) process.stderr.write(`edgebind: warning: ${w.message}\n`);
    const result = await replayLabels({
      dir,
      set,
      settings,
      pack,
      dim: header.dim,
      range: { sinceWallMs: opts.since, untilWallMs: opts.until, sensors: opts.sensor },
    });
    printReplay(opts, pack, result);
  } finally {
    await encoders.close();
  }
}

const hmsUtc = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** One line per event the set would have made, then one per label; --json: the whole result. */
function printReplay(opts: ReplayCliOptions, pack: unknown, r: ReplayResult): void {
  for (const p of r.stats.problems) process.stderr.write(`edgebind: warning: ${p}\n`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ pack, ...r }, null, 2)}\n`);
    return;
  }
  const events = r.labels.flatMap((l) => l.events).sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const width = Math.max(16, ...r.labels.map((l) => l.name.length));
  for (const e of events) {
    const start = Date.parse(e.start);
    const end = Date.parse(e.end);
    const why = e.endReason ? END_REASON_WORDS[e.endReason] : 'still on at the end of the range';
    process.stdout.write(
      `${iso(start)} → ${hmsUtc(end)} (${((end - start) / 1000).toFixed(1)} s)  ${e.label.padEnd(width)} peak ${e.peakScore.toFixed(2)}  [${e.modalities.join('+')}] ${e.sensors.join(', ')}  ${e.windows} windows, ${why}\n`,
    );
  }
  if (events.length === 0) process.stdout.write('no label would have fired\n');
  for (const l of r.labels)
    process.stdout.write(
      `${l.name.padEnd(width)} ${String(l.events.length).padStart(3)} event${l.events.length === 1 ? ' ' : 's'}  max ${l.maxScore.toFixed(2)}  mean ${l.meanScore.toFixed(2)}  ${l.matches} of ${l.windows} windows at or above its threshold\n`,
    );
  // Windows that matched but never made an event: usually a label fused over sensors that cannot
  // observe it (a sound's label averaged with thermal, depth and IMU scores), as the live agent
  // would fuse it too. Say what to change rather than leave "0 events" unexplained.
  for (const l of r.labels.filter((x) => x.events.length === 0 && x.matches > 0))
    process.stderr.write(
      `edgebind: hint: ${l.name}: ${l.matches} windows reached its threshold but no event formed: an event needs events.minWindows fused scores in a row at or above it, and a label's score is fused over every sensor of the modalities it listens to, so those that cannot observe it pull it down; narrow it with --modality (a label's modalities:) or --sensor\n`,
    );
  const span = r.span ? `${iso(Date.parse(r.span.from))} → ${iso(Date.parse(r.span.to))}` : 'no window';
  const per = r.span?.sensors.map((s) => `${s.sensorId} ${s.windows}`).join(', ') ?? '';
  process.stderr.write(
    `${r.windows} windows replayed (${span}${per ? `; ${per}` : ''}) from ${r.stats.segments} segments, ${r.stats.runs} agent run${r.stats.runs === 1 ? '' : 's'}, in ${r.stats.ms} ms; the history keeps int8 embeddings, so scores may differ from the live agent's by about 0.01\n`,
  );
}

export function registerHistory(program: Command): void {
  const history = program
    .command('history')
    .description("search an agent's embedding history (docs/history.md)");
  history
    .command('search')
    .description('moments of the history that match a text, an example recording or an event, best first')
    .option('--text <text>', 'a description, e.g. "glass breaking": matches windows of every modality')
    .option('--example <file>', 'a recording (WAV, or .ebf with --example-modality): its nearest windows')
    .option(
      '--event <id>',
      "an event id: moments like it (its embedding, or its windows); found in the agent's outbox, which keeps recent events only",
    )
    .option(
      '--example-modality <m>',
      `modality of --example (${SENSOR_MODALITIES.join(', ')}; .wav: audio)`,
      parseModality,
    )
    .option('--since <when>', 'only windows since then: 24h, 30m, 2d, or an ISO 8601 time', (v) =>
      parseSince(v),
    )
    .option('--until <when>', 'only windows before then (same forms as --since)', (v) => parseSince(v))
    .option('--sensor <ids>', 'only these sensor ids (comma-separated, repeatable)', parseList)
    .option('--modality <m>', 'only these modalities (comma-separated, repeatable)', parseModalities)
    .option('--top <k>', 'moments to print', parseTop, 10)
    .option('--json', 'print JSON')
    .option('--state-dir <dir>', "the agent's stateDir (default: as the agent)")
    .option('--device-id <id>', 'the device whose history to read (default: the only one in --state-dir)')
    .option('--pack <dir>', 'model pack to embed the query with (default: the one that wrote the history)')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(async (opts: SearchOptions) => {
      try {
        await runSearch(opts);
      } catch (err) {
        reportAndExit(err);
      }
    });
  history
    .command('replay')
    .description(
      'retroactive labels: the events a label set would have made over the history, as the agent fuses and tracks',
    )
    .option(
      '--label <name>',
      'one label to replay, e.g. glass_breaking (its prompt: --prompt, else the name)',
    )
    .option('--prompt <text>', 'a prompt of --label (repeatable)', (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option('--threshold <score>', 'on-threshold of --label (default scoring.threshold)', parseScore)
    .option('--off-threshold <score>', 'off-threshold of --label (default: its threshold)', parseScore)
    .option(
      '--modality <m>',
      'modalities --label listens to, e.g. audio for a sound (comma-separated, repeatable; default every one)',
      parseModalities,
    )
    .option(
      '--labels <file>',
      'a YAML or JSON list of labels, as labels[] of a config (or labels/test sends)',
    )
    .option(
      '-c, --config <file>',
      'an agent config: its scoring, fusion and events settings, its stateDir and deviceId, and its labels unless --label or --labels',
    )
    .requiredOption('--since <when>', 'replay from then: 1h, 30m, 2d, or an ISO 8601 time', (v) =>
      parseSince(v),
    )
    .option('--until <when>', 'replay up to then (same forms; default: the newest window)', (v) =>
      parseSince(v),
    )
    .option('--sensor <ids>', 'only these sensor ids (comma-separated, repeatable)', parseList)
    .option('--json', 'print JSON')
    .option('--state-dir <dir>', "the agent's stateDir (default: --config's, else as the agent)")
    .option('--device-id <id>', "the device whose history to read (default: --config's, else the only one)")
    .option('--pack <dir>', 'model pack to embed the labels with (default: the one that wrote the history)')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(async (opts: ReplayCliOptions) => {
      try {
        await runReplay(opts);
      } catch (err) {
        reportAndExit(err);
      }
    });
}
