/**
 * Turns configured labels into label embeddings, one unit vector per modality a label applies to:
 *
 *   text direction  = mean direction of every prompt put into every template of the modality
 *                     (CLIP prompt ensembling; "the sound of {}." for audio, …)
 *   label vector    = normalise(textWeight · text direction + Σ weight · example prototype)
 *
 * so a label may be text only, examples only, or a mix, including subtraction (a negative weight).
 * Background ("nothing") prompts are templated the same way. Text embeddings are cached by a
 * content hash in memory and on disk (`stateDir/label-cache/`), so re-applying the same labels,
 * or restarting, does not run the text encoder again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import {
  DEFAULT_TEMPLATES,
  exampleVectorProblem,
  type LabelConfig,
  type ScoringConfig,
} from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { LogitScales, TextEncoder } from '../encoders/types.js';
import type { SensorModality } from '../pipeline/types.js';
import type { FusionMode, LabelEmbedding, LabelSet } from '../fusion/label-set.js';
import { decodePrototype, readPrototype } from '../fusion/prototype.js';
import { labelWarnings, type LabelWarning } from './coverage.js';
import {
  allFinite,
  base64ToFloat32,
  firstNonFinite,
  float32ToBase64,
  meanDirection,
  weightedDirection,
} from '../util/vectors.js';

/** A label set as built here: fusion's LabelSet plus what the pack cannot read or tell apart. */
export interface BuiltLabelSet extends LabelSet {
  /** Coverage warnings (labels/coverage.ts); none for a hand-made set. */
  readonly warnings?: readonly LabelWarning[];
}

export type TemplateSet = Record<SensorModality, readonly string[]>;

export interface BuildLabelSetOptions {
  labels: readonly LabelConfig[];
  scoring: Pick<ScoringConfig, 'threshold' | 'backgroundPrompts'> &
    Partial<Pick<ScoringConfig, 'margin' | 'minCosine' | 'templates' | 'mode'>>;
  /** Default fusion mode (`fusion.mode`). */
  fusionMode?: FusionMode;
  /** Configured sensor modalities; labels apply to these unless they name their own. */
  modalities: readonly SensorModality[];
  text: TextEncoder;
  /**
   * Pack the text encoder comes from (id and version are part of the cache key); its logit scales
   * set the temperatures of `scoring.mode: imagebind`.
   */
  pack?: { id: string; version: string; logitScales?: LogitScales };
  /** Where text embeddings are cached on disk (`stateDir/label-cache`); none when omitted. */
  cacheDir?: string;
  /** Write this set's embeddings to `cacheDir` (default true); labels/test passes false. */
  persist?: boolean;
  /** Example files are relative to this (the config file's directory). */
  baseDir?: string;
  logger?: Logger;
}

/** Fills a template: every "{}" becomes the prompt. */
export function applyTemplate(template: string, prompt: string): string {
  return template.split('{}').join(prompt);
}

/** Every text a label is embedded from for `modality`. */
export function labelTexts(prompts: readonly string[], templates: readonly string[]): string[] {
  return [...new Set(prompts.flatMap((p) => templates.map((t) => applyTemplate(t, p))))];
}

/** The pack's id and version only: what a cache key and the set's hash depend on. */
function packKey(pack: BuildLabelSetOptions['pack']): { id: string; version: string } | null {
  return pack ? { id: pack.id, version: pack.version } : null;
}

const AS_WRITTEN: TemplateSet = { audio: ['{}'], thermal: ['{}'], depth: ['{}'], imu: ['{}'] };

/**
 * `scoring.mode: imagebind` scores as ImageBind's zero-shot does: one prompt per label, as written
 * (no templates), and nothing else (no examples); anything more is rejected with its path.
 */
