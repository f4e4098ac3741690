/**
 * The history/search request (issue #18) behind the MQTT envelope (mqtt/requests.ts checks size,
 * JSON, target, signature, replay and the schema first): the query embedded with the agent's own
 * text encoder, or an example vector as label examples give one, then a read-only search of the
 * agent's own history directory. The scan reads and scores in chunks with the event loop running
 * between them (reader.ts scanHistoryAsync), so detection never waits on it for more than one
 * chunk's scoring; searches run one at a time.
 */
import type { Logger } from 'pino';
import type { PrototypeFile } from '../config/schema.js';
import type { EncoderSet } from '../encoders/types.js';
import { HistoryError, RequestError, type Problem } from '../errors.js';
import type { SensorModality } from '../pipeline/types.js';
import { listSegments, readSegmentHeader } from './reader.js';
import { momentRecord, searchHistory } from './search.js';
import { parseWhen } from './when.js';

/** history/search as validated by its schema (mqtt/payloads.ts HistorySearchRequestSchema). */
export interface HistorySearchRequest {
  text?: string | undefined;
  example?:
    | {
        base64?: string | undefined;
        prototype?: PrototypeFile | undefined;
        modality?: SensorModality | undefined;
      }
    | undefined;
  since?: string | undefined;
  until?: string | undefined;
  sensors?: string[] | undefined;
  modalities?: SensorModality[] | undefined;
  top: number;
  minScore?: number | undefined;
}

/** The operation the request router calls. */
export interface HistoryOps {
  search(req: HistorySearchRequest): Promise<{ data: unknown }>;
}

export interface HistorySearchServiceDeps {
  /** `<stateDir>/devices/<deviceId>/history`; undefined when history.enabled is false. */
  dir: string | undefined;
  encoders: EncoderSet;
  /** remote.maxPromptChars bounds `text` as it bounds label prompts. */
  limits: { maxPromptChars: number };
  logger: Logger;
  /** Bytes scored between two turns of the event loop (default reader.ts SCAN_CHUNK_BYTES). */
  chunkBytes?: number;
  now?: () => number;
}

export class HistorySearchService implements HistoryOps {
  private turn: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly deps: HistorySearchServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  search(req: HistorySearchRequest): Promise<{ data: unknown }> {
    // One at a time: two searches at once would only share the same core and hold twice the memory.
    const run = this.turn.then(() => this.searchNow(req));
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async searchNow(req: HistorySearchRequest): Promise<{ data: unknown }> {
    const { dir, encoders } = this.deps;
    if (dir === undefined)
      throw new RequestError('HISTORY_DISABLED', 'this device keeps no history (history.enabled is false)', [
        { path: '$', message: 'history.enabled is false in the agent config' },
      ]);
    const now = this.now();
    const problems: Problem[] = [];
    const since = this.time(req.since, '$.since', now, problems);
    const until = this.time(req.until, '$.until', now, problems);
    if (since !== undefined && until !== undefined && until <= since)
      problems.push({
        path: '$.until',
        message: `${new Date(until).toISOString()} is not after since (${new Date(since).toISOString()})`,
      });
    const { maxPromptChars } = this.deps.limits;
    if (req.text !== undefined && req.text.length > maxPromptChars)
      problems.push({ path: '$.text', message: `longer than remote.maxPromptChars (${maxPromptChars})` });
    const pack = { id: encoders.pack.id, version: encoders.pack.version };
    const proto = req.example?.prototype;
    if (proto && (proto.pack.id !== pack.id || proto.pack.version !== pack.version))
      problems.push({
        path: '$.example.prototype.pack',
        message: `made with pack ${proto.pack.id} ${proto.pack.version}; this device embeds with ${pack.id} ${pack.version}, another space`,
      });
    const vector = exampleVector(req);
    if (vector) {
      const dim = this.historyDim(dir);
      if (dim !== undefined && vector.length !== dim)
        problems.push({
          path: proto ? '$.example.prototype.vector' : '$.example.base64',
          message: `${vector.length} values; this device's history holds ${dim}-d embeddings (pack ${pack.id} ${pack.version})`,
        });
    }
    if (problems.length > 0)
      throw new RequestError(
        'REQUEST_INVALID',
        `invalid history/search request: ${problems.length} problem(s)`,
        problems,
      );
    let result;
    try {
      result = await searchHistory({
        dir,
        query: vector ? { vector } : { text: req.text! },
        encoders,
        top: req.top,
        pack,
        ...(since !== undefined ? { sinceWallMs: since } : {}),
        ...(until !== undefined ? { untilWallMs: until } : {}),
        ...(req.sensors ? { sensors: req.sensors } : {}),
        ...(req.modalities ? { modalities: req.modalities } : {}),
        ...(req.minScore !== undefined ? { minScore: req.minScore } : {}),
        yieldEvery: this.deps.chunkBytes !== undefined ? { chunkBytes: this.deps.chunkBytes } : {},
      });
    } catch (err) {
      if (err instanceof HistoryError && err.code === 'HISTORY_UNREADABLE')
        throw new RequestError('HISTORY_UNREADABLE', err.message, [{ path: '$', message: err.message }], {
          cause: err,
        });
      const message = `history search failed: ${(err as Error).message}`;
      throw new RequestError('HISTORY_SEARCH_FAILED', message, [{ path: '$', message }], { cause: err });
    }
    const { stats } = result;
    this.deps.logger.info(
      {
        moments: result.moments.length,
        windows: stats.windows,
        ms: stats.ms,
        longestSliceMs: stats.longestSliceMs,
      },
      `history/search: ${stats.windows} windows in ${stats.segments} segments, ${result.moments.length} moments, ${stats.ms} ms`,
    );
    return {
      data: {
        query:
          req.text !== undefined
            ? { text: req.text }
            : { example: { modality: req.example!.modality ?? proto!.modality, dim: vector!.length } },
        pack,
        since: since === undefined ? null : new Date(since).toISOString(),
        until: until === undefined ? null : new Date(until).toISOString(),
        moments: result.moments.map(momentRecord),
        stats: {
          windows: stats.windows,
          segments: stats.segments,
          skippedSegments: stats.skippedSegments,
          damaged: stats.damaged,
          bytes: stats.bytes,
          ms: stats.ms,
          longestSliceMs: stats.longestSliceMs ?? 0,
          problems: stats.problems,
        },
      },
    };
  }

  private time(
    value: string | undefined,
    path: string,
    now: number,
    problems: Problem[],
  ): number | undefined {
    if (value === undefined) return undefined;
    const t = parseWhen(value, now);
    if (t === undefined)
      problems.push({
        path,
        message: `expected a duration such as 24h, 30m, 90s, 2d or an ISO 8601 time, got ${JSON.stringify(value.slice(0, 40))}`,
      });
    return t;
  }

  /** The embedding dimension of the newest segment, or undefined while there is none. */
  private historyDim(dir: string): number | undefined {
    let newest;
    try {
      newest = listSegments(dir).at(-1);
    } catch {
      return undefined; // the search itself reports an unreadable history
    }
    if (!newest) return undefined;
    const header = readSegmentHeader(newest.path);
    return typeof header === 'string' ? undefined : header.dim;
  }
}

/** The example's float32 values (base64 or a prototype's vector), or undefined for a text query. */
function exampleVector(req: HistorySearchRequest): Float32Array | undefined {
  const b64 = req.example?.base64 ?? req.example?.prototype?.vector;
  if (b64 === undefined) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  const v = new Float32Array(bytes.length / 4);
  for (let i = 0; i < v.length; i++) v[i] = bytes.readFloatLE(i * 4);
  return v;
}
