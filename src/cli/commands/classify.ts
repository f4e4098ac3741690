/**
 * `edgebind classify --pack DIR --modality M FILE --labels "a,b,c"`: zero-shot scores of a
 * recording's windows (cut as the agent cuts them), each window's labels ranked by score, then
 * the ranking averaged over the file. The same table as the agent's score inspection.
 *
 * `--plot FILE.svg` (issue 17 item 9) also runs the windows through the agent's fusion stage and
 * event tracker and draws, per label, its score line, its two thresholds and its events; with
 * `--config` the labels, thresholds, scoring and events timing are an agent config's, so a label
 * is tuned in its own file and looked at again.
 */
import { writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { Logger } from 'pino';
import { defaultStateDir, loadConfig, type ResolvedConfig } from '../../config/load.js';
import { EventsSchema, FusionSchema, ScoringSchema, type LabelConfig } from '../../config/schema.js';
import { openEncoders } from '../../encoders/registry.js';
import type { EncoderSet } from '../../encoders/types.js';
import { buildLabelSet } from '../../labels/build.js';
import type { LabelWarning } from '../../labels/coverage.js';
import { embedWindows } from '../../encoders/embed.js';
import { FusionStage } from '../../fusion/fusion.js';
import type { LabelSet } from '../../fusion/label-set.js';
import { EventTracker, type TrackedEvent } from '../../fusion/tracker.js';
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
import { SENSOR_MODALITIES, type Modality, type SensorModality, type Window } from '../../pipeline/types.js';
import { reportAndExit } from '../errors.js';
import { scoreTimelineSvg, type ScoreSeries } from '../plots.js';

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

/** A score in [0, 1] (`--threshold`, `--off-threshold`). */
export function parseScore(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError(`expected a score from 0 to 1, got "${value}"`);
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
  /** Label names; each is also its prompt. Not with `config`. */
  labels?: readonly string[];
  /**
   * An agent config instead of `labels`: its labels that listen to `modality`, with their
   * thresholds, and its scoring, fusion smoothing and events timing.
   */
  config?: ResolvedConfig;
  /** On-threshold of every `labels` label (default scoring.threshold). */
  threshold?: number;
  /** Off-threshold of every `labels` label (default: the on-threshold). */
  offThreshold?: number;
  /**
   * Also run the agent's fusion and event tracker over the windows (`timeline` in the result);
   * always done with `config`.
   */
  timeline?: boolean;
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
  /**
   * Per label, the score the event tracker saw at each window (at the window's middle), its
   * thresholds and the events it produced; only when asked for (`timeline`).
   */
  timeline?: ScoreSeries[];
  /** Length of the recording as windowed, ms (the end of the last window). */
  durationMs?: number;
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
  const { config } = opts;
  if (config && (opts.labels || opts.imagebindScores || opts.temperature !== undefined)) {
    throw new InvalidArgumentError(
      '--config takes the labels and scoring from the config file; drop --labels, --temperature and --imagebind-scores (set scoring.mode: imagebind in the config instead)',
    );
  }
  if (!config && (opts.labels ?? []).length === 0)
    throw new InvalidArgumentError('give --labels "a,b,c" or --config FILE');
  if (config && (opts.threshold !== undefined || opts.offThreshold !== undefined)) {
    throw new InvalidArgumentError(
      "--threshold and --off-threshold are for --labels; with --config, set each label's threshold and offThreshold in the config",
    );
  }
  if (opts.threshold !== undefined && opts.offThreshold !== undefined && opts.offThreshold > opts.threshold) {
    throw new InvalidArgumentError(
      `--off-threshold ${opts.offThreshold} must not exceed --threshold ${opts.threshold} (an open event ends below the off-threshold)`,
    );
  }
  const scoring =
    config?.scoring ??
    ScoringSchema.parse({
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(opts.imagebindScores ? { mode: 'imagebind' } : {}),
    });
  const labelConfigs = config
    ? labelsHearing(config, opts.modality)
    : opts.labels!.map((p): LabelConfig => ({
        name: labelName(p),
        prompts: [p],
        textWeight: 1,
        examples: [],
        modalities: [opts.modality],
        ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
        ...(opts.offThreshold !== undefined ? { offThreshold: opts.offThreshold } : {}),
      }));
  const set = await buildLabelSet({
    labels: labelConfigs,
    scoring,
    ...(config ? { fusionMode: config.fusion.mode, baseDir: dirname(config.source) } : {}),
    modalities: [opts.modality],
    text: opts.encoders.text,
    pack: opts.encoders.pack,
    cacheDir: resolve(opts.stateDir ?? config?.stateDir ?? defaultStateDir(), 'label-cache'),
  });
  const scorer = new Scorer(set, { temperature: scoring.temperature });
  const window = opts.window ?? (config ? sensorWindow(config, opts.modality) : undefined);
  const ws = await recordingWindows({
    file: opts.file,
    modality: opts.modality,
    ...(window ? { window } : {}),
    ...(opts.whole ? { whole: true } : {}),
  });
  let scoreWindow: (i: number) => WindowScores;
  let vectors: Float32Array[] | undefined;
  if (opts.imagebindScores) {
    // The model's own outputs, as ImageBind's forward returns them (clip mean not re-normalised).
    const encoder = opts.encoders.windows.get(opts.modality);
    if (!encoder?.embedRaw || !opts.encoders.text.embedRaw) {
      throw new TypeError('classify --imagebind-scores: the encoders do not give their raw outputs');
    }
    const raw = await embedWindows(opts.encoders, opts.modality, ws, { raw: true });
    const texts = await opts.encoders.text.embedRaw(opts.labels!);
    scoreWindow = (i) => imageBindScores(raw[i]!, texts);
  } else {
    const vs = await embedWindows(opts.encoders, opts.modality, ws);
    vectors = vs;
    scoreWindow = (i) => scorer.score(opts.modality, vs[i]!);
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
  const result: ClassifyResult = { windows, overall, warnings: [...(set.warnings ?? [])] };
  if (opts.timeline || config) {
    if (!vectors) {
      throw new InvalidArgumentError(
        '--plot draws the scores the agent tracks events on; --imagebind-scores is not that score (set scoring.mode: imagebind in a --config instead)',
      );
    }
    result.timeline = scoreTimeline({
      set,
      settings: {
        scoring,
        fusion: config?.fusion ?? FusionSchema.parse({}),
        events: config?.events ?? EventsSchema.parse({}),
      },
      windows: ws,
      vectors,
    });
    result.durationMs = ws.length > 0 ? ws[ws.length - 1]!.endMs : 0;
  }
  return result;
}

/** The config's labels that listen to `modality`, each narrowed to it (classify reads one file). */
function labelsHearing(config: ResolvedConfig, modality: SensorModality): LabelConfig[] {
  const out = config.labels
    .filter((l) => l.modalities === undefined || l.modalities.includes(modality))
    .map((l) => ({ ...l, modalities: [modality] }));
  if (out.length === 0) {
    throw new InvalidArgumentError(
      `no label of ${config.source} listens to ${modality} (labels[].modalities); nothing to classify`,
    );
  }
  return out;
}

/** The window of the config's first sensor of `modality`, as the agent cuts it. */
function sensorWindow(
  config: ResolvedConfig,
  modality: SensorModality,
): { lengthMs: number; hopMs: number } | undefined {
  const s = config.sensors.find((x) => x.modality === modality) as
    { window?: { lengthMs: number; hopMs: number } } | undefined;
  return s?.window;
}

/**
 * The windows through the agent's own fusion stage and event tracker, one sensor: per label the
 * score the tracker compares with its thresholds (smoothing included) and the events that came
 * out. Times are the recording's (ms from its start); the tracker's wall clock is the same.
 */
export function scoreTimeline(opts: {
  set: LabelSet;
  settings: Pick<ResolvedConfig, 'scoring' | 'fusion' | 'events'>;
  windows: readonly Window[];
  vectors: readonly Float32Array[];
}): ScoreSeries[] {
  const { set, settings } = opts;
  const fusion = new FusionStage(set, {
    temperature: settings.scoring.temperature,
    toleranceMs: settings.fusion.toleranceMs,
    weights: settings.fusion.weights,
    smoothingWindows: settings.scoring.smoothingWindows,
    smoothing: settings.scoring.smoothing,
  });
  const tracker = new EventTracker({
    labels: set.labels.map((l) => ({
      name: l.name,
      onThreshold: l.onThreshold,
      offThreshold: l.offThreshold,
      timing: l.timing,
    })),
    timing: settings.events,
    toWallMs: (ms) => ms,
  });
  const series = new Map<string, ScoreSeries>(
    set.labels.map((l) => [
      l.name,
      { label: l.name, onThreshold: l.onThreshold, offThreshold: l.offThreshold, points: [], events: [] },
    ]),
  );
  const collect = (events: readonly TrackedEvent[]) => {
    for (const e of events) {
      if (e.type !== 'end') continue;
      series.get(e.label)!.events.push({
        startMs: Date.parse(e.startTime),
        endMs: Date.parse(e.endTime!),
        endReason: e.endReason,
        peakScore: e.peakScore,
      });
    }
  };
  let lastEndMs = 0;
  opts.windows.forEach((w, i) => {
    const { observations } = fusion.add(
      { sensorId: w.sensorId, modality: w.modality, startMs: w.startMs, endMs: w.endMs },
      opts.vectors[i]!,
    );
    for (const o of observations) {
      series.get(o.label)!.points.push({ tMs: (w.startMs + w.endMs) / 2, score: o.score });
      collect(tracker.observe(o));
    }
    lastEndMs = Math.max(lastEndMs, w.endMs);
  });
  collect(tracker.flush(lastEndMs));
  return [...series.values()];
}

/** The picture `--plot` writes. */
export function classifyPlot(
  r: ClassifyResult,
  what: { file: string; modality: SensorModality; pack: string },
): Promise<string> {
  return scoreTimelineSvg({
    title: `${basename(what.file)} (${what.modality}, pack ${what.pack}): score per label, thresholds, events`,
    durationMs: r.durationMs ?? 0,
    labels: r.timeline ?? [],
  });
}

export function formatClassify(r: ClassifyResult): string {
  const parts = r.windows.map(
    (w) =>
      `window ${(w.startMs / 1000).toFixed(2)}-${(w.endMs / 1000).toFixed(2)} s\n${formatRanking(w.top)}`,
  );
  parts.push(`mean over ${r.windows.length} windows\n${formatRanking(r.overall)}`);
  if (r.timeline) {
    const lines = r.timeline
      .flatMap((s) => s.events.map((e) => ({ label: s.label, ...e })))
      .sort((a, b) => a.startMs - b.startMs)
      .map(
        (e) =>
          `  ${(e.startMs / 1000).toFixed(1)}-${(e.endMs / 1000).toFixed(1)} s  ${e.label}  peak ${e.peakScore.toFixed(2)}  ended: ${e.endReason ?? 'open'}`,
      );
    parts.push(
      `events (as the agent's tracker makes them from these scores)\n${lines.join('\n') || '  none'}`,
    );
  }
  for (const w of r.warnings) parts.push(`warning: ${w.message}`);
  return parts.join('\n\n');
}

export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('rank labels by zero-shot score for each window of a recording (WAV or .ebf)')
    .option(
      '--pack <dir>',
      'model pack directory, or "test" for the random-weight test pack (default with --config: its encoders.pack)',
    )
    .requiredOption('-m, --modality <m>', `one of ${SENSOR_MODALITIES.join(', ')}`, parseModality)
    .option(
      '--labels <list>',
      'comma-separated labels, e.g. "a dog barking,an alarm beeping"',
      parseLabelList,
    )
    .option(
      '-c, --config <file>',
      "an agent config instead of --labels: its labels that listen to --modality, their thresholds, its scoring, smoothing, events timing and the sensor's window",
    )
    .option(
      '--plot <file.svg>',
      'also draw, per label, its score over time, its threshold and offThreshold and the events the tracker made (SVG)',
    )
    .option(
      '--threshold <score>',
      'on-threshold of every --labels label (default scoring.threshold, 0.5)',
      parseScore,
    )
    .option(
      '--off-threshold <score>',
      'off-threshold of every --labels label (default: --threshold)',
      parseScore,
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
          pack?: string;
          modality: SensorModality;
          labels?: string[];
          config?: string;
          plot?: string;
          threshold?: number;
          offThreshold?: number;
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
          checkWhole(opts, opts.modality);
          if (opts.plot !== undefined && opts.whole)
            throw new InvalidArgumentError(
              '--plot draws scores over time; --whole gives one window, nothing to draw',
            );
          if (opts.labels === undefined && opts.config === undefined)
            throw new InvalidArgumentError('give --labels "a,b,c" or --config FILE');
          const config = opts.config !== undefined ? await loadConfig(opts.config) : undefined;
          const pack = opts.pack ?? config?.encoders.pack;
          if (pack === undefined)
            throw new InvalidArgumentError('give --pack DIR (or "test"), or --config FILE');
          const stateDir = opts.stateDir ?? config?.stateDir;
          const logger = createLogger({ level: opts.logLevel });
          const encoders = await openPackEncoders({
            pack,
            modality: opts.modality,
            logger,
            ...(stateDir !== undefined ? { stateDir } : {}),
          });
          try {
            const window =
              opts.windowMs !== undefined
                ? { lengthMs: opts.windowMs, hopMs: opts.hopMs ?? opts.windowMs }
                : undefined;
            const r = await classifyFile({
              encoders,
              modality: opts.modality,
              file,
              ...(opts.labels ? { labels: opts.labels } : {}),
              ...(config ? { config } : {}),
              ...(opts.plot !== undefined ? { timeline: true } : {}),
              ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
              ...(opts.offThreshold !== undefined ? { offThreshold: opts.offThreshold } : {}),
              ...(window ? { window } : {}),
              ...(opts.whole ? { whole: true } : {}),
              ...(opts.imagebindScores ? { imagebindScores: true } : {}),
              ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
              ...(opts.top !== undefined ? { top: opts.top } : {}),
              ...(stateDir !== undefined ? { stateDir } : {}),
            });
            if (opts.plot !== undefined) {
              const packName = `${encoders.pack.id} ${encoders.pack.version}`;
              await writeFile(
                opts.plot,
                await classifyPlot(r, { file, modality: opts.modality, pack: packName }),
              );
              const events = (r.timeline ?? []).reduce((n, s) => n + s.events.length, 0);
              process.stderr.write(
                `${opts.plot}: ${r.timeline?.length ?? 0} labels, ${r.windows.length} windows, ${events} events\n`,
              );
            }
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
