/**
 * Event clips over MQTT (issue #18): the events/clip request behind the envelope (requests.ts
 * checks size, JSON, target, signature, replay and the schema first), and the picture Home
 * Assistant's image entity shows. Everything here reads the clip store (clips/store.ts) with
 * asynchronous file calls, off the event path; a clip is written once (event.json renamed in last)
 * and never changed, only deleted by retention, so a file read in chunks stays the same file.
 *
 * Sizes: an answer must fit in one MQTT message the broker accepts (mqtt.maxClipMessageBytes), so a
 * file goes in base64 chunks of at most chunkBytes() and a list stops at what fits (`more`).
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { checkClipName, getClip, listClips, type ClipFile, type ClipInfo } from '../clips/store.js';
import { ClipError, RequestError } from '../errors.js';
import { parseWhen } from '../history/when.js';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';
import type { EventsClipChunk, EventsClipList, EventsClipRequest } from './payloads.js';

/** Clips a list answers when the request names no limit. */
export const CLIPS_DEFAULT_LIMIT = 20;

/**
 * Bytes of an answer besides its base64 (or its clip list) that the service cannot see: the
 * transaction (256 characters, up to 6 bytes each once JSON-escaped), the device id, the status
 * and the keys around them.
 */
const ENVELOPE_RESERVE_BYTES = 256 * 6 + 64 + 256;

/** The operation the request router calls. */
export interface ClipOps {
  clip(req: EventsClipRequest): Promise<{ data: EventsClipList | EventsClipChunk }>;
}

export interface ClipRequestServiceDeps {
  /** clipsDir(deviceStateDir); undefined when clips.enabled is false (CLIPS_DISABLED). */
  dir: string | undefined;
  /** mqtt.maxClipMessageBytes. */
  maxMessageBytes: number;
  logger: Logger;
  now?: () => number;
}

/** Raw bytes per chunk that fit, as base64 with the answer around it, in `maxMessageBytes`. */
export function chunkBytes(maxMessageBytes: number, chunk: Omit<EventsClipChunk, 'base64'>): number {
  const around = Buffer.byteLength(
    JSON.stringify({ status: 'ok', data: { ...chunk, base64: '' }, transaction: '', deviceId: '' }),
  );
  const room = maxMessageBytes - around - ENVELOPE_RESERVE_BYTES;
  // 3 raw bytes are 4 of base64.
  return Math.max(3, Math.floor(room / 4) * 3);
}

export class ClipRequestService implements ClipOps {
  private readonly now: () => number;
  /** SHA-256 of files already hashed (clips never change), by path and size; a few only. */
  private readonly hashes = new Map<string, string>();

