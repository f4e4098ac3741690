/**
 * `edgebind classify --pack DIR --modality M FILE --labels "a,b,c"`: zero-shot scores of a
 * recording's windows (cut as the agent cuts them), each window's labels ranked by score, then
 * the ranking averaged over the file. The same table as the agent's score inspection.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Logger } from 'pino';
import { defaultStateDir } from '../../config/load.js';
import { ScoringSchema } from '../../config/schema.js';
import { openEncoders } from '../../encoders/registry.js';
import type { EncoderSet } from '../../encoders/types.js';
import { buildLabelSet } from '../../labels/build.js';
import type { LabelWarning } from '../../labels/coverage.js';
import { embedWindows } from '../../encoders/embed.js';
import { recordingWindows } from '../../sensors/replay/recording.js';
import {
  BACKGROUND,
  formatRanking,
  imageBindScores,
  Scorer,
  topK,
  type RankedLabel,
  type WindowScores,
} from '../../fusion/scoring.js';
import { createLogger } from '../../log.js';
import { SENSOR_MODALITIES, type Modality, type SensorModality } from '../../pipeline/types.js';
import { reportAndExit } from '../errors.js';

export interface PackOptions {
  /** Pack directory, or "test". */
  pack: string;
  modality: SensorModality;
  stateDir?: string;
  logger: Logger;
}

/** Opens the text encoder and one window encoder of a pack, as the agent would. */
export function openPackEncoders(opts: PackOptions): Promise<EncoderSet> {
  return openEncoders({
    config: {
      encoders: {
        pack: opts.pack === 'test' ? 'test' : resolve(opts.pack),
        providers: ['cpu'],
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: 8,
      },
      stateDir: opts.stateDir ?? defaultStateDir(),
    },
    modalities: [opts.modality],
    logger: opts.logger,
  });
}

export function parseModality(value: string): SensorModality {
  if (!(SENSOR_MODALITIES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${SENSOR_MODALITIES.join(', ')}, got "${value}"`);
  }
  return value as SensorModality;
}

export function parseMs(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected milliseconds > 0, got "${value}"`);
  return n;
}

/** A number > 0 that is not a duration (`--temperature`). */
export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

/** A count ≥ 1 (`--top`). */
export function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${value}"`);
  return n;
}

/** `--labels "a,b,c"`: the labels, blanks dropped; at least one. */
export function parseLabelList(value: string): string[] {
  const labels = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (labels.length === 0)
    throw new InvalidArgumentError(
      `expected comma-separated labels, e.g. "a dog barking,an alarm", got "${value}"`,
    );
  return labels;
}

/**
 * `--whole` (issue 20 item 3): ImageBind's own file embedding exists for audio only (its clip
 * sampler; thermal, depth and IMU have no ImageBind loader), and it is one window, so no window
 * length or hop goes with it.
 */
export function checkWhole(
  opts: { whole?: boolean; windowMs?: number; hopMs?: number },
  modality: Modality,
): void {
  if (!opts.whole) return;
  if (modality !== 'audio') {
    throw new InvalidArgumentError(
      `--whole is for audio only (ImageBind's file embedding: 3 clips of 2 s spread over the file); ` +
        `for ${modality} use --window-ms`,
    );
  }
  if (opts.windowMs !== undefined || opts.hopMs !== undefined) {
    throw new InvalidArgumentError(
      '--whole embeds each file as one window; it cannot be combined with --window-ms or --hop-ms',
    );
  }
}

export interface ClassifyOptions {
  encoders: EncoderSet;
  modality: SensorModality;
  file: string;
  /** Label names; each is also its prompt. */
  labels: readonly string[];
  window?: { lengthMs: number; hopMs: number };
  /** Audio: score the whole-file embedding (ImageBind's), one "window" spanning the file. */
  whole?: boolean;
  /**
   * ImageBind's own zero-shot scores: softmax(embedding @ text.T) of the pack's outputs (logit
   * scales included), each label's prompt as written, no background (`scoring.mode: imagebind`).
   */
  imagebindScores?: boolean;
  temperature?: number;
  stateDir?: string;
  top?: number;
}

export interface ClassifyResult {
  windows: { startMs: number; endMs: number; top: RankedLabel[] }[];
  /** Mean score per label over all windows, best first. */
  overall: RankedLabel[];
  /** Labels the pack cannot read or tell apart (src/labels/coverage.ts). */
  warnings: LabelWarning[];
}

/** Label names as given on the command line → valid label names (prompt kept as typed). */
export function labelName(prompt: string): string {
  const slug = prompt
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+|_+$/g, '')
    .slice(0, 64);
  return slug || 'label';
}

