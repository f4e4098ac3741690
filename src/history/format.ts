/**
 * The embedding history's file format (issue #18): plain append-only segment files, one per hour
 * of window time (or less, see the writer), under `<stateDir>/devices/<deviceId>/history/`.
 *
 * A segment is written by one agent run only and never reopened for appending, so its header
 * (the pack, the dimension, the sensor table) is written once, before any record:
 *
 *   bytes 0-7      magic `EBHIST01`
 *   bytes 8-11     u32 LE length of the JSON header that follows
 *   bytes 12-…     JSON `SegmentHeader`, padded with spaces to HEADER_BYTES
 *   HEADER_BYTES-  fixed-size records, `recordBytes` each:
 *     0   u32  CRC-32 of bytes 4…recordBytes of the record
 *     4   u32  window length, milliseconds (end − start)
 *     8   f64  window start, Unix epoch milliseconds
 *     16  u16  sensor index into the header's `sensors`
 *     18  u8   modality index into SENSOR_MODALITIES
 *     19  u8   0
 *     20  f32  int8 scale: value i of the unit embedding ≈ scale × q[i]
 *     24  i8 × dim, then zero padding to a multiple of 8
 *
 * Embeddings are stored as int8 with one scale per window (scale = max |v[i]| / 127): 1 byte per
 * dimension plus 24, i.e. 152 bytes per window at 128-d and 1048 at 1024-d (fp32 would be 536 and
 * 4120). Its recall loss is measured in bench/history.ts (README "Dependencies" has the figures).
 *
 * A `kill -9` can leave a partial last record; a power loss can leave a zero-filled or torn tail.
 * Readers take whole records only and skip a record whose fields are out of range; the CRC lets
 * `verifySegment` find a torn record exactly.
 */
import { crc32 } from 'node:zlib';
import { SENSOR_MODALITIES, type SensorModality } from '../pipeline/types.js';

export const MAGIC = 'EBHIST01';
export const HEADER_BYTES = 4096;
export const RECORD_META_BYTES = 24;
export const FORMAT_VERSION = 1;
export const SEGMENT_SUFFIX = '.ebh';

export interface SegmentHeader {
  format: typeof FORMAT_VERSION;
  encoding: 'int8';
  dim: number;
  recordBytes: number;
  deviceId: string;
  pack: { id: string; version: string; dir?: string };
  sensors: { id: string; modality: SensorModality }[];
  /** Wall time the segment was created, Unix epoch milliseconds. */
  createdWallMs: number;
}

export function recordBytesFor(dim: number): number {
  return (RECORD_META_BYTES + dim + 7) & ~7;
}

/** `seg-<first window start, 13-digit epoch ms>-<writer pid>.ebh`: names sort by time. */
export function segmentName(firstStartWallMs: number, pid: number): string {
  return `seg-${String(Math.max(0, Math.floor(firstStartWallMs))).padStart(13, '0')}-${pid}${SEGMENT_SUFFIX}`;
}

/** The first window start encoded in a segment's name, or undefined for another file. */
export function segmentStartMs(name: string): number | undefined {
  const m = /^seg-(\d{13})-\d+\.ebh$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function encodeHeader(h: SegmentHeader): Buffer {
  const json = Buffer.from(JSON.stringify(h), 'utf8');
  if (12 + json.length > HEADER_BYTES)
    throw new TypeError(`history segment header is ${12 + json.length} bytes, more than ${HEADER_BYTES}`);
  const out = Buffer.alloc(HEADER_BYTES, 0x20);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(json.length, 8);
  json.copy(out, 12);
  return out;
}

/** The header of a segment's first HEADER_BYTES bytes, or a string saying what is wrong. */
export function decodeHeader(bytes: Uint8Array): SegmentHeader | string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER_BYTES) return `shorter than its ${HEADER_BYTES}-byte header (${b.length} bytes)`;
  if (b.toString('latin1', 0, 8) !== MAGIC) return `not a history segment (no ${MAGIC} magic)`;
  const len = b.readUInt32LE(8);
  if (12 + len > HEADER_BYTES) return `header length ${len} exceeds the header`;
  let h: { [K in keyof SegmentHeader]?: unknown };
  try {
    h = JSON.parse(b.toString('utf8', 12, 12 + len)) as typeof h;
  } catch (err) {
    return `header is not JSON: ${(err as Error).message}`;
  }
  if (h.format !== FORMAT_VERSION) return `format ${String(h.format)}, this edgebind reads ${FORMAT_VERSION}`;
  if (h.encoding !== 'int8') return `encoding ${String(h.encoding)} is not int8`;
  if (
    typeof h.dim !== 'number' ||
    !Number.isInteger(h.dim) ||
    h.dim < 1 ||
    h.recordBytes !== recordBytesFor(h.dim)
  )
    return `dim ${String(h.dim)} and recordBytes ${String(h.recordBytes)} do not agree`;
  if (!Array.isArray(h.sensors)) return 'header has no sensor table';
  return h as SegmentHeader;
}

export const MODALITY_INDEX: Readonly<Record<SensorModality, number>> = Object.fromEntries(
  SENSOR_MODALITIES.map((m, i) => [m, i]),
) as Record<SensorModality, number>;

/**
 * Writes one record's fields and int8 vector at `offset` of `ring` (its CRC is set by `sealRecord`
 * when it is written out). Allocates nothing: it runs for every window.
 */
export function encodeRecord(
  ring: DataView,
  ringI8: Int8Array,
  offset: number,
  r: { startWallMs: number; durationMs: number; sensorIndex: number; modalityIndex: number },
  vector: Float32Array,
): void {
  let maxAbs = 0;
  for (let i = 0; i < vector.length; i++) {
    const a = Math.abs(vector[i]!);
    if (a > maxAbs) maxAbs = a;
  }
  const scale = maxAbs > 0 ? maxAbs / 127 : 1;
  const inv = 1 / scale;
  ring.setUint32(offset, 0, true);
  ring.setUint32(offset + 4, Math.max(0, Math.min(0xffffffff, Math.round(r.durationMs))), true);
  ring.setFloat64(offset + 8, r.startWallMs, true);
  ring.setUint16(offset + 16, r.sensorIndex, true);
  ring.setUint8(offset + 18, r.modalityIndex);
  ring.setUint8(offset + 19, 0);
  ring.setFloat32(offset + 20, scale, true);
  const base = offset + RECORD_META_BYTES;
  for (let i = 0; i < vector.length; i++) ringI8[base + i] = Math.round(vector[i]! * inv);
}

/** Sets the CRC of the record at `offset` (bytes 4… of it). */
export function sealRecord(buf: Buffer, offset: number, recordBytes: number): void {
  buf.writeUInt32LE(crc32(buf.subarray(offset + 4, offset + recordBytes)), offset);
}

/** Whether the record at `offset` carries the CRC of its bytes. */
export function recordIntact(buf: Buffer, offset: number, recordBytes: number): boolean {
  return buf.readUInt32LE(offset) === crc32(buf.subarray(offset + 4, offset + recordBytes));
}
