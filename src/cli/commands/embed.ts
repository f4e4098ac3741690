/**
 * `edgebind embed --pack DIR --modality M INPUT...`: embeddings of recordings (or texts) through the
 * same path the agent uses: replay → windows → the pack's preprocessing and encoder (registry.ts)
 * → unit vectors. Prints one JSON array, one object per input.
 *
 * A recording is cut into windows exactly as a replayed sensor would be (the modality's default
 * window unless `--window-ms`/`--hop-ms` say otherwise). Each window gets an embedding, and the
 * input's `embedding` is their normalised mean. A recording shorter than one window (which the agent
 * would never embed) is embedded whole, as one window, the way ImageBind's loaders pad short clips.
 * `--whole` (audio) embeds any file that way: ImageBind's own file embedding, 3 clips of 2 s spread
 * over the whole file (issue 20 item 3).
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Logger } from 'pino';
import { defaultStateDir } from '../../config/load.js';
import { DEFAULT_WINDOWS, EXECUTION_PROVIDERS, type ExecutionProvider } from '../../config/schema.js';
import { embedWindows } from '../../encoders/embed.js';
import { openEncoders } from '../../encoders/registry.js';
import type { EncoderSet } from '../../encoders/types.js';
import { FormatError } from '../../errors.js';
import { cutRecording } from '../../sensors/replay/recording.js';
import { meanDirection } from '../../util/vectors.js';
import { createLogger } from '../../log.js';
import { SENSOR_MODALITIES, type Modality, type SensorModality } from '../../pipeline/types.js';
import { reportAndExit } from '../errors.js';
import { checkWhole } from './classify.js';

export const EMBED_MODALITIES = ['text', ...SENSOR_MODALITIES] as const satisfies readonly Modality[];
export const EMBED_PROVIDERS = EXECUTION_PROVIDERS;
export type EmbedProvider = ExecutionProvider;

export interface EmbedOptions {
  /** Pack directory, or `test` for the random-weight test pack (generated into `stateDir`). */
  pack: string;
  modality: Modality;
  /** Execution providers to try in order; default `['cpu']`. */
  providers?: EmbedProvider[];
  /** Window length and hop, ms; default: the modality's default window (config DEFAULT_WINDOWS). */
  windowMs?: number;
  hopMs?: number;
  /** Default: $STATE_DIRECTORY, else $XDG_CACHE_HOME/edgebind (as the agent's config). */
  stateDir?: string;
  /** Most windows per inference; default 8. */
  maxBatch?: number;
  /** Audio: the file as one window, ImageBind's file embedding (not with windowMs/hopMs). */
  whole?: boolean;
  logger: Logger;
}

/** One window of a recording and its embedding. */
export interface WindowEmbedding {
  seq: number;
  /** Offsets into the recording, ms. */
  startMs: number;
  endMs: number;
  embedding: number[];
}

