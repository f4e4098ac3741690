/**
 * Event clips (issue #18): the raw sensor data around each event, written off the event path.
 *
 * Every frame of every sensor is copied into that sensor's ring (clips/ring.ts), which holds
 * `maxClipS + slackS` seconds: enough for the pre-roll, for the longest clip, and for the
 * pipeline's lag (an event's start and end are known only once its windows are embedded, seconds
 * after their samples arrived). Overlapping clips share the rings, so nothing is allocated while
 * recording, whatever the number of events.
 *
 * An event's `start` opens a clip from `preRollS` before its start; its `end` closes it at
 * `postRollS` after its end, or at `maxClipS` from the clip's start if that comes first (the clip is
 * then written at once, marked truncated, and its event.json gets the end message when it comes).
 * A clip holds every sensor, not only those whose windows matched: an event's sensors are known
 * only as it goes on, and the others show what the room was doing meanwhile. Once every sensor
 * that still delivers has reached the clip's end, its spans are copied out of the rings and
 * queued; one write at a time encodes and writes them (clips/media.ts) with asynchronous file
 * calls, event.json last. A write that fails (ENOSPC) removes the clip's directory, logs once,
 * counts and degrades `clips` on health; detection never waits for it.
 *
 * Retention, after every write: clips of events older than `maxAgeS`, then the oldest while the
 * clips take more than `maxBytes`.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ClipError } from '../errors.js';
import type { Clock } from '../pipeline/clock.js';
import type { Frame, SensorModality } from '../pipeline/types.js';
import { encodeWav, heatMapPng, heatRange, imuCsv, keyFrame, sheetFrames } from './media.js';
import { SampleRing, type RingSpan } from './ring.js';
import {
  clipInfo,
  listClips,
  MANIFEST_NAME,
  readManifest,
  type ClipEventMessage,
  type ClipInfo,
  type ClipManifest,
  type ManifestFile,
} from './store.js';

/** The asynchronous file calls the recorder makes; tests inject a full disk through them. */
export interface ClipFiles {
  mkdir(path: string): Promise<void>;
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** Removes a file or directory tree; no error if absent. */
  rm(path: string): Promise<void>;
}

export const nodeClipFiles: ClipFiles = {
  mkdir: async (path) => void (await mkdir(path, { recursive: true, mode: 0o700 })),
  writeFile: (path, data) => writeFile(path, data, { mode: 0o600 }),
  rename: (from, to) => rename(from, to),
  rm: (path) => rm(path, { recursive: true, force: true }),
};

export interface ClipRecorderOptions {
  /** The clips directory (store.ts `clipsDir`); created if missing. */
  dir: string;
  sensors: readonly { id: string; modality: SensorModality }[];
  preRollS: number;
  postRollS: number;
  maxClipS: number;
  maxAgeS: number;
  maxBytes: number;
  /** The pipeline's clock: frame times → wall times, as events' times are made. */
  clock: Clock;
  /** Wall clock, Unix epoch ms (retention, quiet sensors). Default Date.now. */
  now?: () => number;
  files?: ClipFiles;
  logger: Logger;
  /** Called with each clip once written (AgentDeps.onClip). */
  onClip?: (info: ClipInfo, dir: string) => void;
  /** Seconds the rings hold beyond maxClipS, for the pipeline's lag. Default 15. */
  slackS?: number;
  /** A sensor with no frame for this long (ms, wall clock) is not waited for. Default 5000. */
  quietMs?: number;
  /** Clips waiting to be written; beyond that a clip is dropped and counted. Default 4. */
  queueClips?: number;
}

/** What `health` shows of the clips (mqtt/payloads.ts `ClipsHealthSchema`). */
export interface ClipStats {
  state: 'ok' | 'degraded';
  /** Error code and message of the failing write while degraded. */
  code?: string;
  reason?: string;
  /** Clips written since start. */
  written: number;
  /** Clips whose write failed (disk full, IO error). */
  failed: number;
  /** Clips dropped because too many waited to be written. */
  dropped: number;
  /** Events being recorded now. */
  recording: number;
  /** Bytes and number of clips on disk, as of the last retention pass. */
  bytes: number;
  clips: number;
}

type EventMessage = ClipEventMessage & { readonly type: 'start' | 'update' | 'end' };

