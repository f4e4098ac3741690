/**
 * Loads a model pack: `manifest.json` plus the files it names. Everything is checked before any
 * window is encoded, and every failure is a `PackError` naming the file:
 * - PACK_INVALID: manifest.json is not JSON or breaks the schema (each problem with its JSON path),
 *   names a file outside the pack or an encoder the pack lacks, or onnxruntime cannot load a model;
 * - PACK_FILE_MISSING: a named file (or manifest.json) does not exist;
 * - PACK_CHECKSUM: a file's sha256 differs from the manifest's;
 * - PACK_SIGNATURE: a model's input/output names, dtypes or dims differ from the manifest's.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { Logger } from 'pino';
import { PackError } from '../errors.js';
import type { Modality } from '../pipeline/types.js';
import { ManifestSchema, type Manifest, type TensorSpec } from './manifest.js';
import { EncoderSession, ModelLoadError, type ValueSignature } from './session.js';

export const MANIFEST_FILE = 'manifest.json';

export interface LoadPackOptions {
  /** Execution providers to try per encoder, in order, e.g. `['cuda', 'cpu']`. */
  providers: string[];
  intraOpThreads?: number;
  interOpThreads?: number;
  logger?: Logger;
  /** Encoders to open; default: every encoder in the manifest. */
  modalities?: Modality[];
}

export interface LoadedPack {
  dir: string;
  manifest: Manifest;
  /** One open session per loaded modality. */
  sessions: Partial<Record<Modality, EncoderSession>>;
  /** The session for `modality`; throws TypeError if it was not loaded. */
  session(modality: Modality): EncoderSession;
  close(): Promise<void>;
}

/** One file the manifest names, after checking it. */
export interface FileCheck {
  /** The encoder it belongs to, or `tokenizer` for a vocabulary file. */
  role: Modality | 'tokenizer';
  /** As written in the manifest (relative to the pack). */
  file: string;
  path: string;
  expectedSha256: string;
  /** null when the file is missing. */
  actualSha256: string | null;
  bytes: number | null;
  error: PackError | null;
}

export interface PackVerification {
  manifest: Manifest;
  files: FileCheck[];
  /** Every problem found; empty when the pack is intact. */
  errors: PackError[];
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `  - ${formatPath(i.path)}: ${i.message}`).join('\n');
}

/** Reads and validates `dir/manifest.json`. */
export async function readManifest(dir: string): Promise<Manifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PackError('PACK_FILE_MISSING', file, `${file}: no manifest (is ${dir} a model pack?)`, err);
    }
    throw new PackError('PACK_INVALID', file, `${file}: cannot read: ${(err as Error).message}`, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PackError('PACK_INVALID', file, `${file}: not valid JSON: ${(err as Error).message}`, err);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const n = parsed.error.issues.length;
    throw new PackError(
      'PACK_INVALID',
      file,
      `${file}: invalid manifest (${n} problem${n === 1 ? '' : 's'}):\n${formatIssues(parsed.error.issues)}`,
      parsed.error,
    );
  }
  return parsed.data;
}

/** The files to check for `modalities`, each with its manifest path for error messages. */
function namedFiles(
  dir: string,
  manifest: Manifest,
  modalities: readonly Modality[],
): { role: Modality | 'tokenizer'; file: string; sha256: string; where: string }[] {
  const files: { role: Modality | 'tokenizer'; file: string; sha256: string; where: string }[] = [];
  for (const m of modalities) {
    const spec = manifest.encoders[m];
    if (!spec) {
      const have = Object.keys(manifest.encoders).join(', ');
      throw new PackError(
        'PACK_INVALID',
        join(dir, MANIFEST_FILE),
        `${join(dir, MANIFEST_FILE)}: the pack has no ${m} encoder (encoders.${m}); it has ${have}`,
      );
    }
    files.push({ role: m, file: spec.file, sha256: spec.sha256, where: `encoders.${m}.file` });
  }
  const tok = manifest.tokenizer;
  if (tok.vocab !== undefined) {
    if (tok.sha256 === undefined) {
      const manifestFile = join(dir, MANIFEST_FILE);
      throw new PackError(
        'PACK_INVALID',
        manifestFile,
        `${manifestFile}: tokenizer.vocab needs tokenizer.sha256 (the vocabulary file's sha256)`,
      );
    }
    files.push({ role: 'tokenizer', file: tok.vocab, sha256: tok.sha256, where: 'tokenizer.vocab' });
  }
  for (const f of files) {
    const n = normalize(f.file);
    if (isAbsolute(f.file) || n === '..' || n.startsWith(`..${sep}`)) {
      const manifestFile = join(dir, MANIFEST_FILE);
      throw new PackError(
        'PACK_INVALID',
        manifestFile,
        `${manifestFile}: ${f.where} ${f.file} is outside the pack`,
      );
    }
  }
  return files;
}

async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function checkFile(
  dir: string,
  f: { role: Modality | 'tokenizer'; file: string; sha256: string; where: string },
): Promise<FileCheck> {
  const path = join(dir, f.file);
  const base = { role: f.role, file: f.file, path, expectedSha256: f.sha256 };
  try {
    const st = await stat(path);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOENT' });
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message;
    const error = new PackError(
      'PACK_FILE_MISSING',
      path,
      `${path}: ${reason} (named by ${f.where} in ${MANIFEST_FILE})`,
      err,
    );
    return { ...base, actualSha256: null, bytes: null, error };
  }
  const { sha256, bytes } = await hashFile(path);
  const error =
    sha256 === f.sha256
      ? null
      : new PackError(
          'PACK_CHECKSUM',
          path,
          `${path}: checksum mismatch: expected sha256 ${f.sha256}, actual ${sha256} (${bytes} bytes)`,
        );
  return { ...base, actualSha256: sha256, bytes, error };
}