function checkImageBindLabels(labels: readonly LabelConfig[]): void {
  const problems: { path: string; message: string }[] = [];
  labels.forEach((l, i) => {
    if (l.prompts.length !== 1)
      problems.push({
        path: `labels[${i}].prompts`,
        message: `label ${l.name}: scoring.mode imagebind takes exactly one prompt per label, got ${l.prompts.length}`,
      });
    if (l.examples.length > 0)
      problems.push({
        path: `labels[${i}].examples`,
        message: `label ${l.name}: scoring.mode imagebind scores text prompts only; remove the examples`,
      });
    if (l.templates !== undefined)
      problems.push({
        path: `labels[${i}].templates`,
        message: `label ${l.name}: scoring.mode imagebind uses each prompt as written; remove the templates`,
      });
  });
  if (problems.length > 0) {
    throw new ConfigError('CONFIG_INVALID', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems,
    });
  }
}

export async function buildLabelSet(opts: BuildLabelSetOptions): Promise<BuiltLabelSet> {
  const { labels, modalities } = opts;
  const imagebind = opts.scoring.mode === 'imagebind';
  if (imagebind) checkImageBindLabels(labels);
  // ImageBind's zero-shot: prompts as written, no background prompts (issue 20 item 4).
  const scoring = imagebind
    ? { ...opts.scoring, backgroundPrompts: [], templates: AS_WRITTEN }
    : opts.scoring;
  const defaults: TemplateSet = { ...DEFAULT_TEMPLATES, ...(scoring.templates ?? {}) };
  const baseDir = opts.baseDir ?? process.cwd();

  // Examples first: they decide which modalities an example-only label applies to.
  const examples = await Promise.all(
    labels.map((l, i) =>
      Promise.all(
        l.examples.map(async (ex, j) => {
          const where = `labels[${i}].examples[${j}]`;
          if (ex.file !== undefined) {
            const file = isAbsolute(ex.file) ? ex.file : resolve(baseDir, ex.file);
            const p = await readPrototype(file);
            if (opts.pack && (p.pack.id !== opts.pack.id || p.pack.version !== opts.pack.version)) {
              opts.logger?.warn(
                { label: l.name, file, prototypePack: p.pack, pack: opts.pack },
                `label ${l.name}: example ${file} was made with pack ${p.pack.id}@${p.pack.version}, not ${opts.pack.id}@${opts.pack.version}`,
              );
            }
            return {
              modality: p.modality as SensorModality | undefined,
              vector: p.vector,
              weight: ex.weight,
            };
          }
          if (ex.prototype !== undefined) {
            // A prototype file's content, as `label from-example` wrote it (issue 17 item 10).
            const p = decodePrototype(ex.prototype, `${where}.prototype`);
            if (opts.pack && (p.pack.id !== opts.pack.id || p.pack.version !== opts.pack.version)) {
              opts.logger?.warn(
                { label: l.name, example: where, prototypePack: p.pack, pack: opts.pack },
                `label ${l.name}: example ${j} was made with pack ${p.pack.id}@${p.pack.version}, not ${opts.pack.id}@${opts.pack.version}`,
              );
            }
            return {
              modality: p.modality as SensorModality | undefined,
              vector: p.vector,
              weight: ex.weight,
            };
          }
          // The schema checks this too; kept here for callers that build from unparsed labels.
          const problem = exampleVectorProblem(ex.base64!);
          if (problem !== undefined)
            throw new ConfigError('CONFIG_INVALID', `${where}.base64: ${problem}`, {
              problems: [{ path: `${where}.base64`, message: problem }],
            });
          const vector = base64ToFloat32(ex.base64!);
          return { modality: ex.modality, vector, weight: ex.weight };
        }),
      ),
    ),
  );

  const applies = labels.map((l, i) => {
    const wanted = l.modalities ?? modalities;
    return wanted.filter(
      (m) => l.prompts.length > 0 || examples[i]!.some((e) => e.modality === undefined || e.modality === m),
    );
  });
  const templatesFor = (l: LabelConfig, m: SensorModality) => l.templates?.[m] ?? defaults[m];
  const allModalities = [...new Set([...modalities, ...applies.flat()])];

  const texts = new Set<string>();
  labels.forEach((l, i) => {
    for (const m of applies[i]!) for (const t of labelTexts(l.prompts, templatesFor(l, m))) texts.add(t);
  });
  for (const m of allModalities)
    for (const t of labelTexts(scoring.backgroundPrompts, defaults[m])) texts.add(t);
  const byText = await embedCached([...texts].sort(), opts);

  const hash = createHash('sha256')
    .update(
      JSON.stringify({
        pack: packKey(opts.pack),
        mode: scoring.mode ?? 'softmax',
        labels,
        examples: examples.map((ex) =>
          ex.map((e) => [e.modality ?? '*', e.weight, float32ToBase64(e.vector)]),
        ),
        background: scoring.backgroundPrompts,
        templates: defaults,
        modalities: allModalities,
      }),
    )
    .digest('hex');

  const built = labels.map((l, i): LabelEmbedding => {
    const on = l.threshold ?? scoring.threshold;
    const vectors = new Map<SensorModality, Float32Array>();
    for (const m of applies[i]!) {
      const parts: Float32Array[] = [];
      const weights: number[] = [];
      if (l.prompts.length > 0 && l.textWeight !== 0) {
        parts.push(meanDirection(labelTexts(l.prompts, templatesFor(l, m)).map((t) => byText.get(t)!)));
        weights.push(l.textWeight);
      }
      for (const e of examples[i]!) {
        if (e.modality !== undefined && e.modality !== m) continue;
        const dim = byText.size > 0 ? byText.values().next().value!.length : e.vector.length;
        if (e.vector.length !== dim) {
          throw new ConfigError(
            'CONFIG_INVALID',
            `label ${l.name}: an example has ${e.vector.length} values but the encoders embed into ${dim}`,
            { problems: [{ path: `labels[${i}].examples`, message: 'dimension mismatch' }] },
          );
        }
        parts.push(meanDirection([e.vector]));
        weights.push(e.weight);
      }
      if (parts.length === 0) continue;
      const v = weightedDirection(parts, weights);
      if (!allFinite(v)) {
        // Never reaches scoring: one NaN label vector used to blank every label (issue 14).
        throw new ConfigError('CONFIG_INVALID', `label ${l.name}: its ${m} vector is not finite`, {
          problems: [{ path: `labels[${i}]`, message: `${m} vector has NaN or infinite values` }],
        });
      }
      if (v.every((x) => x === 0)) {
        throw new ConfigError('CONFIG_INVALID', `label ${l.name}: its weighted parts cancel out for ${m}`, {
          problems: [{ path: `labels[${i}]`, message: 'weights cancel out' }],
        });
      }
      vectors.set(m, v);
    }
    return {
      name: l.name,
      modalities: new Set(vectors.keys()),
      onThreshold: on,
      offThreshold: l.offThreshold ?? on,
      margin: l.margin ?? scoring.margin ?? 0,
      minCosine: l.minCosine ?? scoring.minCosine ?? -1,
      fusion: l.fusion ?? opts.fusionMode ?? 'score',
      timing: { ...(l.events ?? {}) },
      vectors,
    };
  });

  const background = new Map<SensorModality, Float32Array[]>();
  for (const m of allModalities) {
    background.set(
      m,
      scoring.backgroundPrompts.map((p) =>
        meanDirection(labelTexts([p], defaults[m]).map((t) => byText.get(t)!)),
      ),
    );
  }
  const warnings = await labelWarnings(
    built.map((b, i) => ({
      name: b.name,
      prompts: labels[i]!.prompts,
      texts: [
        ...new Set([
          ...labels[i]!.prompts,
          ...applies[i]!.flatMap((m) => labelTexts(labels[i]!.prompts, templatesFor(labels[i]!, m))),
        ]),
      ],
      vectors: b.vectors,
    })),
    opts.text,
  );
  if (!imagebind) return { hash, labels: built, background, warnings };
  // softmax(embedding @ text.T) of ImageBind's scaled outputs = softmax(s_text · s_m · cos) for
  // unit vectors (audio longer than one 2 s clip: × the clips' agreement, docs/labels.md).
  const scales = opts.pack?.logitScales ?? {};
  const temperatures = new Map(allModalities.map((m) => [m, (scales.text ?? 1) * (scales[m] ?? 1)] as const));
  return { hash, labels: built, background, warnings, temperatures };
}