interface OpenClip {
  start: EventMessage;
  end: EventMessage | null;
  eventStartWallMs: number;
  fromWallMs: number;
  /** Where the clip ends: the cap until the event's end is known. */
  toWallMs: number;
}

type Job =
  | { kind: 'clip'; clip: OpenClip; truncated: boolean; spans: (RingSpan | undefined)[] }
  | { kind: 'end'; manifest: ClipManifest };

interface SensorTap {
  id: string;
  modality: SensorModality;
  ring: SampleRing;
  lastFrameAt: number;
}

export class ClipRecorder {
  private readonly o: ClipRecorderOptions;
  private readonly files: ClipFiles;
  private readonly now: () => number;
  private readonly taps = new Map<string, SensorTap>();
  private readonly tapList: SensorTap[] = [];
  private readonly open: OpenClip[] = [];
  /** Truncated clips on disk whose event has not ended yet: their manifests, for the end message. */
  private readonly awaitingEnd = new Map<string, ClipManifest>();
  private readonly queue: Job[] = [];
  private writing: Promise<void> | undefined;
  private failure: ClipError | undefined;
  private written = 0;
  private failed = 0;
  private dropped = 0;
  private bytes = 0;
  private clips = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(o: ClipRecorderOptions) {
    if (!(o.preRollS >= 0 && o.postRollS >= 0 && o.maxClipS > o.preRollS))
      throw new TypeError(
        `ClipRecorder: need preRollS, postRollS ≥ 0 and maxClipS > preRollS, got ${o.preRollS}, ${o.postRollS}, ${o.maxClipS}`,
      );
    this.o = o;
    this.files = o.files ?? nodeClipFiles;
    this.now = o.now ?? Date.now;
    const seconds = o.maxClipS + (o.slackS ?? 15);
    for (const s of o.sensors) {
      const tap = { id: s.id, modality: s.modality, ring: new SampleRing(seconds), lastFrameAt: 0 };
      this.taps.set(s.id, tap);
      this.tapList.push(tap);
    }
  }

  /** Creates the directory, removes clips a crash left half-written, applies retention; then polls once a second for clips whose sensors went quiet. */
  async start(): Promise<void> {
    await this.files.mkdir(this.o.dir);
    try {
      for (const name of await readdir(this.o.dir)) {
        if (!(await readManifest(this.o.dir, name))) await this.files.rm(join(this.o.dir, name));
      }
    } catch (err) {
      this.o.logger.warn({ err }, `clips: cannot clean ${this.o.dir}: ${(err as Error).message}`);
    }
    await this.retain();
    if (this.closed) return;
    this.timer = setInterval(() => this.poll(), 1000);
    this.timer.unref();
  }

  /** Copies one frame into its sensor's ring: the hot path, allocates nothing. */
  frame(f: Frame): void {
    const tap = this.taps.get(f.sensorId);
    if (!tap || this.closed) return;
    tap.ring.push(f, this.o.clock.toWallMs(f.tMs));
    tap.lastFrameAt = this.now();
    if (this.open.length > 0) this.poll();
  }

  /** An event message as published: `start` opens a clip, `end` sets where it ends. */
  event(msg: EventMessage): void {
    if (this.closed) return;
    if (msg.type === 'start') {
      const eventStartWallMs = Date.parse(msg.startTime);
      if (!Number.isFinite(eventStartWallMs)) return;
      const fromWallMs = eventStartWallMs - this.o.preRollS * 1000;
      this.open.push({
        start: msg,
        end: null,
        eventStartWallMs,
        fromWallMs,
        toWallMs: fromWallMs + this.o.maxClipS * 1000,
      });
      return;
    }
    if (msg.type !== 'end') return;
    const clip = this.open.find((c) => c.start.id === msg.id);
    if (clip) {
      clip.end = msg;
      const endWallMs = Date.parse(msg.endTime ?? '');
      if (Number.isFinite(endWallMs))
        clip.toWallMs = Math.min(clip.toWallMs, endWallMs + this.o.postRollS * 1000);
      this.poll();
      return;
    }
    const manifest = this.awaitingEnd.get(msg.id);
    if (manifest) {
      this.awaitingEnd.delete(msg.id);
      this.enqueue({ kind: 'end', manifest: { ...manifest, end: msg } });
    }
  }

