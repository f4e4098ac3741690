/**
 * Builds the encoders the pipeline uses from a model pack: tokenizer + text session for labels,
 * and for each sensor modality a preprocessor + session + postprocessing. Preprocessors are
 * created once per window shape and write straight into batch tensors allocated once per batch
 * size, so steady-state encoding allocates only the returned embeddings.
 */
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { PackError } from '../errors.js';
import type { Modality, SensorModality, Window } from '../pipeline/types.js';
import { normalizeInPlace } from '../util/vectors.js';
import { AudioWindowPreprocessor } from './audio/preprocess.js';
import { DepthPreprocessor } from './depth/preprocess.js';
import { ImuPreprocessor } from './imu/preprocess.js';
import type { Manifest } from './manifest.js';
import { loadPack, MANIFEST_FILE, type LoadedPack } from './pack.js';
import type { EncoderSession } from './session.js';
import { generateTestPack } from './test-pack.js';
import { createTokenizer } from './text/create-tokenizer.js';
import { loadVocabulary, type TextVocabulary } from './text/vocabulary.js';
import { encodeBatchInt64, type TextTokenizer } from './text/tokenizer.js';
import { ThermalPreprocessor } from './thermal/preprocess.js';
import type { EncoderSet, EncoderWarmUp, TextEncoder, WindowEncoder } from './types.js';

export interface OpenEncodersOptions {
  config: Pick<ResolvedConfig, 'encoders' | 'stateDir'>;
  modalities: readonly SensorModality[];
  logger: Logger;
}

export const TEST_PACK_NAME = 'edgebind-test';

/**
 * Batch sizes each encoder runs once at start, before the first window (issue #15). The agent
 * embeds 1 to `maxBatch` windows (or label texts) per inference. GPU providers compile kernels on
 * first use, and may again for a new batch size (WebGPU shaders on lavapipe took seconds), so
 * every size is warmed. The CPU provider compiles nothing per shape (measured: a new batch size
 * costs no more than a repeated one), so one batch is enough there, which keeps start-up of a
 * full-size pack on a CPU to one inference per encoder.
 */
export function warmUpBatches(provider: string, maxBatch: number): number[] {
  if (provider === 'cpu') return [1];
  return Array.from({ length: maxBatch }, (_, i) => i + 1);
}

function batchRange(batches: readonly number[]): string {
  return batches.length === 1 ? `${batches[0]}` : `${batches[0]}-${batches.at(-1)}`;
}

/** Opens the configured pack (generating the test pack on first use) with warm sessions. */
export async function openEncoders(opts: OpenEncodersOptions): Promise<EncoderSet> {
  const { config, modalities, logger } = opts;
  const dir =
    config.encoders.pack === 'test'
      ? await ensureTestPack(join(config.stateDir, 'packs', TEST_PACK_NAME), logger)
      : config.encoders.pack;
  const pack = await loadPack(dir, {
    providers: config.encoders.providers,
    intraOpThreads: config.encoders.intraOpThreads,
    interOpThreads: config.encoders.interOpThreads,
    logger,
    modalities: ['text', ...modalities],
  });
  // loadPack has already rejected a pack that lacks an encoder one of `modalities` needs.
  try {
    const tokenizer = createTokenizer(pack.manifest.tokenizer, dir);
    const maxBatch = config.encoders.maxBatch;
    const text = new PackTextEncoder(
      pack.session('text'),
      tokenizer,
      pack.manifest,
      loadVocabulary(pack.manifest.tokenizer, dir),
      maxBatch,
    );
    const windows = new Map<SensorModality, PackWindowEncoder>();
    for (const m of modalities) {
      windows.set(m, new PackWindowEncoder(m, pack, maxBatch));
    }
    const warmUp: EncoderWarmUp[] = [];
    for (const [modality, session, itemsPerBatchRow] of [
      ['text', text.session, 1] as const,
      ...[...windows].map(([m, w]) => [m, w.session, w.itemsPerWindow] as const),
    ]) {
      const batches = warmUpBatches(session.provider, maxBatch);
      const t0 = performance.now();
      for (const b of batches) await session.warmUp(b * itemsPerBatchRow);
      const ms = Math.round(performance.now() - t0);
      warmUp.push({ modality, provider: session.provider, batches, ms });
      logger
        .child({ component: 'encoder', encoder: modality })
        .info(
          { provider: session.provider, warmUpMs: ms, batches },
          `encoder ${modality}: warmed up on ${session.provider} in ${ms} ms (batch ${batchRange(batches)})`,
        );
    }
    const logitScales: Partial<Record<Modality, number>> = {};
    for (const [m, spec] of Object.entries(pack.manifest.encoders)) {
      if (spec) logitScales[m as Modality] = spec.postprocess.logitScale;
    }
    return {
      pack: { id: pack.manifest.id, version: pack.manifest.version, logitScales },
      text,
      windows,
      warmUp,
      close: () => pack.close(),
    };
  } catch (err) {
    await pack.close();
    throw err;
  }
}

/**
 * Generates the random-weight test pack once. It is written to a temporary sibling and renamed
 * into place, so concurrent agents (or test processes) never see half a pack.
 */
