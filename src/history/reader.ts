/**
 * Reads the embedding history (issue #18) without writing anything: safe while an agent appends
 * to it. Every whole record of every segment is scored against one query vector with one kernel
 * (`dotInt8`), filtered by time, sensor and modality; the best windows are kept in a bounded
 * min-heap and merged into moments by history/moments.ts.
 *
 * A segment's tail that is not a whole record (an agent is writing it, or was killed mid-write) is
 * not read; a record with a wrong CRC-free field (zero-filled by a power loss) is skipped.
 */
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HistoryError } from '../errors.js';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';
import {
  decodeHeader,
  HEADER_BYTES,
  RECORD_META_BYTES,
  segmentStartMs,
  type SegmentHeader,
} from './format.js';
import { SegmentScorer } from './kernel.js';

export interface WindowQuery {
  /** Unit query vector; segments of another dimension (another pack) are skipped and counted. */
  vector: Float32Array;
  /** Only windows that end at or after this wall time (Unix epoch ms). */
  sinceWallMs?: number;
  /** Only windows that start before this wall time. */
  untilWallMs?: number;
  sensors?: readonly string[];
  modalities?: readonly SensorModality[];
  /** Best windows kept. */
  keep: number;
  /** Only segments written with this pack (others live in another space; skipped and named). */
  pack?: { id: string; version: string };
  /** `js` forces the JavaScript kernel (tests compare it with WebAssembly). */
  kernel?: 'auto' | 'js';
}

export interface WindowHit {
  /** Cosine of the window's (int8) embedding and the query. */
  score: number;
  startWallMs: number;
  endWallMs: number;
  sensorId: string;
  modality: SensorModality;
  pack: { id: string; version: string };
}

export interface ScanStats {
  /** Records scored. */
  windows: number;
  segments: number;
  /** Segments skipped: another dimension, or unreadable (each named in `problems`). */
  skippedSegments: number;
  /** Records skipped as damaged (zero-filled or torn). */
  damaged: number;
  /**
   * Per modality, the mean and standard deviation of the scores of every window scanned: what a
   * score is against its modality's usual (cosines of different modalities sit at different levels).
   */
  scoreStats: Partial<Record<SensorModality, { windows: number; mean: number; std: number }>>;
  /** Bytes read. */
  bytes: number;
  problems: string[];
  /**
   * scanHistoryAsync only: the longest time it held the event loop in one go (scoring one chunk),
   * milliseconds.
   */
  longestSliceMs?: number;
}

export interface SegmentInfo {
  name: string;
  path: string;
  startWallMs: number;
}

/** The segments of a history directory, oldest first; HistoryError when it does not exist. */
export function listSegments(dir: string): SegmentInfo[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new HistoryError(
      'HISTORY_UNREADABLE',
      dir,
      `no history at ${dir}: ${(err as Error).message} (is history.enabled off, or the state directory another?)`,
      err,
    );
  }
  return names
    .map((name) => ({ name, path: join(dir, name), startWallMs: segmentStartMs(name) }))
    .filter((s): s is SegmentInfo => s.startWallMs !== undefined)
    .sort((a, b) => a.startWallMs - b.startWallMs || a.name.localeCompare(b.name));
}

/** The header of one segment file, or a string saying why it cannot be read. */
export function readSegmentHeader(path: string): SegmentHeader | string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return (err as Error).message;
  }
  try {
    const buf = Buffer.alloc(HEADER_BYTES);
    const n = readSync(fd, buf, 0, HEADER_BYTES, 0);
    return decodeHeader(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** The best `keep` windows for `query` in the history at `dir`, best first. */
export function scanHistory(dir: string, query: WindowQuery): { hits: WindowHit[]; stats: ScanStats } {
  const scan = new HistoryScan(query);
  for (const seg of scan.segmentsOf(dir)) {
    let fd: number;
    try {
      fd = openSync(seg.path, 'r');
    } catch (err) {
      scan.openFailed(seg, err);
      continue;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < HEADER_BYTES) continue; // being created
      const head = scan.headerBuffer();
      scan.stats.bytes += readSync(fd, head, 0, HEADER_BYTES, 0);
      const buf = scan.begin(seg, head, size);
      if (!buf) continue;
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, HEADER_BYTES + got);
        if (n === 0) break;
        got += n;
      }
      scan.score(0, got);
    } finally {
      closeSync(fd);
    }
  }
  return scan.result();
}

/** Bytes read and scored between two turns of the event loop in `scanHistoryAsync`. */
export const SCAN_CHUNK_BYTES = 1 << 20;