/**
 * Checks that every file the manifest names exists and matches its sha256, opening no sessions
 * (for `doctor`). Throws only when the manifest itself is unusable; file problems are returned.
 */
export async function verifyPack(
  dir: string,
  opts: { modalities?: Modality[] } = {},
): Promise<PackVerification> {
  const manifest = await readManifest(dir);
  const modalities = opts.modalities ?? presentModalities(manifest);
  const files: FileCheck[] = [];
  for (const f of namedFiles(dir, manifest, modalities)) files.push(await checkFile(dir, f));
  return { manifest, files, errors: files.flatMap((f) => (f.error ? [f.error] : [])) };
}

function presentModalities(manifest: Manifest): Modality[] {
  return (Object.keys(manifest.encoders) as Modality[]).filter((m) => manifest.encoders[m] !== undefined);
}

function formatDim(d: number | string): string {
  return typeof d === 'number' ? String(d) : d === '' ? '?' : d;
}

function formatSignature(s: { name: string; dtype: string; shape: readonly (number | string)[] }): string {
  return `${s.name} ${s.dtype} [${s.shape.map(formatDim).join(',')}]`;
}

/**
 * Whether a model value satisfies the manifest's: same name, dtype and rank; a fixed manifest dim
 * needs the same size or a symbolic model dim; a symbolic manifest dim (any size) needs a symbolic
 * model dim.
 */
function matches(expected: TensorSpec, actual: ValueSignature): boolean {
  if (expected.name !== actual.name || expected.dtype !== actual.dtype) return false;
  if (expected.shape.length !== actual.shape.length) return false;
  return expected.shape.every((e, i) => {
    const a = actual.shape[i];
    if (typeof e === 'number') return typeof a === 'string' || a === e;
    return typeof a === 'string';
  });
}

function checkSignature(
  path: string,
  kind: 'input' | 'output',
  expected: TensorSpec,
  actual: readonly ValueSignature[],
) {
  const found = actual.find((a) => a.name === expected.name) ?? (actual.length === 1 ? actual[0] : undefined);
  // ImageBind's encoders have exactly one input; a model wanting more could not be fed.
  const extra = kind === 'input' && actual.length > 1;
  if (found && !extra && matches(expected, found)) return;
  const got = actual.length === 0 ? 'no ' + kind : actual.map(formatSignature).join(', ');
  throw new PackError(
    'PACK_SIGNATURE',
    path,
    `${path}: ${kind} signature mismatch: expected ${formatSignature(expected)}, found ${got}`,
  );
}

/**
 * Validates the manifest, checks every file of the requested encoders, opens one session per
 * encoder (trying `providers` in order) and checks each model's signature against the manifest.
 */
export async function loadPack(dir: string, opts: LoadPackOptions): Promise<LoadedPack> {
  const t0 = performance.now();
  const log = opts.logger?.child({ component: 'pack' });
  const manifest = await readManifest(dir);
  const modalities = [...new Set(opts.modalities ?? presentModalities(manifest))];
  // Checksums first, so that a bad pack fails before any big model is loaded.
  for (const f of namedFiles(dir, manifest, modalities)) {
    const check = await checkFile(dir, f);
    if (check.error) throw check.error;
  }

  const sessions: Partial<Record<Modality, EncoderSession>> = {};
  const closeAll = async () => {
    await Promise.allSettled(Object.values(sessions).map((s) => s.close()));
  };
  try {
    for (const m of modalities) {
      const spec = manifest.encoders[m];
      if (!spec) continue; // namedFiles() already rejected absent encoders
      const path = join(dir, spec.file);
      let session: EncoderSession;
      try {
        session = await EncoderSession.open(path, spec, {
          providers: opts.providers,
          name: m,
          ...(opts.intraOpThreads !== undefined ? { intraOpThreads: opts.intraOpThreads } : {}),
          ...(opts.interOpThreads !== undefined ? { interOpThreads: opts.interOpThreads } : {}),
          ...(opts.logger ? { logger: opts.logger } : {}),
        });
      } catch (err) {
        if (err instanceof ModelLoadError) {
          throw new PackError(
            'PACK_INVALID',
            path,
            `${path}: onnxruntime cannot load it: ${err.reason}`,
            err,
          );
        }
        throw err;
      }
      sessions[m] = session;
      checkSignature(path, 'input', spec.input, session.inputs);
      const out = {
        name: spec.output.name,
        dtype: 'float32' as const,
        shape: [spec.input.shape[0] ?? 'batch', spec.output.dim],
      };
      checkSignature(path, 'output', out, session.outputs);
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  const providers = [...new Set(Object.values(sessions).map((s) => s.provider))].join('/');
  log?.info(
    { id: manifest.id, version: manifest.version, modalities, loadMs: Math.round(performance.now() - t0) },
    `pack ${manifest.id} ${manifest.version} loaded from ${dir}: ${modalities.join(', ')} on ${providers}`,
  );
  return {
    dir,
    manifest,
    sessions,
    session(modality: Modality): EncoderSession {
      const s = sessions[modality];
      if (!s) throw new TypeError(`pack ${manifest.id}: no ${modality} encoder loaded`);
      return s;
    },
    close: closeAll,
  };
}