  constructor(private readonly deps: ClipRequestServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async clip(req: EventsClipRequest): Promise<{ data: EventsClipList | EventsClipChunk }> {
    const dir = this.deps.dir;
    if (dir === undefined)
      throw new RequestError('CLIPS_DISABLED', 'this device keeps no clips (clips.enabled is false)', [
        { path: '$', message: 'clips.enabled is false in the agent config' },
      ]);
    try {
      if (req.file !== undefined && req.eventId !== undefined)
        return { data: await this.chunk(dir, req.eventId, req.file, req.offset ?? 0, req.length) };
      if (req.eventId !== undefined) return { data: this.fit([await getClip(dir, req.eventId)], false) };
      try {
        return { data: await this.list(dir, req) };
      } catch (err) {
        // The only store error a listing has: the clips directory cannot be read.
        if (err instanceof ClipError)
          throw new RequestError('CLIP_UNREADABLE', err.message, [{ path: '$', message: err.message }], {
            cause: err,
          });
        throw err;
      }
    } catch (err) {
      throw asRequestError(err);
    }
  }

  private async list(dir: string, req: EventsClipRequest): Promise<EventsClipList> {
    const now = this.now();
    const problems: { path: string; message: string }[] = [];
    const time = (v: string | undefined, path: string) => {
      if (v === undefined) return undefined;
      const t = parseWhen(v, now);
      if (t === undefined) problems.push({ path, message: `cannot read "${v}" as a time` });
      return t;
    };
    const since = time(req.since, '$.since');
    const until = time(req.until, '$.until');
    if (since !== undefined && until !== undefined && until < since)
      problems.push({ path: '$.until', message: 'is before since' });
    if (problems.length > 0)
      throw new RequestError(
        'REQUEST_INVALID',
        `invalid events/clip request: ${problems.length} problem(s)`,
        problems,
      );
    const limit = req.limit ?? CLIPS_DEFAULT_LIMIT;
    // One more than asked: whether there are more.
    const clips = await listClips(dir, {
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(req.label !== undefined ? { label: req.label } : {}),
      limit: limit + 1,
    });
    return this.fit(clips.slice(0, limit), clips.length > limit);
  }

  /** As many clips as fit in one message, newest first; `more` if any was left out. */
  private fit(clips: ClipInfo[], more: boolean): EventsClipList {
    const room = this.deps.maxMessageBytes - ENVELOPE_RESERVE_BYTES;
    const out: WireClip[] = [];
    let bytes = Buffer.byteLength(JSON.stringify({ status: 'ok', data: { clips: [], more: true } }));
    for (const c of clips) {
      const entry = wireClip(c);
      const b = Buffer.byteLength(JSON.stringify(entry)) + 1;
      if (bytes + b > room) return { clips: out, more: true };
      bytes += b;
      out.push(entry);
    }
    return { clips: out, more };
  }

  private async chunk(
    dir: string,
    eventId: string,
    name: string,
    offset: number,
    length: number | undefined,
  ): Promise<EventsClipChunk> {
    checkClipName('file name', name);
    const info = await getClip(dir, eventId);
    const file = info.files.find((f) => f.name === name);
    const path = join(dir, eventId, name);
    if (!file)
      throw new ClipError(
        'CLIP_FILE_NOT_FOUND',
        path,
        `clip ${eventId} has no file ${name} (it has ${info.files.map((f) => f.name).join(', ')})`,
      );
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new ClipError(
        'CLIP_FILE_NOT_FOUND',
        path,
        `cannot open ${name} of clip ${eventId}: ${(err as Error).message}`,
        err,
      );
    }
    try {
      const total = (await fh.stat()).size;
      if (offset > total)
        throw new RequestError(
          'CLIP_OFFSET_INVALID',
          `offset ${offset} is past the end of ${name} (${total} bytes)`,
          [{ path: '$.offset', message: `at most ${total}, the size of ${name}` }],
        );
      const head = {
        eventId,
        file: name,
        mediaType: file.mediaType,
        total,
        offset,
        length: 0,
        next: null,
        sha256: '',
      };
      // The widest numbers the answer may carry, so that the room computed holds for any chunk.
      const most = chunkBytes(this.deps.maxMessageBytes, {
        ...head,
        length: total,
        next: total,
        sha256: '0'.repeat(64),
      });
      const n = Math.min(total - offset, length ?? most, most);
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const end = offset + got;
      return {
        ...head,
        length: got,
        next: end < total ? end : null,
        sha256: await this.sha256(path, fh, total),
        base64: buf.subarray(0, got).toString('base64'),
      };
    } catch (err) {
      if (err instanceof RequestError) throw err;
      throw new ClipError(
        'CLIP_FILE_NOT_FOUND',
        path,
        `cannot read ${name} of clip ${eventId}: ${(err as Error).message}`,
        err,
      );
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  /** The whole file's SHA-256, read once per file (in 1 MiB reads) and then remembered. */
  private async sha256(path: string, fh: FileHandle, total: number): Promise<string> {
    const key = `${path}\u0000${total}`;
    const known = this.hashes.get(key);
    if (known !== undefined) return known;
    const hash = createHash('sha256');
    const buf = Buffer.alloc(Math.min(total, 1 << 20) || 1);
    for (let at = 0; at < total;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, total - at), at);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    const hex = hash.digest('hex');
    if (this.hashes.size >= 64) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(key, hex);
    return hex;
  }
}

type WireClip = EventsClipList['clips'][number];

/** A clip as the answer carries it (the store's info, fields in the schema's order). */
function wireClip(c: ClipInfo): WireClip {
  return {
    eventId: c.eventId,
    label: c.label,
    start: c.start,
    end: c.end,
    files: c.files.map((f) => ({
      name: f.name,
      bytes: f.bytes,
      mediaType: f.mediaType,
      ...(f.sensorId !== undefined ? { sensorId: f.sensorId } : {}),
      ...(isModality(f.modality) ? { modality: f.modality } : {}),
    })),
    bytes: c.bytes,
  };
}

const isModality = (m: string | undefined): m is SensorModality =>
  (SENSOR_MODALITIES as readonly (string | undefined)[]).includes(m);

/** The store's errors as the answer carries them: the same code, the field it is about. */
function asRequestError(err: unknown): unknown {
  if (!(err instanceof ClipError)) return err;
  switch (err.code) {
    case 'CLIP_NOT_FOUND':
      return new RequestError(
        'CLIP_NOT_FOUND',
        err.message,
        [
          {
            path: '$.eventId',
            message: 'no clip for this event id (none kept, deleted by retention, or still being written)',
          },
        ],
        { cause: err },
      );
    case 'CLIP_FILE_NOT_FOUND':
      return new RequestError(
        'CLIP_FILE_NOT_FOUND',
        err.message,
        [{ path: '$.file', message: err.message }],
        { cause: err },
      );
    case 'CLIP_NAME_INVALID':
      return new RequestError(
        'CLIP_NAME_INVALID',
        err.message,
        [{ path: err.message.startsWith('event id') ? '$.eventId' : '$.file', message: err.message }],
        { cause: err },
      );
    default:
      return new RequestError('CLIP_UNREADABLE', err.message, [{ path: '$', message: err.message }], {
        cause: err,
      });
  }
}

/**
 * The picture of a clip for Home Assistant: a PNG of a thermal sensor, else of a depth one, else
 * any PNG, the key frame (`<sensorId>.png`) before a contact sheet (`<sensorId>-sheet.png`), each
 * at most `maxBytes`.
 */
export function clipPicture(info: ClipInfo, maxBytes: number): ClipFile | undefined {
  const rank = (f: ClipFile) =>
    (f.modality === 'thermal' ? 0 : f.modality === 'depth' ? 2 : 4) + (/sheet/i.test(f.name) ? 1 : 0);
  return info.files
    .filter((f) => f.mediaType === 'image/png' && f.bytes > 0 && f.bytes <= maxBytes)
    .sort((a, b) => rank(a) - rank(b))[0];
}
