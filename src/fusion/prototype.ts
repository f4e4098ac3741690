/**
 * Few-shot prototypes: the mean direction of example embeddings, stored as a small JSON file
 * (`edgebind label from-example` writes it; a label's `examples[].file` reads it). Each example
 * file counts once, whatever its length: its windows are averaged first, then the files.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { PROTOTYPE_FORMAT, PrototypeFileSchema, type PrototypeFile } from '../config/schema.js';
import { embedWindows } from '../encoders/embed.js';
import type { EncoderSet } from '../encoders/types.js';
import { ConfigError, EncoderError, FormatError } from '../errors.js';
import type { SensorModality } from '../pipeline/types.js';
import { recordingWindows } from '../sensors/replay/recording.js';
import {
  allFinite,
  base64ToFloat32,
  firstNonFinite,
  float32ToBase64,
  meanDirection,
} from '../util/vectors.js';

export { PROTOTYPE_FORMAT, PrototypeFileSchema, type PrototypeFile } from '../config/schema.js';

export interface Prototype {
  modality: SensorModality;
  vector: Float32Array;
  pack: { id: string; version: string };
}

/** Mean direction per file, then across files. `perFile[i]` are the unit embeddings of file i's windows. */
export function prototypeOf(perFile: readonly (readonly Float32Array[])[]): Float32Array {
  const files = perFile.filter((f) => f.length > 0);
  if (files.length === 0) throw new TypeError('no example windows: every file is shorter than one window');
  return meanDirection(files.map((f) => meanDirection(f)));
}

export function encodePrototype(opts: {
  modality: SensorModality;
  pack: { id: string; version: string };
  sources: { file: string; windows: number }[];
  vector: Float32Array;
}): PrototypeFile {
  return {
    format: PROTOTYPE_FORMAT,
    version: 1,
    modality: opts.modality,
    dim: opts.vector.length,
    pack: { id: opts.pack.id, version: opts.pack.version },
    sources: opts.sources,
    windows: opts.sources.reduce((a, s) => a + s.windows, 0),
    vector: float32ToBase64(opts.vector),
  };
}

export function decodePrototype(json: unknown, where: string): Prototype {
  const r = PrototypeFileSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new ConfigError(
      'CONFIG_INVALID',
      `${where}: not a prototype file: ${first.path.join('.')} ${first.message}`,
      {
        file: where,
      },
    );
  }
  const vector = base64ToFloat32(r.data.vector);
  if (vector.length !== r.data.dim) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${where}: vector has ${vector.length} values, dim says ${r.data.dim}`,
      {
        file: where,
      },
    );
  }
  const bad = firstNonFinite(vector);
  if (bad >= 0 || vector.every((x) => x === 0)) {
    // A NaN prototype once made every label's score NaN (issue 14).
    throw new ConfigError(
      'CONFIG_INVALID',
      bad >= 0
        ? `${where}: vector value ${bad} is ${vector[bad]}; every value must be finite`
        : `${where}: vector is all zeros; it has no direction`,
      { file: where, problems: [{ path: 'vector', message: 'not a usable vector' }] },
    );
  }
  return { modality: r.data.modality, vector, pack: r.data.pack };
}

export async function readPrototype(file: string): Promise<Prototype> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('CONFIG_NOT_FOUND', `${file}: cannot read prototype: ${(err as Error).message}`, {
      file,
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('CONFIG_PARSE', `${file}: prototype is not JSON`, { file, cause: err });
  }
  return decodePrototype(json, file);
}

/**
 * A few-shot prototype from example recordings: each file's windows are embedded and averaged
 * (unit vectors, mean direction), then the files are averaged, so a long file counts as much as
 * a short one.
 */
export async function prototypeFromFiles(opts: {
  encoders: EncoderSet;
  modality: SensorModality;
  files: readonly string[];
  window?: { lengthMs: number; hopMs: number };
  /** Each file's embedding is its whole-file embedding (one window, ImageBind's for audio). */
  whole?: boolean;
  /** Told how many windows of `file` the encoder embedded to NaN or ±Infinity (left out). */
  onNonFinite?: (file: string, windows: number, of: number) => void;
}): Promise<PrototypeFile> {
  if (opts.files.length === 0) throw new TypeError('prototypeFromFiles: no files');
  const perFile: Float32Array[][] = [];
  const sources: { file: string; windows: number }[] = [];
  for (const file of opts.files) {
    const ws = await recordingWindows({
      file,
      modality: opts.modality,
      ...(opts.window ? { window: opts.window } : {}),
      ...(opts.whole ? { whole: true } : {}),
    });
    if (ws.length === 0) {
      throw new FormatError(file, `no ${opts.modality} samples in the recording; nothing to learn from`);
    }
    // A window the encoder turned into NaN or ±Infinity is left out and counted, never averaged
    // in: one such value would make the prototype, and every score against it, NaN (issue 14).
    const embedded = await embedWindows(opts.encoders, opts.modality, ws);
    const finite = embedded.filter(allFinite);
    if (finite.length < embedded.length) opts.onNonFinite?.(file, embedded.length - finite.length, ws.length);
    if (finite.length === 0) {
      throw new EncoderError(
        opts.modality,
        `${file}: the ${opts.modality} encoder produced NaN or infinite values for all ${ws.length} windows; no prototype made`,
      );
    }
    perFile.push(finite);
    sources.push({ file: basename(file), windows: finite.length });
  }
  return encodePrototype({
    modality: opts.modality,
    pack: opts.encoders.pack,
    sources,
    vector: prototypeOf(perFile),
  });
}
