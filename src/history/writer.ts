/**
 * The history writer (issue #18): every window's embedding goes into the segment files of
 * history/format.ts, off the encode path.
 *
 * `push()` is all the pipeline calls: it quantises the embedding into a ring of records allocated
 * once and returns; when the ring is full (the disk stalls, or is full) the window is dropped and
 * counted, so the pipeline never waits for history. A timer writes the ring out with asynchronous
 * writes (libuv's thread pool, never the event loop) once a second and fdatasyncs every few
 * writes, so a `kill -9` loses the windows of the last second and a power loss those since the
 * last sync; a torn tail is skipped by readers (format.ts).
 *
 * A write that fails (ENOSPC on a full disk, EIO) truncates the segment back to its last whole
 * record, keeps the records in the ring, sets the state `degraded` with a `HistoryError` for
 * health, and is retried after `retryMs`; detection never sees it. Retention deletes whole
 * segments: older than `maxAgeS`, or the oldest while the history takes more than `maxBytes`.
 */
import {
  closeSync,
  fdatasync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  statSync,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { HistoryError } from '../errors.js';
import type { SensorModality, Window } from '../pipeline/types.js';
import {
  encodeHeader,
  encodeRecord,
  HEADER_BYTES,
  MODALITY_INDEX,
  recordBytesFor,
  sealRecord,
  segmentName,
  segmentStartMs,
  type SegmentHeader,
} from './format.js';

/** The asynchronous calls the writer makes for records; tests inject a full disk through it. */
export interface HistoryFiles {
  write(fd: number, data: Uint8Array, offset: number, length: number): Promise<number>;
  datasync(fd: number): Promise<void>;
}

export const nodeHistoryFiles: HistoryFiles = {
  write: (fd, data, offset, length) =>
    new Promise((resolve, reject) =>
      write(fd, data, offset, length, null, (err, n) => (err ? reject(err) : resolve(n))),
    ),
  datasync: (fd) => new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
};

export interface HistoryWriterOptions {
  /** The history directory (`<stateDir>/devices/<deviceId>/history`); created if missing. */
  dir: string;
  deviceId: string;
  /** Embedding length; default: the first pushed embedding's (the ring is allocated then, once). */
  dim?: number;
  pack: { id: string; version: string; dir?: string };
  sensors: readonly { id: string; modality: SensorModality }[];
  maxAgeS: number;
  maxBytes: number;
  /** Records the ring holds (windows waiting to be written); beyond that they are dropped. Default 1024. */
  queueWindows?: number;
  /** Milliseconds between writes of the ring. Default 1000. */
  flushIntervalMs?: number;
  /** fdatasync every this many writes. Default 5. */
  syncEveryFlushes?: number;
  /** Milliseconds before a failed write is tried again. Default 10000. */
  retryMs?: number;
  /** Wall clock, Unix epoch milliseconds (retention, retries). Default Date.now. */
  now?: () => number;
  files?: HistoryFiles;
  logger: Logger;
}

/** What `health` shows of the history (mqtt/payloads.ts `HistoryHealthSchema`). */
export interface HistoryStats {
  state: 'ok' | 'degraded';
  /** Error code and message of the failing write while degraded. */
  code?: string;
  reason?: string;
  /** Windows written to disk since start. */
  written: number;
  /** Windows dropped because the ring was full (disk stalled or failing). */
  dropped: number;
  /** Windows waiting in the ring. */
  queued: number;
  /** Bytes of every segment file, as of the last retention pass. */
  bytes: number;
  segments: number;
}

interface OpenSegment {
  readonly path: string;
  readonly fd: number;
  readonly hour: number;
  /** Bytes known to be whole in the file (header + whole records). */
  size: number;
}

const HOUR_MS = 3600_000;

export class HistoryWriter {
  private readonly o: HistoryWriterOptions;
  private readonly files: HistoryFiles;
  private readonly now: () => number;
  private dim = 0;
  private recordBytes = 0;
  private readonly capacity: number;
  private ring = Buffer.alloc(0);
  private view = new DataView(new ArrayBuffer(0));
  private ringI8 = new Int8Array(0);
  private readonly sensorIndex = new Map<string, number>();
  /** Segments beyond this size are closed early, so that retention by size has some grain. */
  private segmentMaxBytes = 0;
  private tail = 0;
  private count = 0;
  private written = 0;
  private dropped = 0;
  private flushes = 0;
  private segment: OpenSegment | undefined;
  private failure: HistoryError | undefined;
  private retryAt = 0;
  private bytes = 0;
  private segments = 0;
  private lastRetention = Number.NEGATIVE_INFINITY;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(o: HistoryWriterOptions) {
    if (o.dim !== undefined && (!Number.isInteger(o.dim) || o.dim < 1))
      throw new TypeError(`HistoryWriter: dim must be ≥ 1, got ${o.dim}`);
    this.o = o;
    this.files = o.files ?? nodeHistoryFiles;
    this.now = o.now ?? Date.now;
    this.capacity = Math.max(1, o.queueWindows ?? 1024);
    if (o.dim !== undefined) this.allocate(o.dim);
    o.sensors.forEach((s, i) => this.sensorIndex.set(s.id, i));
    mkdirSync(o.dir, { recursive: true });
    this.retain();
  }

  private allocate(dim: number): void {
    this.dim = dim;
    this.recordBytes = recordBytesFor(dim);
    this.ring = Buffer.alloc(this.capacity * this.recordBytes);
    this.view = new DataView(this.ring.buffer, this.ring.byteOffset, this.ring.byteLength);
    this.ringI8 = new Int8Array(this.ring.buffer, this.ring.byteOffset, this.ring.byteLength);
    this.segmentMaxBytes = Math.max(HEADER_BYTES + this.recordBytes, Math.floor(this.o.maxBytes / 16));
  }

  /** Writes the ring out every `flushIntervalMs` until `close()`. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.flush(), this.o.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /**
   * Queues one window's embedding; false when it was dropped (ring full, unknown sensor, another
   * dimension, or closed). Allocates nothing.
   */
  push(w: Window, vector: Float32Array): boolean {
    const sensor = this.sensorIndex.get(w.sensorId);
    if (this.dim === 0 && vector.length > 0) this.allocate(vector.length);
    if (this.closed || sensor === undefined || vector.length !== this.dim || this.count === this.capacity) {
      this.dropped++;
      return false;
    }
    const slot = (this.tail + this.count) % this.capacity;
    encodeRecord(
      this.view,
      this.ringI8,
      slot * this.recordBytes,
      {
        startWallMs: w.startWallMs,
        durationMs: w.endWallMs - w.startWallMs,
        sensorIndex: sensor,
        modalityIndex: MODALITY_INDEX[w.modality],
      },
      vector,
    );
    this.count++;
    return true;
  }

  stats(): HistoryStats {
    return {
      state: this.failure ? 'degraded' : 'ok',
      ...(this.failure ? { code: this.failure.code, reason: this.failure.message } : {}),
      written: this.written,
      dropped: this.dropped,
      queued: this.count,
      bytes: this.bytes,
      segments: this.segments,
    };
  }

  /** Writes what the ring holds now (one write at a time; a second call waits for the first). */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Writes the ring out, syncs, closes the segment. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    this.retryAt = 0;
    await this.flush();
    this.closed = true;
    const seg = this.segment;
    this.segment = undefined;
    if (seg) {
      await this.files.datasync(seg.fd).catch(() => undefined);
      closeSync(seg.fd);
    }
  }

  private async flushOnce(): Promise<void> {
    if (this.count === 0 || this.closed) return;
    const now = this.now();
    if (this.failure && now < this.retryAt) return;
    if (now - this.lastRetention >= 60_000) this.retain();
    try {
      while (this.count > 0) {
        // A contiguous run of the ring, within one hour of window time and one segment.
        const first = this.tail * this.recordBytes;
        const hour = Math.floor(this.view.getFloat64(first + 8, true) / HOUR_MS);
        const seg = this.segmentFor(hour);
        let n = Math.min(this.count, this.capacity - this.tail);
        const room = Math.max(1, Math.floor((this.segmentMaxBytes - seg.size) / this.recordBytes));
        n = Math.min(n, room);
        for (let i = 1; i < n; i++) {
          const t = this.view.getFloat64(first + i * this.recordBytes + 8, true);
          if (Math.floor(t / HOUR_MS) !== hour) {
            n = i;
            break;
          }
        }
        for (let i = 0; i < n; i++) sealRecord(this.ring, first + i * this.recordBytes, this.recordBytes);
        const { records, err } = await this.writeRecords(seg, first, n);
        seg.size += records * this.recordBytes;
        this.bytes += records * this.recordBytes;
        this.written += records;
        this.tail = (this.tail + records) % this.capacity;
        this.count -= records;
        if (err) throw err;
        if (seg.size >= this.segmentMaxBytes) this.closeSegment();
      }
      if (++this.flushes % (this.o.syncEveryFlushes ?? 5) === 0 && this.segment)
        await this.files.datasync(this.segment.fd);
      if (this.failure) {
        this.o.logger.info({ dropped: this.dropped }, 'history: writing again');
        this.failure = undefined;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Writes n records from `offset` of the ring; the records that reached the file whole, and the
   * error that stopped the rest. A short write before a failure (a disk filling up) keeps the
   * whole records it wrote and cuts the file back to them.
   */
  private async writeRecords(
    seg: OpenSegment,
    offset: number,
    n: number,
  ): Promise<{ records: number; err?: Error }> {
    const length = n * this.recordBytes;
    let done = 0;
    try {
      while (done < length) done += await this.files.write(seg.fd, this.ring, offset + done, length - done);
      return { records: n };
    } catch (err) {
      const records = Math.floor(done / this.recordBytes);
      if (done > records * this.recordBytes) {
        try {
          // ftruncate needs no new blocks, so it works on a full disk.
          ftruncateSync(seg.fd, seg.size + records * this.recordBytes);
        } catch {
          // Readers skip a torn tail anyway (format.ts).
        }
      }
      return { records, err: err as Error };
    }
  }

  private fail(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    const full = e.code === 'ENOSPC' || e.code === 'EDQUOT';
    const file = this.segment?.path ?? this.o.dir;
    const failure = new HistoryError(
      full ? 'HISTORY_DISK_FULL' : 'HISTORY_WRITE_FAILED',
      file,
      `history: cannot write ${file}: ${e.message}; detection goes on, windows are dropped while this lasts`,
      err,
    );
    if (!this.failure || this.failure.code !== failure.code)
      this.o.logger.warn({ err: e, code: failure.code }, failure.message);
    this.failure = failure;
    this.retryAt = this.now() + (this.o.retryMs ?? 10_000);
    // A segment whose write failed is left as it is; the retry starts a new one.
    this.closeSegment();
  }

  private segmentFor(hour: number): OpenSegment {
    if (this.segment && this.segment.hour === hour && this.segment.size < this.segmentMaxBytes)
      return this.segment;
    this.closeSegment();
    const startMs = this.view.getFloat64(this.tail * this.recordBytes + 8, true);
    let path = join(this.o.dir, segmentName(startMs, process.pid));
    for (let k = 1; existsQuiet(path); k++) path = join(this.o.dir, segmentName(startMs + k, process.pid));
    const header: SegmentHeader = {
      format: 1,
      encoding: 'int8',
      dim: this.dim,
      recordBytes: this.recordBytes,
      deviceId: this.o.deviceId,
      pack: this.o.pack,
      sensors: this.o.sensors.map((s) => ({ id: s.id, modality: s.modality })),
      createdWallMs: this.now(),
    };
    // The header is written synchronously once per segment (hourly): a file that exists always
    // has its whole header, or is empty (readers skip it).
    const fd = openSync(path, 'wx', 0o600);
    try {
      const h = encodeHeader(header);
      let off = 0;
      while (off < h.length) off += writeSync(fd, h, off, h.length - off);
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // nothing to clean
      }
      throw err;
    }
    this.segment = { path, fd, hour, size: HEADER_BYTES };
    this.bytes += HEADER_BYTES;
    this.segments++;
    return this.segment;
  }

  private closeSegment(): void {
    const seg = this.segment;
    this.segment = undefined;
    if (!seg) return;
    // The last writes are synced by the close; an error here loses at most those.
    fdatasync(seg.fd, () => closeSync(seg.fd));
  }

  /** Deletes segments older than maxAgeS, then the oldest while over maxBytes; never the open one. */
  private retain(): void {
    this.lastRetention = this.now();
    let names: string[];
    try {
      names = readdirSync(this.o.dir)
        .filter((n) => segmentStartMs(n) !== undefined)
        .sort();
    } catch {
      return;
    }
    const sizes = names.map((n) => {
      try {
        return statSync(join(this.o.dir, n)).size;
      } catch {
        return 0;
      }
    });
    let total = sizes.reduce((a, b) => a + b, 0);
    const cutoff = this.now() - this.o.maxAgeS * 1000;
    let kept = names.length;
    for (let i = 0; i < names.length; i++) {
      const path = join(this.o.dir, names[i]!);
      if (path === this.segment?.path) break;
      // A segment ends where the next begins: it is wholly older than the cutoff when the next
      // one starts before it (the newest closed one is kept until then).
      const nextStart = i + 1 < names.length ? segmentStartMs(names[i + 1]!)! : Number.POSITIVE_INFINITY;
      const expired = nextStart < cutoff;
      if (!expired && total <= this.o.maxBytes) break;
      try {
        unlinkSync(path);
        total -= sizes[i]!;
        kept--;
      } catch (err) {
        this.o.logger.warn({ err }, `history: cannot delete ${path}: ${(err as Error).message}`);
        break;
      }
    }
    this.bytes = total;
    this.segments = kept;
  }
}

function existsQuiet(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
