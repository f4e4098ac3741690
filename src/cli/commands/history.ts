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
import { readdirSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { defaultStateDir } from '../../config/load.js';
import { openEncoders } from '../../encoders/registry.js';
import type { EncoderSet } from '../../encoders/types.js';
import { HistoryError } from '../../errors.js';
import { listSegments, readSegmentHeader } from '../../history/reader.js';
import { eventQuery } from '../../history/event.js';
import {
  momentRecord,
  parseWhen,
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
import { parseModality } from './classify.js';

/** `24h`, `30m`, `90s`, `2d` before now, or an ISO 8601 time: Unix epoch milliseconds. */
export function parseSince(value: string, now = Date.now()): number {
  const t = parseWhen(value, now);
  if (t !== undefined) return t;
  throw new InvalidArgumentError(
    `expected a duration such as 24h, 30m, 90s, 2d or an ISO 8601 time, got "${value}"`,
  );
}

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
  const packDir = opts.pack ?? header.pack.dir;
  if (!packDir)
    throw new InvalidArgumentError(
      `the history does not name its pack directory: give --pack (pack ${header.pack.id} ${header.pack.version})`,
    );
  const logger = createLogger({ level: opts.logLevel });
  const encoders: EncoderSet = await openEncoders({
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
    modalities: 'example' in query ? [query.modality] : [],
    logger,
  });
  try {
    if (encoders.pack.id !== header.pack.id || encoders.pack.version !== header.pack.version)
      throw new InvalidArgumentError(
        `the history was written with pack ${header.pack.id} ${header.pack.version}, ${packDir} is ${encoders.pack.id} ${encoders.pack.version}: its embeddings are not comparable`,
      );
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

function momentLine(rank: number, m: Moment): string {
  const seconds = ((m.endWallMs - m.startWallMs) / 1000).toFixed(1);
  return `${String(rank).padStart(2)}. ${iso(m.startWallMs)} → ${iso(m.endWallMs)} (${seconds} s)  score ${m.score.toFixed(3)}${m.z === null ? '' : ` (z ${m.z.toFixed(1)})`}  ${m.sensors.join(', ')} [${m.modalities.join(', ')}]  ${m.windows} windows, best ${m.best.sensorId} at ${iso(m.best.startWallMs)}`;
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
}