interface CacheFile {
  pack: { id: string; version: string } | null;
  texts: string[];
  vectors: string[];
}

/**
 * Bounds of the text-embedding caches (issue 14: every labels/test of new prompts used to leave a
 * file behind and grow the memory cache for good). Both evict the least recently used first.
 */
export const LABEL_CACHE_LIMITS = {
  /** Text embeddings kept in memory, across label sets and text encoders. */
  memoryEntries: 20_000,
  /** Bytes of those embeddings (float32 values plus the text). */
  memoryBytes: 32 * 1024 * 1024,
  /** Files in `stateDir/label-cache`, one per applied label set. */
  diskFiles: 8,
  /** Bytes of those files. */
  diskBytes: 64 * 1024 * 1024,
} as const;

/** An LRU map of text → embedding bounded by entries and bytes. */
class EmbeddingLru {
  private readonly map = new Map<string, Float32Array>();
  private bytes = 0;

  constructor(private readonly limits: { entries: number; bytes: number }) {}

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /** The embedding of `text`, marked most recently used. */
  get(text: string): Float32Array | undefined {
    const v = this.map.get(text);
    if (v !== undefined) {
      this.map.delete(text);
      this.map.set(text, v);
    }
    return v;
  }

  set(text: string, v: Float32Array): void {
    const old = this.map.get(text);
    if (old !== undefined) {
      this.map.delete(text);
      this.bytes -= sizeOf(text, old);
    }
    const size = sizeOf(text, v);
    if (size > this.limits.bytes) return;
    this.map.set(text, v);
    this.bytes += size;
    for (const [t, e] of this.map) {
      if (this.map.size <= this.limits.entries && this.bytes <= this.limits.bytes) break;
      this.map.delete(t);
      this.bytes -= sizeOf(t, e);
    }
  }
}

