/**
 * The clip store (issue #18): what is on disk and how to read it. The clip writer
 * (clips/writer.ts) fills it; the CLI (`edgebind clips`) and the MQTT layer read it.
 *
 * Layout: `<deviceStateDir>/clips/<eventId>/` holds the media files and `event.json`, the
 * manifest. The writer renames `event.json` into place last, so a directory without one is a clip
 * still being written (or torn by a crash) and readers skip it. Readers only read: safe while the
 * agent runs.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipError } from '../errors.js';

export interface ClipFile {
  name: string;
  bytes: number;
  mediaType: string;
  sensorId?: string;
  modality?: string;
}

export interface ClipInfo {
  eventId: string;
  label: string;
  /** ISO 8601 wall times of the event (its start and end messages); end is null if it never ended. */
  start: string;
  end: string | null;
  /** `event.json` first, then the media files. */
  files: ClipFile[];
  /** Bytes of every file of the clip. */
  bytes: number;
}

/**
 * An event message as published on `events` (mqtt/payloads.ts EventPayload); only the fields the
 * store reads are named, since clips/ sits below mqtt/ (.dependency-cruiser.mjs).
 */
export type ClipEventMessage = {
  readonly id: string;
  readonly label: string;
  readonly startTime: string;
  readonly endTime: string | null;
} & Readonly<Record<string, unknown>>;

/** The manifest's file name. */
export const MANIFEST_NAME = 'event.json';

/** What a manifest says of one media file (bytes are read from the file itself). */
export interface ManifestFile {
  name: string;
  mediaType: string;
  sensorId?: string;
  modality?: string;
  /** Wall time of the file's first sample and its last (ISO 8601). */
  from?: string;
  to?: string;
  /** Heat maps: the value range the colour map spans (black → white of inferno), with its unit. */
  range?: { min: number; max: number; unit: string };
  /** Heat maps: which frame(s) the picture shows. */
  frames?: string;
  /** Audio and IMU: samples written, at `rateHz`. */
  samples?: number;
  rateHz?: number;
}

/** `event.json`: the event as published (start and end messages) and the files written for it. */
export interface ClipManifest {
  format: 1;
  eventId: string;
  label: string;
  /** Start of the clip's span (pre-roll) and its end (post-roll, or the cap), ISO 8601. */
  clipFrom: string;
  clipTo: string;
  /** The clip was cut at clips.maxClipS before the event ended. */
  truncated: boolean;
  start: ClipEventMessage;
  end: ClipEventMessage | null;
  files: ManifestFile[];
}

/** `<deviceStateDir>/clips`. */
export function clipsDir(deviceStateDir: string): string {
  return join(deviceStateDir, 'clips');
}

// A plain name: no separator, no leading dot (so neither `.` nor `..`), nothing unprintable.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Throws CLIP_NAME_INVALID unless `name` is a plain file or directory name. */
export function checkClipName(what: 'event id' | 'file name', name: string): void {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new ClipError(
      'CLIP_NAME_INVALID',
      String(name),
      `${what} ${JSON.stringify(name)} is not a plain name (letters, digits, '.', '_', '-', at most 128, not starting with '.')`,
    );
}

/** Reads a clip's manifest; undefined when it has none (being written) or it cannot be parsed. */
export async function readManifest(dir: string, eventId: string): Promise<ClipManifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, eventId, MANIFEST_NAME), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as ClipManifest;
    return m && m.format === 1 && m.eventId === eventId && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/** A clip's info from its manifest; files that are gone (deleted by hand) are left out. */
export async function clipInfo(dir: string, m: ClipManifest): Promise<ClipInfo> {
  const files: ClipFile[] = [];
  const manifestBytes = await sizeOf(join(dir, m.eventId, MANIFEST_NAME));
  files.push({ name: MANIFEST_NAME, bytes: manifestBytes ?? 0, mediaType: 'application/json' });
  for (const f of m.files) {
    if (!NAME.test(f.name)) continue;
    const bytes = await sizeOf(join(dir, m.eventId, f.name));
    if (bytes === undefined) continue;
    files.push({
      name: f.name,
      bytes,
      mediaType: f.mediaType,
      ...(f.sensorId !== undefined ? { sensorId: f.sensorId } : {}),
      ...(f.modality !== undefined ? { modality: f.modality } : {}),
    });
  }
  return {
    eventId: m.eventId,
    label: m.label,
    start: m.start.startTime,
    end: m.end?.endTime ?? null,
    files,
    bytes: files.reduce((a, f) => a + f.bytes, 0),
  };
}

/**
 * The clips in `dir` (clipsDir), newest first (by event start). `since`/`until` (Unix epoch ms)
 * bound the event's start; `label` keeps one label's; `limit` the first so many. A missing `dir`
 * is no clips.
 */
export async function listClips(
  dir: string,
  opts: { since?: number; until?: number; label?: string; limit?: number } = {},
): Promise<ClipInfo[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ClipError('CLIP_NOT_FOUND', dir, `cannot read ${dir}: ${(err as Error).message}`, err);
  }
  const found: { t: number; m: ClipManifest }[] = [];
  for (const name of names) {
    if (!NAME.test(name)) continue;
    const m = await readManifest(dir, name);
    if (!m) continue;
    const t = Date.parse(m.start.startTime);
    if (opts.since !== undefined && !(t >= opts.since)) continue;
    if (opts.until !== undefined && !(t <= opts.until)) continue;
    if (opts.label !== undefined && m.label !== opts.label) continue;
    found.push({ t, m });
  }
  // Newest first; ids (UUIDv7) break ties in time order too.
  found.sort((a, b) => b.t - a.t || (a.m.eventId < b.m.eventId ? 1 : -1));
  const kept = opts.limit !== undefined ? found.slice(0, Math.max(0, opts.limit)) : found;
  return Promise.all(kept.map(({ m }) => clipInfo(dir, m)));
}

/** One clip's info; CLIP_NOT_FOUND when there is no (finished) clip for the id. */
export async function getClip(dir: string, eventId: string): Promise<ClipInfo> {
  checkClipName('event id', eventId);
  const m = await readManifest(dir, eventId);
  if (!m) throw new ClipError('CLIP_NOT_FOUND', join(dir, eventId), `no clip for event ${eventId} in ${dir}`);
  return clipInfo(dir, m);
}

/**
 * The bytes of one file of a clip (`event.json` or a media file it lists). CLIP_NAME_INVALID for an
 * id or name that is not a plain name; CLIP_NOT_FOUND, CLIP_FILE_NOT_FOUND when absent.
 */
export async function readClipFile(dir: string, eventId: string, name: string): Promise<Buffer> {
  checkClipName('event id', eventId);
  checkClipName('file name', name);
  const m = await readManifest(dir, eventId);
  if (!m) throw new ClipError('CLIP_NOT_FOUND', join(dir, eventId), `no clip for event ${eventId} in ${dir}`);
  const path = join(dir, eventId, name);
  if (name !== MANIFEST_NAME && !m.files.some((f) => f.name === name))
    throw new ClipError(
      'CLIP_FILE_NOT_FOUND',
      path,
      `clip ${eventId} has no file ${name} (it has ${[MANIFEST_NAME, ...m.files.map((f) => f.name)].join(', ')})`,
    );
  try {
    return await readFile(path);
  } catch (err) {
    throw new ClipError('CLIP_FILE_NOT_FOUND', path, `cannot read ${path}: ${(err as Error).message}`, err);
  }
}