export interface EmbedResult {
  /** The input file (sensor modalities) or the text (text modality). */
  file?: string;
  text?: string;
  modality: Modality;
  /** Execution provider the encoder really ran on. */
  provider: string;
  dim: number;
  /** Unit vector: the text's, the only window's, or the normalised mean of the windows'. */
  embedding: number[];
  /** Sensor modalities only: every window's embedding, in order. */
  windows?: WindowEmbedding[];
  /** True when the recording was shorter than one window and was embedded whole. */
  shorterThanWindow?: boolean;
  /** True with `--whole`: `embedding` is ImageBind's file embedding, `windows` its one window. */
  whole?: boolean;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Embeds one recording with an open encoder set. */
export async function embedFile(
  encoders: EncoderSet,
  file: string,
  modality: SensorModality,
  window: { lengthMs: number; hopMs: number },
  opts: { whole?: boolean } = {},
): Promise<EmbedResult> {
  const encoder = encoders.windows.get(modality);
  if (!encoder) throw new TypeError(`no ${modality} encoder is open`);
  const whole = opts.whole === true;
  const { windows: cut, shorterThanWindow: shorter } = await cutRecording({ file, modality, window, whole });
  if (cut.length === 0) throw new FormatError(file, `no ${modality} samples in the recording`);
  // One call: the encoder batches by --max-batch.
  const vectors = await embedWindows(encoders, modality, cut, { batch: cut.length });
  return {
    file,
    modality,
    provider: encoder.provider,
    dim: vectors[0]!.length,
    embedding: Array.from(vectors.length === 1 ? vectors[0]! : meanDirection(vectors)),
    windows: cut.map((w, i) => ({
      seq: w.seq,
      startMs: round(w.startMs),
      endMs: round(w.endMs),
      embedding: Array.from(vectors[i]!),
    })),
    ...(shorter ? { shorterThanWindow: true } : {}),
    ...(whole ? { whole: true } : {}),
  };
}

/** Opens the pack once and embeds every input in order. */
export async function embedInputs(inputs: readonly string[], opts: EmbedOptions): Promise<EmbedResult[]> {
  const { modality, logger } = opts;
  checkWhole(opts, modality);
  const providers = opts.providers ?? ['cpu'];
  const sensorModalities: SensorModality[] = modality === 'text' ? [] : [modality];
  const encoders = await openEncoders({
    config: {
      encoders: {
        pack: opts.pack === 'test' ? 'test' : resolve(opts.pack),
        providers,
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: opts.maxBatch ?? 8,
      },
      stateDir: opts.stateDir ?? defaultStateDir(),
    },
    modalities: sensorModalities,
    logger,
  });
  try {
    const encoder = modality === 'text' ? encoders.text : encoders.windows.get(modality)!;
    // Say where it really runs, whatever was asked for (fallbacks are logged as warnings above).
    process.stderr.write(
      `edgebind embed: ${modality} encoder of pack ${encoders.pack.id} ${encoders.pack.version} runs on ${encoder.provider}` +
        ` (providers tried in order: ${providers.join(',')})\n`,
    );
    if (modality === 'text') {
      const vectors = await encoders.text.embed(inputs);
      return inputs.map((text, i) => ({
        text,
        modality,
        provider: encoders.text.provider,
        dim: vectors[i]!.length,
        embedding: Array.from(vectors[i]!),
      }));
    }
    const defaults = DEFAULT_WINDOWS[modality];
    const window = {
      lengthMs: opts.windowMs ?? defaults.lengthMs,
      hopMs: opts.hopMs ?? opts.windowMs ?? defaults.hopMs,
    };
    const results: EmbedResult[] = [];
    for (const file of inputs)
      results.push(await embedFile(encoders, file, modality, window, { whole: opts.whole === true }));
    return results;
  } finally {
    await encoders.close();
  }
}

function parseModality(value: string): Modality {
  if (!(EMBED_MODALITIES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${EMBED_MODALITIES.join(', ')}, got "${value}"`);
  }
  return value as Modality;
}

function parseProviders(value: string): EmbedProvider[] {
  const list = value.split(',').map((s) => s.trim());
  for (const p of list) {
    if (!(EMBED_PROVIDERS as readonly string[]).includes(p)) {
      throw new InvalidArgumentError(
        `unknown execution provider "${p}"; expected a comma-separated list of ${EMBED_PROVIDERS.join(', ')}`,
      );
    }
  }
  return list as EmbedProvider[];
}

function parsePositiveMs(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected milliseconds > 0, got "${value}"`);
  return n;
}

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description(
      'print the embeddings of recordings (WAV for audio, .ebf for thermal/depth/imu) or of texts as JSON',
    )
    .requiredOption('--pack <dir>', 'model pack directory, or "test" for the random-weight test pack')
    .requiredOption('-m, --modality <m>', `one of ${EMBED_MODALITIES.join(', ')}`, parseModality)
    .option(
      '--providers <list>',
      'execution providers to try in order, e.g. webgpu,cpu or cuda,cpu',
      parseProviders,
      ['cpu'],
    )
    .option(
      '--window-ms <ms>',
      'window length (default: the modality default, as the agent)',
      parsePositiveMs,
    )
    .option(
      '--hop-ms <ms>',
      'distance between window starts (default: --window-ms if given, else the modality default)',
      parsePositiveMs,
    )
    .option(
      '--whole',
      'audio: embed each file whole, as ImageBind does (3 clips of 2 s spread over the file), instead of the mean of its windows',
    )
    .option('--state-dir <dir>', 'where --pack test is generated (default: as the agent)')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .argument('<input...>', 'files to embed, or texts for --modality text')
    .action(
      async (
        inputs: string[],
        opts: {
          pack: string;
          modality: Modality;
          providers: EmbedProvider[];
          windowMs?: number;
          hopMs?: number;
          whole?: boolean;
          stateDir?: string;
          logLevel: string;
        },
      ) => {
        try {
          const logger = createLogger({ level: opts.logLevel });
          const results = await embedInputs(inputs, {
            ...(opts.whole ? { whole: true } : {}),
            pack: opts.pack,
            modality: opts.modality,
            providers: opts.providers,
            ...(opts.windowMs !== undefined ? { windowMs: opts.windowMs } : {}),
            ...(opts.hopMs !== undefined ? { hopMs: opts.hopMs } : {}),
            ...(opts.stateDir !== undefined ? { stateDir: resolve(opts.stateDir) } : {}),
            logger,
          });
          process.stdout.write(`${JSON.stringify(results)}\n`);
        } catch (err) {
          reportAndExit(err);
        }
      },
    );
}