const sizeOf = (text: string, v: Float32Array) => v.byteLength + 2 * text.length;

/** Text embeddings computed in this process, one bounded LRU over every text encoder. */
let memoryCache = new EmbeddingLru({
  entries: LABEL_CACHE_LIMITS.memoryEntries,
  bytes: LABEL_CACHE_LIMITS.memoryBytes,
});
/** Tells text encoders apart in the memory cache's keys. */
let encoderIds = new WeakMap<TextEncoder, number>();
let nextEncoderId = 0;

/** Entries and bytes of the in-process cache (tests of its bounds). */
export function labelMemoryCacheSize(): { entries: number; bytes: number } {
  return { entries: memoryCache.size, bytes: memoryCache.byteSize };
}

/**
 * Text embeddings for `texts` (sorted, unique): from memory (texts this encoder embedded lately),
 * else the disk file of this exact text set, else the text encoder — which then embeds only the
 * texts not in memory (changing one label re-embeds only its texts). A file is written only when
 * `persist` is not false (labels/test persists nothing); the directory is then pruned to
 * LABEL_CACHE_LIMITS. An embedding with NaN or ±Infinity is never cached: ConfigError instead.
 */
async function embedCached(texts: string[], opts: BuildLabelSetOptions): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  if (texts.length === 0) return out;
  let encoderId = encoderIds.get(opts.text);
  if (encoderId === undefined) encoderIds.set(opts.text, (encoderId = nextEncoderId++));
  const memKey = (t: string) => `${encoderId}\n${t}`;
  for (const t of texts) {
    const v = memoryCache.get(memKey(t));
    if (v !== undefined) out.set(t, v);
  }
  if (out.size === texts.length) return out;
  const key = createHash('sha256')
    .update(JSON.stringify({ pack: packKey(opts.pack), texts }))
    .digest('hex');
  const file = opts.cacheDir && opts.pack ? join(opts.cacheDir, `${key}.json`) : undefined;
  if (file) {
    const loaded = await readFile(file, 'utf8').then(
      (t) => JSON.parse(t) as CacheFile,
      () => undefined,
    );
    if (loaded && loaded.texts.length === texts.length && loaded.texts.every((t, i) => t === texts[i])) {
      try {
        const vectors = texts.map((_, i) => base64ToFloat32(loaded.vectors[i]!));
        if (vectors.every(allFinite)) {
          texts.forEach((t, i) => {
            out.set(t, vectors[i]!);
            memoryCache.set(memKey(t), vectors[i]!);
          });
          // Recently used: the last to be pruned.
          const now = new Date();
          await utimes(file, now, now).catch(() => undefined);
          opts.logger?.debug({ file }, 'label embeddings from the disk cache');
          return out;
        }
      } catch {
        // A damaged cache file is recomputed and overwritten below.
      }
    }
  }
  const missing = texts.filter((t) => !out.has(t));
  const vectors = await opts.text.embed(missing);
  missing.forEach((t, i) => {
    const v = vectors[i]!;
    const bad = firstNonFinite(v);
    if (bad >= 0)
      throw new ConfigError(
        'CONFIG_INVALID',
        `the text encoder embedded ${JSON.stringify(t.slice(0, 100))} to ${v[bad]} (value ${bad}); a label cannot be made from it`,
        {
          problems: [
            {
              path: 'labels',
              message: `text encoder output for ${JSON.stringify(t.slice(0, 100))} is not finite`,
            },
          ],
        },
      );
    out.set(t, v);
    memoryCache.set(memKey(t), v);
  });
  if (file && opts.persist !== false) {
    const body: CacheFile = {
      pack: packKey(opts.pack),
      texts,
      vectors: texts.map((t) => float32ToBase64(out.get(t)!)),
    };
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      const text = JSON.stringify(body);
      if (Buffer.byteLength(text) <= LABEL_CACHE_LIMITS.diskBytes) {
        await mkdir(opts.cacheDir!, { recursive: true });
        await writeFile(tmp, text);
        await rename(tmp, file);
        await pruneLabelCache(opts.cacheDir!, { keep: file });
      }
    } catch (err) {
      // A full disk leaves a partial temp file: remove it now rather than at the next prune.
      await unlink(tmp).catch(() => undefined);
      opts.logger?.warn({ err, file }, `cannot write the label cache ${file}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * Deletes the least recently used files of `dir` until at most LABEL_CACHE_LIMITS.diskFiles files
 * of at most LABEL_CACHE_LIMITS.diskBytes are left (never `keep`), and temporary files a killed
 * writer left behind over a minute ago.
 */
export async function pruneLabelCache(
  dir: string,
  opts: { keep?: string; limits?: { diskFiles: number; diskBytes: number }; nowMs?: number } = {},
): Promise<void> {
  const limits = opts.limits ?? LABEL_CACHE_LIMITS;
  const nowMs = opts.nowMs ?? Date.now();
  const entries = await readdir(dir).catch(() => [] as string[]);
  const files: { path: string; mtimeMs: number; size: number }[] = [];
  for (const name of entries) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (name.includes('.tmp-')) {
      if (nowMs - st.mtimeMs > 60_000) await unlink(path).catch(() => undefined);
      continue;
    }
    if (name.endsWith('.json')) files.push({ path, mtimeMs: st.mtimeMs, size: st.size });
  }
  files.sort((a, b) => (a.path === opts.keep ? -1 : b.path === opts.keep ? 1 : b.mtimeMs - a.mtimeMs));
  let count = 0;
  let bytes = 0;
  for (const f of files) {
    if (f.path === opts.keep || (count < limits.diskFiles && bytes + f.size <= limits.diskBytes)) {
      count++;
      bytes += f.size;
    } else await unlink(f.path).catch(() => undefined);
  }
}

/** Forgets the in-process cache (tests that count text-encoder calls across "restarts"). */
export function clearLabelMemoryCache(): void {
  memoryCache = new EmbeddingLru({
    entries: LABEL_CACHE_LIMITS.memoryEntries,
    bytes: LABEL_CACHE_LIMITS.memoryBytes,
  });
  encoderIds = new WeakMap();
}