export async function ensureTestPack(dir: string, logger?: Logger): Promise<string> {
  if (await exists(join(dir, MANIFEST_FILE))) return dir;
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  logger?.info({ dir }, `generating the random-weight test pack in ${dir}`);
  await generateTestPack(tmp);
  try {
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    if (!(await exists(join(dir, MANIFEST_FILE)))) throw err;
  }
  return dir;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Sums each `group` consecutive rows into new vectors. */
function rowSums(out: Float32Array, rows: number, dim: number, group: number): Float32Array[] {
  const result: Float32Array[] = [];
  for (let r = 0; r < rows; r += group) {
    const v = new Float32Array(dim);
    for (let g = 0; g < group; g++) {
      const base = (r + g) * dim;
      for (let i = 0; i < dim; i++) v[i]! += out[base + i]!;
    }
    result.push(v);
  }
  return result;
}

/** Averages each `group` consecutive rows into new vectors (ImageBind's clip mean). */
function rowMeans(out: Float32Array, rows: number, dim: number, group: number): Float32Array[] {
  const sums = rowSums(out, rows, dim, group);
  if (group > 1) for (const v of sums) for (let i = 0; i < dim; i++) v[i] = v[i]! / group;
  return sums;
}

/** L2-normalises each row (and averages `group` consecutive rows first) into new vectors. */
function rowsToUnit(out: Float32Array, rows: number, dim: number, group: number): Float32Array[] {
  return rowSums(out, rows, dim, group).map((v) => normalizeInPlace(v));
}

class PackTextEncoder implements TextEncoder {
  readonly provider: string;
  constructor(
    readonly session: EncoderSession,
    private readonly tokenizer: TextTokenizer,
    private readonly manifest: Manifest,
    readonly vocabulary: TextVocabulary,
    /** Texts per inference: the window encoders' `maxBatch`, so that warm-up covers every size. */
    private readonly maxBatch: number,
  ) {
    this.provider = session.provider;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return (await this.embedRaw(texts)).map((v) => normalizeInPlace(v));
  }

  async embedRaw(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const dim = this.manifest.encoders.text.output.dim;
    for (let i = 0; i < texts.length; i += this.maxBatch) {
      const chunk = texts.slice(i, i + this.maxBatch);
      const ids = encodeBatchInt64(this.tokenizer, chunk);
      const y = await this.session.run(ids, chunk.length);
      out.push(...rowMeans(y, chunk.length, dim, 1));
    }
    return out;
  }
}

interface Preprocessor {
  /** Values written per window. */
  readonly size: number;
  write(w: Window, out: Float32Array, offset: number): void;
}

class PackWindowEncoder implements WindowEncoder {
  readonly provider: string;
  readonly session: EncoderSession;
  private readonly preprocessors = new Map<string, Preprocessor>();
  private readonly inputs = new Map<number, Float32Array>();
  /** Model items per window: the clip count when the model embeds clips one by one. */
  readonly itemsPerWindow: number;
  private readonly dim: number;

  constructor(
    readonly modality: SensorModality,
    private readonly pack: LoadedPack,
    private readonly maxBatch: number,
  ) {
    this.session = pack.session(modality);
    this.provider = this.session.provider;
    const spec = pack.manifest.encoders[modality]!;
    this.dim = spec.output.dim;
    this.itemsPerWindow =
      spec.postprocess.clipAverage && modality === 'audio'
        ? pack.manifest.encoders.audio!.preprocess.clipsPerWindow
        : 1;
  }

  async embed(windows: readonly Window[]): Promise<Float32Array[]> {
    return this.run(windows, rowsToUnit);
  }

  embedRaw(windows: readonly Window[]): Promise<Float32Array[]> {
    return this.run(windows, rowMeans);
  }

  private async run(windows: readonly Window[], post: typeof rowMeans): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < windows.length; i += this.maxBatch) {
      const batch = windows.slice(i, i + this.maxBatch);
      const items = batch.length * this.itemsPerWindow;
      let input = this.inputs.get(items);
      if (!input) {
        input = new Float32Array(items * this.session.itemSize);
        this.inputs.set(items, input);
      }
      const perWindow = this.session.itemSize * this.itemsPerWindow;
      batch.forEach((w, k) => this.preprocessorFor(w).write(w, input, k * perWindow));
      const y = await this.session.run(input, items);
      out.push(...post(y, items, this.dim, this.itemsPerWindow));
    }
    return out;
  }

  private preprocessorFor(w: Window): Preprocessor {
    const key = `${w.shape.join('x')}@${w.rateHz}`;
    let p = this.preprocessors.get(key);
    if (!p) {
      p = this.createPreprocessor(w);
      const expected = this.session.itemSize * this.itemsPerWindow;
      if (p.size !== expected) {
        throw new PackError(
          'PACK_SIGNATURE',
          this.session.file,
          `${this.modality} preprocessing writes ${p.size} values per window but the model takes ${expected}`,
        );
      }
      this.preprocessors.set(key, p);
    }
    return p;
  }

  private createPreprocessor(w: Window): Preprocessor {
    const enc = this.pack.manifest.encoders;
    switch (this.modality) {
      case 'audio': {
        // [n] mono, or [n, channels] from a multi-channel replay (centred on all channels).
        const p = new AudioWindowPreprocessor(enc.audio!.preprocess, w.shape[0]!, w.shape[1] ?? 1);
        return { size: p.size, write: (win, out, off) => p.process(win.data, out, off) };
      }
      case 'thermal': {
        const p = new ThermalPreprocessor({ params: enc.thermal!.preprocess, sampleShape: w.shape.slice(1) });
        return {
          size: p.outputLength,
          write: (win, out, off) => p.process(win.data, win.shape, win.rateHz, out, off),
        };
      }
      case 'depth': {
        const p = new DepthPreprocessor({ params: enc.depth!.preprocess, sampleShape: w.shape.slice(1) });
        return {
          size: p.outputLength,
          write: (win, out, off) => p.process(win.data, win.shape, win.rateHz, out, off),
        };
      }
      case 'imu': {
        const p = new ImuPreprocessor({
          params: enc.imu!.preprocess,
          rateHz: w.rateHz,
          windowSamples: w.shape[0]!,
        });
        return {
          size: p.outputLength,
          write: (win, out, off) => p.process(win.data, win.shape, win.rateHz, out, off),
        };
      }
    }
  }
}