/**
 * `scanHistory` for a process that must go on doing other work (the agent answering
 * history/search): files are read with asynchronous reads (libuv's thread pool) of at most
 * `chunkBytes`, and after each the event loop runs; only the scoring of one chunk (about 7,000
 * records at 128-d, 1,000 at 1024-d) runs between two turns. `signal` stops it between chunks.
 */
export async function scanHistoryAsync(
  dir: string,
  query: WindowQuery,
  options: { chunkBytes?: number; signal?: AbortSignal } = {},
): Promise<{ hits: WindowHit[]; stats: ScanStats }> {
  const scan = new HistoryScan(query);
  const chunkBytes = Math.max(1, options.chunkBytes ?? SCAN_CHUNK_BYTES);
  let longest = 0;
  for (const seg of scan.segmentsOf(dir)) {
    options.signal?.throwIfAborted();
    let fh: FileHandle;
    try {
      fh = await open(seg.path, 'r');
    } catch (err) {
      scan.openFailed(seg, err);
      continue;
    }
    try {
      const size = (await fh.stat()).size;
      if (size < HEADER_BYTES) continue;
      const head = scan.headerBuffer();
      scan.stats.bytes += (await fh.read(head, 0, HEADER_BYTES, 0)).bytesRead;
      const buf = scan.begin(seg, head, size);
      if (!buf) continue;
      const rb = scan.recordBytes;
      const step = Math.max(rb, Math.floor(chunkBytes / rb) * rb);
      let got = 0;
      let scored = 0;
      while (got < buf.length) {
        const want = Math.min(step, buf.length - got);
        const { bytesRead } = await fh.read(buf, got, want, HEADER_BYTES + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        const whole = got - ((got - scored) % rb);
        const t0 = performance.now();
        scan.score(scored, whole);
        longest = Math.max(longest, performance.now() - t0);
        scored = whole;
        options.signal?.throwIfAborted();
      }
    } finally {
      await fh.close();
    }
  }
  const result = scan.result();
  result.stats.longestSliceMs = +longest.toFixed(2);
  return result;
}

/** One window of the history as the agent embedded it (dequantised from int8, not re-normalised). */
export interface HistoryWindow {
  sensorId: string;
  modality: SensorModality;
  startWallMs: number;
  endWallMs: number;
  /** A view into its chunk's array: copy it to keep it past the next chunk's turn. */
  embedding: Float32Array;
}

/** The windows of one chunk of one segment, in the order the agent wrote (and fused) them. */
export interface HistoryWindowChunk {
  segment: SegmentInfo;
  /** The writing agent's process id (from the segment name): another one means a restart. */
  writerPid: number | undefined;
  windows: HistoryWindow[];
}

export interface HistoryWindowFilter {
  sinceWallMs?: number;
  untilWallMs?: number;
  sensors?: readonly string[];
  modalities?: readonly SensorModality[];
  /** Only segments of this pack and dimension; others are skipped and named in `stats.problems`. */
  pack: { id: string; version: string };
  dim: number;
}

/**
 * Every window of the history in the filter's range, oldest segment first and within a segment
 * in the order the agent wrote them (the order its fusion saw them: a replay of labels over the
 * past, issue #18). Read as `scanHistoryAsync` reads, in chunks of at most `chunkBytes` with the
 * event loop running between them; `stats` counts as a scan does (windows = windows yielded).
 */
export async function* historyWindows(
  dir: string,
  filter: HistoryWindowFilter,
  stats: ScanStats,
  options: { chunkBytes?: number; signal?: AbortSignal } = {},
): AsyncGenerator<HistoryWindowChunk> {
  const since = filter.sinceWallMs ?? Number.NEGATIVE_INFINITY;
  const until = filter.untilWallMs ?? Number.POSITIVE_INFINITY;
  const chunkBytes = Math.max(1, options.chunkBytes ?? SCAN_CHUNK_BYTES);
  const segments = new HistoryScan({
    vector: new Float32Array(1),
    keep: 1,
    sinceWallMs: since,
    untilWallMs: until,
  }).segmentsOf(dir);
  const head = Buffer.alloc(HEADER_BYTES);
  for (const seg of segments) {
    options.signal?.throwIfAborted();
    let fh: FileHandle;
    try {
      fh = await open(seg.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted by retention
      throw new HistoryError(
        'HISTORY_UNREADABLE',
        seg.path,
        `cannot open ${seg.path}: ${(err as Error).message}`,
        err,
      );
    }
    try {
      const size = (await fh.stat()).size;
      if (size < HEADER_BYTES) continue; // being created
      stats.bytes += (await fh.read(head, 0, HEADER_BYTES, 0)).bytesRead;
      const header = decodeHeader(head);
      const skip =
        typeof header === 'string'
          ? header
          : header.pack.id !== filter.pack.id || header.pack.version !== filter.pack.version
            ? `written with pack ${header.pack.id} ${header.pack.version}, not ${filter.pack.id} ${filter.pack.version}`
            : header.dim !== filter.dim
              ? `${header.dim}-d embeddings, not ${filter.dim}-d`
              : undefined;
      if (skip !== undefined || typeof header === 'string') {
        stats.skippedSegments++;
        stats.problems.push(`${seg.path}: ${skip}`);
        continue;
      }
      stats.segments++;
      const { recordBytes: rb, dim } = header;
      const sensorOk = header.sensors.map((x) => !filter.sensors || filter.sensors.includes(x.id));
      const step = Math.max(rb, Math.floor(chunkBytes / rb) * rb);
      const buf = Buffer.alloc(step);
      const writerPid = /-(\d+)\.ebh$/.exec(seg.name)?.[1];
      for (let pos = HEADER_BYTES; pos + rb <= size; pos += step) {
        const want = Math.min(step, Math.floor((size - pos) / rb) * rb);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        stats.bytes += bytesRead;
        const records = Math.floor(bytesRead / rb);
        // One array per chunk: fusion keeps each sensor's latest embedding past this turn.
        const vectors = new Float32Array(records * dim);
        const windows: HistoryWindow[] = [];
        for (let r = 0, o = 0; r < records; r++, o += rb) {
          const start = buf.readDoubleLE(o + 8);
          const sensor = buf.readUInt16LE(o + 16);
          const modality = SENSOR_MODALITIES[buf.readUInt8(o + 18)];
          const scale = buf.readFloatLE(o + 20);
          if (!(start > 0) || sensor >= sensorOk.length || modality === undefined || !(scale > 0)) {
            stats.damaged++;
            continue;
          }
          const end = start + buf.readUInt32LE(o + 4);
          if (!sensorOk[sensor] || (filter.modalities && !filter.modalities.includes(modality))) continue;
          if (end < since || start >= until) continue;
          const v = vectors.subarray(windows.length * dim, (windows.length + 1) * dim);
          const base = o + RECORD_META_BYTES;
          for (let i = 0; i < dim; i++) v[i] = buf.readInt8(base + i) * scale;
          windows.push({
            sensorId: header.sensors[sensor]!.id,
            modality,
            startWallMs: start,
            endWallMs: end,
            embedding: v,
          });
        }
        stats.windows += windows.length;
        if (windows.length > 0)
          yield { segment: seg, writerPid: writerPid === undefined ? undefined : Number(writerPid), windows };
        options.signal?.throwIfAborted();
      }
    } finally {
      await fh.close();
    }
  }
}

/** One scan's state: the heap of best windows, the counts, and the segment being scored. */
class HistoryScan {
  readonly stats: ScanStats = {
    windows: 0,
    segments: 0,
    skippedSegments: 0,
    damaged: 0,
    bytes: 0,
    problems: [],
    scoreStats: {},
  };
  private readonly heap: TopHeap;
  private readonly metas: { header: SegmentHeader }[] = [];
  private readonly sum = new Float64Array(SENSOR_MODALITIES.length);
  private readonly sumSq = new Float64Array(SENSOR_MODALITIES.length);
  private readonly count = new Float64Array(SENSOR_MODALITIES.length);
  private readonly since: number;
  private readonly until: number;
  private readonly wantModality: Uint8Array;
  private readonly scorer: SegmentScorer;
  private readonly head = Buffer.alloc(HEADER_BYTES);
  // The segment being scored.
  private buf: Buffer = Buffer.alloc(0);
  private wantSensor = new Uint8Array(0);
  private metaIndex = 0;
  recordBytes = 0;

  constructor(private readonly query: WindowQuery) {
    this.heap = new TopHeap(Math.max(1, query.keep));
    this.since = query.sinceWallMs ?? Number.NEGATIVE_INFINITY;
    this.until = query.untilWallMs ?? Number.POSITIVE_INFINITY;
    this.wantModality = new Uint8Array(SENSOR_MODALITIES.length).fill(query.modalities ? 0 : 1);
    for (const m of query.modalities ?? []) this.wantModality[SENSOR_MODALITIES.indexOf(m)] = 1;
    this.scorer = new SegmentScorer(query.vector, { kernel: query.kernel ?? 'auto' });
  }

  /** The segments of `dir` that may hold windows in the query's time range, oldest first. */
  segmentsOf(dir: string): SegmentInfo[] {
    const segments = listSegments(dir);
    // A segment holds windows from its name's time until the next one starts (give or take a
    // window's length, for windows cut just before the next segment began).
    return segments.filter((seg, s) => {
      const next = segments[s + 1]?.startWallMs ?? Number.POSITIVE_INFINITY;
      return !(next + 60_000 < this.since || seg.startWallMs - 60_000 >= this.until);
    });
  }

  /** Returns when the segment was deleted by retention since the listing (skip it); else throws. */
  openFailed(seg: SegmentInfo, err: unknown): void {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new HistoryError(
      'HISTORY_UNREADABLE',
      seg.path,
      `cannot open ${seg.path}: ${(err as Error).message}`,
      err,
    );
  }

  headerBuffer(): Buffer {
    return this.head;
  }

  /**
   * Checks a segment's header (read into headerBuffer()) and returns the buffer to read its
   * `size - HEADER_BYTES` bytes of records into, or undefined when the segment is skipped.
   */
  begin(seg: SegmentInfo, head: Buffer, size: number): Buffer | undefined {
    const { stats, query } = this;
    const header = decodeHeader(head);
    if (typeof header === 'string') {
      stats.skippedSegments++;
      stats.problems.push(`${seg.path}: ${header}`);
      return undefined;
    }
    if (header.dim !== query.vector.length) {
      stats.skippedSegments++;
      stats.problems.push(
        `${seg.path}: ${header.dim}-d embeddings of pack ${header.pack.id} ${header.pack.version}, the query is ${query.vector.length}-d`,
      );
      return undefined;
    }
    if (query.pack && (header.pack.id !== query.pack.id || header.pack.version !== query.pack.version)) {
      stats.skippedSegments++;
      stats.problems.push(
        `${seg.path}: written with pack ${header.pack.id} ${header.pack.version}, the query is embedded with ${query.pack.id} ${query.pack.version}`,
      );
      return undefined;
    }
    this.recordBytes = header.recordBytes;
    this.buf = this.scorer.buffer(size - HEADER_BYTES, header.recordBytes);
    stats.segments++;
    this.metaIndex = this.metas.push({ header }) - 1;
    this.wantSensor = new Uint8Array(header.sensors.length);
    header.sensors.forEach(
      (x, i) => (this.wantSensor[i] = !query.sensors || query.sensors.includes(x.id) ? 1 : 0),
    );
    return this.buf.subarray(0, size - HEADER_BYTES);
  }

  /** Scores the whole records in bytes [from, to) of the current segment's buffer. */
  score(from: number, to: number): void {
    const { stats, heap, wantSensor, wantModality, since, until } = this;
    const rb = this.recordBytes;
    stats.bytes += to - from;
    const first = Math.floor(from / rb);
    const records = Math.floor(to / rb) - first;
    if (records <= 0) return;
    const view = new DataView(this.buf.buffer, this.buf.byteOffset + first * rb, records * rb);
    const dots = this.scorer.score(first * rb, records, rb);
    for (let r = 0, o = 0; r < records; r++, o += rb) {
      const start = view.getFloat64(o + 8, true);
      const sensor = view.getUint16(o + 16, true);
      const modality = view.getUint8(o + 18);
      const scale = view.getFloat32(o + 20, true);
      if (!(start > 0) || sensor >= wantSensor.length || modality >= wantModality.length || !(scale > 0)) {
        stats.damaged++;
        continue;
      }
      if (!wantSensor[sensor] || !wantModality[modality]) continue;
      const end = start + view.getUint32(o + 4, true);
      if (end < since || start >= until) continue;
      stats.windows++;
      const score = scale * dots[r]!;
      this.sum[modality]! += score;
      this.sumSq[modality]! += score * score;
      this.count[modality]!++;
      if (heap.accepts(score)) heap.push(score, this.metaIndex, sensor, modality, start, end);
    }
  }

  result(): { hits: WindowHit[]; stats: ScanStats } {
    const { stats, heap } = this;
    SENSOR_MODALITIES.forEach((m, i) => {
      const n = this.count[i]!;
      if (n === 0) return;
      const mean = this.sum[i]! / n;
      stats.scoreStats[m] = {
        windows: n,
        mean,
        std: Math.sqrt(Math.max(0, this.sumSq[i]! / n - mean * mean)),
      };
    });
    const hits = heap.sorted().map((k) => {
      const h = this.metas[heap.meta[k]!]!.header;
      return {
        score: heap.score[k]!,
        startWallMs: heap.start[k]!,
        endWallMs: heap.end[k]!,
        sensorId: h.sensors[heap.sensor[k]!]!.id,
        modality: SENSOR_MODALITIES[heap.modality[k]!]!,
        pack: { id: h.pack.id, version: h.pack.version },
      };
    });
    return { hits, stats };
  }
}

/**
 * The embeddings (dequantised from int8) of the windows that lie within [fromWallMs, toWallMs]
 * on `sensors`, from segments of `pack`: a query made of windows (an event's span, issue #18).
 */
export function windowVectors(
  dir: string,
  q: {
    fromWallMs: number;
    toWallMs: number;
    sensors?: readonly string[];
    pack: { id: string; version: string };
  },
): Float32Array[] {
  const out: Float32Array[] = [];
  for (const seg of new HistoryScan({
    vector: new Float32Array(1),
    keep: 1,
    sinceWallMs: q.fromWallMs,
    untilWallMs: q.toWallMs,
  }).segmentsOf(dir)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(seg.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new HistoryError(
        'HISTORY_UNREADABLE',
        seg.path,
        `cannot read ${seg.path}: ${(err as Error).message}`,
        err,
      );
    }
    const header = decodeHeader(bytes.subarray(0, HEADER_BYTES));
    if (typeof header === 'string' || header.pack.id !== q.pack.id || header.pack.version !== q.pack.version)
      continue;
    const rb = header.recordBytes;
    for (let o = HEADER_BYTES; o + rb <= bytes.length; o += rb) {
      const start = bytes.readDoubleLE(o + 8);
      const end = start + bytes.readUInt32LE(o + 4);
      const sensor = header.sensors[bytes.readUInt16LE(o + 16)];
      const scale = bytes.readFloatLE(o + 20);
      if (!sensor || !(scale > 0) || start < q.fromWallMs || end > q.toWallMs) continue;
      if (q.sensors && !q.sensors.includes(sensor.id)) continue;
      const v = new Float32Array(header.dim);
      for (let i = 0; i < header.dim; i++) v[i] = bytes.readInt8(o + RECORD_META_BYTES + i) * scale;
      out.push(v);
    }
  }
  return out;
}

/** A fixed-capacity min-heap of scores with their windows, in typed arrays. */
class TopHeap {
  readonly score: Float64Array;
  readonly meta: Uint32Array;
  readonly sensor: Uint16Array;
  readonly modality: Uint8Array;
  readonly start: Float64Array;
  readonly end: Float64Array;
  size = 0;
  constructor(readonly capacity: number) {
    this.score = new Float64Array(capacity);
    this.meta = new Uint32Array(capacity);
    this.sensor = new Uint16Array(capacity);
    this.modality = new Uint8Array(capacity);
    this.start = new Float64Array(capacity);
    this.end = new Float64Array(capacity);
  }
  accepts(score: number): boolean {
    return this.size < this.capacity || score > this.score[0]!;
  }
  push(score: number, meta: number, sensor: number, modality: number, start: number, end: number): void {
    let i: number;
    if (this.size < this.capacity) {
      i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (this.score[p]! <= score) break;
        this.move(p, i);
        i = p;
      }
    } else {
      // Replace the root (the smallest) and sift down.
      i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.size) break;
        const c = l + 1 < this.size && this.score[l + 1]! < this.score[l]! ? l + 1 : l;
        if (this.score[c]! >= score) break;
        this.move(c, i);
        i = c;
      }
    }
    this.score[i] = score;
    this.meta[i] = meta;
    this.sensor[i] = sensor;
    this.modality[i] = modality;
    this.start[i] = start;
    this.end[i] = end;
  }
  private move(from: number, to: number): void {
    this.score[to] = this.score[from]!;
    this.meta[to] = this.meta[from]!;
    this.sensor[to] = this.sensor[from]!;
    this.modality[to] = this.modality[from]!;
    this.start[to] = this.start[from]!;
    this.end[to] = this.end[from]!;
  }
  /** Slot indices, best score first. */
  sorted(): number[] {
    return Array.from({ length: this.size }, (_, i) => i).sort((a, b) => this.score[b]! - this.score[a]!);
  }
}
