/**
 * The edgebind frame file (`.ebf`): recorded thermal, depth or IMU streams (audio uses WAV).
 * Layout (all little-endian), documented in docs/replay-format.md:
 *
 *   magic   8 bytes  "EBFRAMES"
 *   hlen    u32      length of the JSON header
 *   header  hlen     UTF-8 JSON, FrameFileHeader
 *   records …        f64 tMs (since the recording started) · u32 n (samples) · n × sample payload
 *
 * Stored value × header.scale = value in the modality's native unit. Records are appended one by
 * one, so a recording cut short (power loss) still reads up to its last whole record.
 */
import { open } from 'node:fs/promises';
import { z } from 'zod';
import { FormatError } from '../../errors.js';
import { SENSOR_MODALITIES } from '../../pipeline/types.js';

export const FRAME_FILE_MAGIC = 'EBFRAMES';

const DTYPE_BYTES = { float32: 4, int16: 2, uint16: 2 } as const;

export const FrameFileHeaderSchema = z.strictObject({
  version: z.literal(1),
  modality: z.enum(SENSOR_MODALITIES),
  /** Native unit after scaling: `degC`, `mm`, or `m/s2,rad/s` for IMU. */
  unit: z.string(),
  dtype: z.enum(['float32', 'int16', 'uint16']),
  scale: z.number().positive().default(1),
  /** Shape of one sample: `[h, w]` for images, `[6]` for IMU. */
  sampleShape: z.array(z.number().int().positive()).min(1).max(3),
  rateHz: z.number().positive(),
  /** Wall time of the first record, Unix epoch ms (informational). */
  startWallMs: z.number().optional(),
  source: z.string().optional(),
});
export type FrameFileHeader = z.infer<typeof FrameFileHeaderSchema>;

export interface FrameRecord {
  /** Milliseconds since the recording started. */
  tMs: number;
  /** Samples in native units, `n × prod(sampleShape)` values. */
  data: Float32Array;
  /** Number of samples in this record. */
  n: number;
}

export function sampleSizeOf(header: Pick<FrameFileHeader, 'sampleShape'>): number {
  return header.sampleShape.reduce((a, b) => a * b, 1);
}

export function encodeHeader(header: FrameFileHeader): Uint8Array {
  const json = Buffer.from(JSON.stringify(FrameFileHeaderSchema.parse(header)), 'utf8');
  const out = Buffer.alloc(12 + json.length);
  out.write(FRAME_FILE_MAGIC, 0, 'ascii');
  out.writeUInt32LE(json.length, 8);
  json.copy(out, 12);
  return out;
}

export function encodeRecord(header: FrameFileHeader, tMs: number, data: Float32Array): Uint8Array {
  const size = sampleSizeOf(header);
  if (data.length % size !== 0) {
    throw new TypeError(`record of ${data.length} values is not a whole number of ${size}-value samples`);
  }
  const bytes = DTYPE_BYTES[header.dtype];
  const out = Buffer.alloc(12 + data.length * bytes);
  out.writeDoubleLE(tMs, 0);
  out.writeUInt32LE(data.length / size, 8);
  const inv = 1 / header.scale;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]! * inv;
    const o = 12 + i * bytes;
    if (header.dtype === 'float32') out.writeFloatLE(v, o);
    else if (header.dtype === 'int16') out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), o);
    else out.writeUInt16LE(Math.max(0, Math.min(65535, Math.round(v))), o);
  }
  return out;
}

export function encodeFrameFile(
  header: FrameFileHeader,
  records: readonly { tMs: number; data: Float32Array }[],
) {
  return Buffer.concat([encodeHeader(header), ...records.map((r) => encodeRecord(header, r.tMs, r.data))]);
}

/** Reads a frame file's header. */
export async function readFrameFileHeader(
  path: string,
): Promise<{ header: FrameFileHeader; dataOffset: number }> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(12);
    const { bytesRead } = await fh.read(head, 0, 12, 0);
    if (bytesRead < 12 || head.toString('ascii', 0, 8) !== FRAME_FILE_MAGIC) {
      throw new FormatError(path, `not an edgebind frame file (expected magic "${FRAME_FILE_MAGIC}")`);
    }
    const hlen = head.readUInt32LE(8);
    if (hlen > 1 << 20) throw new FormatError(path, `header length ${hlen} exceeds 1 MiB`);
    const json = Buffer.alloc(hlen);
    await fh.read(json, 0, hlen, 12);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch (err) {
      throw new FormatError(path, 'header is not valid JSON', err);
    }
    const result = FrameFileHeaderSchema.safeParse(parsed);
    if (!result.success) {
      const first = result.error.issues[0]!;
      throw new FormatError(path, `header.${first.path.join('.')}: ${first.message}`);
    }
    return { header: result.data, dataOffset: 12 + hlen };
  } finally {
    await fh.close();
  }
}

/**
 * Streams the records of a frame file. A record whose sample count is implausible is reported
 * as a FormatError naming the byte offset; a truncated final record ends the stream quietly.
 */
export async function* readFrameRecords(
  path: string,
  opts: { maxSamplesPerRecord?: number } = {},
): AsyncGenerator<FrameRecord, void, undefined> {
  const { header, dataOffset } = await readFrameFileHeader(path);
  const size = sampleSizeOf(header);
  const bytes = DTYPE_BYTES[header.dtype];
  const maxN = opts.maxSamplesPerRecord ?? 1 << 20;
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(12);
    let pos = dataOffset;
    let payload = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(head, 0, 12, pos);
      if (bytesRead < 12) return;
      const tMs = head.readDoubleLE(0);
      const n = head.readUInt32LE(8);
      if (!Number.isFinite(tMs) || n === 0 || n > maxN) {
        throw new FormatError(`${path}@${pos}`, `bad record header (tMs ${tMs}, ${n} samples)`);
      }
      const need = n * size * bytes;
      if (payload.length < need) payload = Buffer.alloc(need);
      const got = await fh.read(payload, 0, need, pos + 12);
      if (got.bytesRead < need) return;
      const data = new Float32Array(n * size);
      for (let i = 0; i < data.length; i++) {
        const o = i * bytes;
        const raw =
          header.dtype === 'float32'
            ? payload.readFloatLE(o)
            : header.dtype === 'int16'
              ? payload.readInt16LE(o)
              : payload.readUInt16LE(o);
        data[i] = raw * header.scale;
      }
      yield { tMs, data, n };
      pos += 12 + need;
    }
  } finally {
    await fh.close();
  }
}
