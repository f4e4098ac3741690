/**
 * Reads the embedding history (issue #18) without writing anything: safe while an agent appends
 * to it. Every whole record of every segment is scored against one query vector with one kernel
 * (`dotInt8`), filtered by time, sensor and modality; the best windows are kept in a bounded
 * min-heap and merged into moments by history/moments.ts.
 *
 * A segment's tail that is not a whole record (an agent is writing it, or was killed mid-write) is
 * not read; a record with a wrong CRC-free field (zero-filled by a power loss) is skipped.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { HistoryError } from '../errors.js';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';
import { decodeHeader, HEADER_BYTES, segmentStartMs, type SegmentHeader } from './format.js';
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
  const segments = listSegments(dir);
  const heap = new TopHeap(Math.max(1, query.keep));
  const metas: { header: SegmentHeader }[] = [];
  const stats: ScanStats = {
    windows: 0,
    segments: 0,
    skippedSegments: 0,
    damaged: 0,
    bytes: 0,
    problems: [],
    scoreStats: {},
  };
  const sum = new Float64Array(SENSOR_MODALITIES.length);
  const sumSq = new Float64Array(SENSOR_MODALITIES.length);
  const count = new Float64Array(SENSOR_MODALITIES.length);
  const since = query.sinceWallMs ?? Number.NEGATIVE_INFINITY;
  const until = query.untilWallMs ?? Number.POSITIVE_INFINITY;
  const wantModality = new Uint8Array(SENSOR_MODALITIES.length).fill(query.modalities ? 0 : 1);
  for (const m of query.modalities ?? []) wantModality[SENSOR_MODALITIES.indexOf(m)] = 1;
  const scorer = new SegmentScorer(query.vector, { kernel: query.kernel ?? 'auto' });
  const head = Buffer.alloc(HEADER_BYTES);
  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s]!;
    // A segment holds windows from its name's time until the next one starts (give or take a
    // window's length, for windows cut just before the next segment began).
    const next = segments[s + 1]?.startWallMs ?? Number.POSITIVE_INFINITY;
    if (next + 60_000 < since || seg.startWallMs - 60_000 >= until) continue;
    let fd: number;
    try {
      fd = openSync(seg.path, 'r');
    } catch (err) {
      // Deleted by retention between the listing and now.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new HistoryError(
        'HISTORY_UNREADABLE',
        seg.path,
        `cannot open ${seg.path}: ${(err as Error).message}`,
        err,
      );
    }
    try {
      const size = fstatSync(fd).size;
      if (size < HEADER_BYTES) continue; // being created
      stats.bytes += readSync(fd, head, 0, HEADER_BYTES, 0);
      const header = decodeHeader(head);
      if (typeof header === 'string') {
        stats.skippedSegments++;
        stats.problems.push(`${seg.path}: ${header}`);
        continue;
      }
      if (header.dim !== query.vector.length) {
        stats.skippedSegments++;
        stats.problems.push(
          `${seg.path}: ${header.dim}-d embeddings of pack ${header.pack.id} ${header.pack.version}, the query is ${query.vector.length}-d`,
        );
        continue;
      }
      const rb = header.recordBytes;
      const body = size - HEADER_BYTES;
      const buf = scorer.buffer(body, rb);
      let got = 0;
      while (got < body) {
        const n = readSync(fd, buf, got, body - got, HEADER_BYTES + got);
        if (n === 0) break;
        got += n;
      }
      stats.bytes += got;
      stats.segments++;
      const metaIndex = metas.push({ header }) - 1;
      const wantSensor = new Uint8Array(header.sensors.length);
      header.sensors.forEach(
        (x, i) => (wantSensor[i] = !query.sensors || query.sensors.includes(x.id) ? 1 : 0),
      );
      const records = Math.floor(got / rb);
      const view = new DataView(buf.buffer, buf.byteOffset, got);
      const dots = scorer.score(0, records, rb);
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
        sum[modality]! += score;
        sumSq[modality]! += score * score;
        count[modality]!++;
        if (heap.accepts(score)) heap.push(score, metaIndex, sensor, modality, start, end);
      }
    } finally {
      closeSync(fd);
    }
  }
  SENSOR_MODALITIES.forEach((m, i) => {
    const n = count[i]!;
    if (n === 0) return;
    const mean = sum[i]! / n;
    stats.scoreStats[m] = { windows: n, mean, std: Math.sqrt(Math.max(0, sumSq[i]! / n - mean * mean)) };
  });
  const hits = heap.sorted().map((k) => {
    const h = metas[heap.meta[k]!]!.header;
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