  stats(): ClipStats {
    return {
      state: this.failure ? 'degraded' : 'ok',
      ...(this.failure ? { code: this.failure.code, reason: this.failure.message } : {}),
      written: this.written,
      failed: this.failed,
      dropped: this.dropped,
      recording: this.open.length,
      bytes: this.bytes,
      clips: this.clips,
    };
  }

  /** Resolves once every clip finished so far is written (or has failed). */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Writes every open clip with what the rings hold, and waits for the writes. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const clip of this.open.splice(0)) this.finish(clip);
    this.closed = true;
    while (this.writing) await this.writing;
  }

  /** Finishes the clips every sensor still delivering has recorded to the end of. */
  private poll(): void {
    const now = this.now();
    const quietMs = this.o.quietMs ?? 5000;
    let reached = Number.POSITIVE_INFINITY; // the least newest time over live sensors
    for (const tap of this.tapList) {
      const newest = tap.ring.newestWallMs;
      if (Number.isNaN(newest) || now - tap.lastFrameAt > quietMs) continue;
      if (newest < reached) reached = newest;
    }
    for (let i = 0; i < this.open.length;) {
      const clip = this.open[i]!;
      // Every sensor quiet (reached = ∞): nothing more will come, write what there is.
      if (clip.toWallMs <= reached) {
        this.open.splice(i, 1);
        this.finish(clip);
      } else i++;
    }
  }

  private finish(clip: OpenClip): void {
    const spans = this.tapList.map((t) => t.ring.copy(clip.fromWallMs, clip.toWallMs));
    this.enqueue({ kind: 'clip', clip, truncated: clip.end === null, spans });
  }

  private enqueue(job: Job): void {
    if (
      job.kind === 'clip' &&
      this.queue.filter((j) => j.kind === 'clip').length >= (this.o.queueClips ?? 4)
    ) {
      this.dropped++;
      this.o.logger.warn(
        { event: job.clip.start.id, dropped: this.dropped },
        `clips: too many clips waiting to be written; dropped the clip of event ${job.clip.start.id}`,
      );
      return;
    }
    this.queue.push(job);
    this.writing ??= this.drain().finally(() => (this.writing = undefined));
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      if (job.kind === 'end') await this.writeEnd(job.manifest);
      else await this.writeClip(job.clip, job.truncated, job.spans);
    }
  }

  private async writeClip(
    clip: OpenClip,
    truncated: boolean,
    spans: (RingSpan | undefined)[],
  ): Promise<void> {
    const id = clip.start.id;
    const dir = join(this.o.dir, id);
    try {
      await this.files.mkdir(dir);
      const files: ManifestFile[] = [];
      for (let k = 0; k < this.tapList.length; k++) {
        const span = spans[k];
        if (!span) continue;
        for (const out of this.media(this.tapList[k]!, span, clip)) {
          await this.files.writeFile(join(dir, out.meta.name), out.data);
          files.push(out.meta);
        }
      }
      const manifest: ClipManifest = {
        format: 1,
        eventId: id,
        label: clip.start.label,
        clipFrom: new Date(clip.fromWallMs).toISOString(),
        clipTo: new Date(clip.toWallMs).toISOString(),
        truncated,
        start: clip.start,
        end: clip.end,
        files,
      };
      await this.writeManifest(dir, manifest);
      if (truncated) this.awaitingEnd.set(id, manifest);
      this.written++;
      this.recovered();
      await this.retain();
      const info = await clipInfo(this.o.dir, manifest);
      try {
        this.o.onClip?.(info, this.o.dir);
      } catch (err) {
        this.o.logger.warn({ err }, `clips: onClip failed: ${(err as Error).message}`);
      }
    } catch (err) {
      this.failed++;
      await this.files.rm(dir).catch(() => undefined);
      this.fail(err, dir);
    }
  }

  private async writeEnd(manifest: ClipManifest): Promise<void> {
    const dir = join(this.o.dir, manifest.eventId);
    if (!(await readManifest(this.o.dir, manifest.eventId))) return; // retention took it meanwhile
    try {
      await this.writeManifest(dir, manifest);
    } catch (err) {
      this.fail(err, dir);
    }
  }

  /** event.json goes in by rename: readers see a whole manifest or none. */
  private async writeManifest(dir: string, manifest: ClipManifest): Promise<void> {
    const tmp = join(dir, `.${MANIFEST_NAME}.tmp`);
    await this.files.writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await this.files.rename(tmp, join(dir, MANIFEST_NAME));
  }

  /** The files of one sensor's span. */
  private *media(
    tap: SensorTap,
    span: RingSpan,
    clip: OpenClip,
  ): Generator<{ meta: ManifestFile; data: Uint8Array | string }> {
    const periodMs = 1000 / span.rateHz;
    const base = {
      sensorId: tap.id,
      modality: tap.modality,
      from: new Date(span.fromWallMs).toISOString(),
      to: new Date(span.fromWallMs + span.samples * periodMs).toISOString(),
    };
    if (tap.modality === 'audio') {
      yield {
        meta: {
          name: `${tap.id}.wav`,
          mediaType: 'audio/wav',
          ...base,
          samples: span.samples,
          rateHz: span.rateHz,
        },
        data: encodeWav(span),
      };
    } else if (tap.modality === 'imu') {
      yield {
        meta: {
          name: `${tap.id}.csv`,
          mediaType: 'text/csv',
          ...base,
          samples: span.samples,
          rateHz: span.rateHz,
        },
        data: imuCsv(span, clip.eventStartWallMs),
      };
    } else {
      const modality = tap.modality;
      const range = heatRange(span, modality);
      const endWallMs = clip.end?.endTime ? Date.parse(clip.end.endTime) : clip.toWallMs;
      const key = keyFrame(span, clip.eventStartWallMs, endWallMs);
      const at = (f: number) => new Date(span.fromWallMs + f * periodMs).toISOString();
      const text = (frames: string) => ({
        Software: 'edgebind',
        Description: `${modality} ${tap.id}, event ${clip.start.id} (${clip.start.label}): ${frames}; inferno from ${range.min} to ${range.max} ${range.unit}`,
        Range: `${range.min} ${range.max} ${range.unit}`,
      });
      const keyNote = `key frame at ${at(key)}`;
      yield {
        meta: { name: `${tap.id}.png`, mediaType: 'image/png', ...base, range, frames: keyNote },
        data: heatMapPng(span, [key], { range, modality, tilePx: 320, columns: 1, text: text(keyNote) }),
      };
      const sheet = sheetFrames(span.samples);
      if (sheet.length > 1) {
        const note = `${sheet.length} of ${span.samples} frames, ${at(sheet[0]!)} to ${at(sheet.at(-1)!)}, left to right, top to bottom`;
        yield {
          meta: { name: `${tap.id}-sheet.png`, mediaType: 'image/png', ...base, range, frames: note },
          data: heatMapPng(span, sheet, { range, modality, tilePx: 128, columns: 4, text: text(note) }),
        };
      }
    }
  }

  private fail(err: unknown, file: string): void {
    const e = err as NodeJS.ErrnoException;
    const full = e.code === 'ENOSPC' || e.code === 'EDQUOT';
    const failure = new ClipError(
      full ? 'CLIP_DISK_FULL' : 'CLIP_WRITE_FAILED',
      file,
      `clips: cannot write ${file}: ${e.message}; detection goes on, clips are lost while this lasts`,
      err,
    );
    if (!this.failure || this.failure.code !== failure.code)
      this.o.logger.warn({ err: e, code: failure.code, failed: this.failed }, failure.message);
    this.failure = failure;
  }

  private recovered(): void {
    if (!this.failure) return;
    this.o.logger.info({ failed: this.failed }, 'clips: writing again');
    this.failure = undefined;
  }

  /** Deletes clips of events older than maxAgeS, then the oldest while over maxBytes (the newest stays). */
  private async retain(): Promise<void> {
    let clips: ClipInfo[];
    try {
      clips = await listClips(this.o.dir);
    } catch {
      return;
    }
    const cutoff = this.now() - this.o.maxAgeS * 1000;
    let total = 0;
    let kept = 0;
    let over = false; // once one clip is over the budget, every older one goes too
    for (let i = 0; i < clips.length; i++) {
      const c = clips[i]!;
      over ||= i > 0 && total + c.bytes > this.o.maxBytes;
      if (over || Date.parse(c.start) < cutoff) {
        try {
          await this.files.rm(join(this.o.dir, c.eventId));
          this.awaitingEnd.delete(c.eventId);
          continue;
        } catch (err) {
          this.o.logger.warn({ err }, `clips: cannot delete ${c.eventId}: ${(err as Error).message}`);
        }
      }
      total += c.bytes;
      kept++;
    }
    this.bytes = total;
    this.clips = kept;
  }
}