export async function classifyFile(opts: ClassifyOptions): Promise<ClassifyResult> {
  if (opts.imagebindScores && opts.temperature !== undefined) {
    throw new InvalidArgumentError(
      "--temperature cannot be combined with --imagebind-scores: the pack's logit scales set ImageBind's temperature",
    );
  }
  const scoring = ScoringSchema.parse({
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
    ...(opts.imagebindScores ? { mode: 'imagebind' } : {}),
  });
  const names = opts.labels.map(labelName);
  const set = await buildLabelSet({
    labels: opts.labels.map((p, i) => ({
      name: names[i]!,
      prompts: [p],
      textWeight: 1,
      examples: [],
      modalities: [opts.modality],
    })),
    scoring,
    modalities: [opts.modality],
    text: opts.encoders.text,
    pack: opts.encoders.pack,
    cacheDir: resolve(opts.stateDir ?? defaultStateDir(), 'label-cache'),
  });
  const scorer = new Scorer(set, { temperature: scoring.temperature });
  const ws = await recordingWindows({
    file: opts.file,
    modality: opts.modality,
    ...(opts.window ? { window: opts.window } : {}),
    ...(opts.whole ? { whole: true } : {}),
  });
  let scoreWindow: (i: number) => WindowScores;
  if (opts.imagebindScores) {
    // The model's own outputs, as ImageBind's forward returns them (clip mean not re-normalised).
    const encoder = opts.encoders.windows.get(opts.modality);
    if (!encoder?.embedRaw || !opts.encoders.text.embedRaw) {
      throw new TypeError('classify --imagebind-scores: the encoders do not give their raw outputs');
    }
    const raw = await embedWindows(opts.encoders, opts.modality, ws, { raw: true });
    const texts = await opts.encoders.text.embedRaw(opts.labels);
    scoreWindow = (i) => imageBindScores(raw[i]!, texts);
  } else {
    const vectors = await embedWindows(opts.encoders, opts.modality, ws);
    scoreWindow = (i) => scorer.score(opts.modality, vectors[i]!);
  }
  const k = opts.top ?? set.labels.length + 1;
  const sums = new Map<string, { score: number; cosine: number; n: number }>();
  const windows = ws.map((w, i) => {
    const all = topK(set.labels, scoreWindow(i), Infinity);
    for (const r of all) {
      const s = sums.get(r.label) ?? { score: 0, cosine: 0, n: 0 };
      sums.set(r.label, { score: s.score + r.score, cosine: s.cosine + (r.cosine ?? 0), n: s.n + 1 });
    }
    return { startMs: w.startMs, endMs: w.endMs, top: all.slice(0, k) };
  });
  const overall = [...sums]
    .map(([label, s]) => ({
      label,
      score: s.score / s.n,
      cosine: label === BACKGROUND ? null : s.cosine / s.n,
    }))
    .sort((a, b) => b.score - a.score || (a.label < b.label ? -1 : 1))
    .slice(0, k);
  return { windows, overall, warnings: [...(set.warnings ?? [])] };
}

export function formatClassify(r: ClassifyResult): string {
  const parts = r.windows.map(
    (w) =>
      `window ${(w.startMs / 1000).toFixed(2)}-${(w.endMs / 1000).toFixed(2)} s\n${formatRanking(w.top)}`,
  );
  parts.push(`mean over ${r.windows.length} windows\n${formatRanking(r.overall)}`);
  for (const w of r.warnings) parts.push(`warning: ${w.message}`);
  return parts.join('\n\n');
}

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('rank labels by zero-shot score for each window of a recording (WAV or .ebf)')
    .requiredOption('--pack <dir>', 'model pack directory, or "test" for the random-weight test pack')
    .requiredOption('-m, --modality <m>', `one of ${SENSOR_MODALITIES.join(', ')}`, parseModality)
    .requiredOption(
      '--labels <list>',
      'comma-separated labels, e.g. "a dog barking,an alarm beeping"',
      parseLabelList,
    )
    .option('--top <k>', 'labels per window (default: all)', parseCount)
    .option('--window-ms <ms>', 'window length (default: the modality default, as the agent)', parseMs)
    .option('--hop-ms <ms>', 'hop (default: --window-ms if given, else the modality default)', parseMs)
    .option('--whole', 'audio: score the whole-file embedding, as ImageBind does (3 clips of 2 s)')
    .option('--temperature <t>', 'softmax temperature (default: scoring.temperature default)', parsePositive)
    .option(
      '--imagebind-scores',
      "ImageBind's own zero-shot scores: softmax(embedding @ text.T) with the pack's logit scales, each label as written, no background",
    )
    .option('--json', 'print JSON instead of tables')
    .option('--state-dir <dir>', 'where --pack test is generated and label embeddings cached')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .argument('<file>', 'recording: .wav for audio, .ebf for thermal, depth, imu')
    .action(
      async (
        file: string,
        opts: {
          pack: string;
          modality: SensorModality;
          labels: string[];
          top?: number;
          windowMs?: number;
          hopMs?: number;
          whole?: boolean;
          temperature?: number;
          imagebindScores?: boolean;
          json?: boolean;
          stateDir?: string;
          logLevel: string;
        },
      ) => {
        try {
          const { labels } = opts;
          checkWhole(opts, opts.modality);
          const logger = createLogger({ level: opts.logLevel });
          const encoders = await openPackEncoders({ ...opts, logger });
          try {
            const window =
              opts.windowMs !== undefined
                ? { lengthMs: opts.windowMs, hopMs: opts.hopMs ?? opts.windowMs }
                : undefined;
            const r = await classifyFile({
              encoders,
              modality: opts.modality,
              file,
              labels,
              ...(window ? { window } : {}),
              ...(opts.whole ? { whole: true } : {}),
              ...(opts.imagebindScores ? { imagebindScores: true } : {}),
              ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
              ...(opts.top !== undefined ? { top: opts.top } : {}),
              ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
            });
            console.log(opts.json ? JSON.stringify(r) : formatClassify(r));
          } finally {
            await encoders.close();
          }
        } catch (err) {
          reportAndExit(err);
        }
      },
    );
}
