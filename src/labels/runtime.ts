/**
 * The agent's labels, wired in one call for the composition root (issue 16: labels/ owns them, not
 * mqtt/): the persisted set, which overrides the config file's; label-set building with the
 * agent's encoders and cache; the first set; the recent embeddings labels/test scores; and the
 * LabelService behind the labels/* requests.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { deviceStateDir, type ResolvedConfig } from '../config/load.js';
import type { LiveSettings } from '../config/live.js';
import type { LabelConfig } from '../config/schema.js';
import type { EncoderSet } from '../encoders/types.js';
import type { Clock } from '../pipeline/clock.js';
import type { SensorModality } from '../pipeline/types.js';
import { buildLabelSet, type BuiltLabelSet } from './build.js';
import { evaluateLabels } from './evaluate.js';
import { replayForRequest, setDim } from './replay.js';
import { EmbeddingRing } from './recent.js';
import { initialLabels, LabelService, type LabelServiceDeps } from './service.js';
import { LabelStore } from './store.js';

export interface AgentLabelsOptions {
  config: ResolvedConfig;
  encoders: Pick<EncoderSet, 'text' | 'pack'>;
  /** Modalities of the enabled sensors; labels apply to these unless they name their own. */
  modalities: readonly SensorModality[];
  logger: Logger;
  /** Swaps a built set into the pipeline: kept labels go on, removed labels' open events end. */
  apply: LabelServiceDeps<BuiltLabelSet>['apply'];
  /** After each applied change (the retained label list, discovery). */
  onChange: NonNullable<LabelServiceDeps<BuiltLabelSet>['onChange']>;
  /** Times the recent windows, so labels/test can say which span it scored. Default: the system clock. */
  clock?: Clock;
  /**
   * The scoring and fusion settings in effect, read at every build (SIGHUP changes them, issue 17
   * item 1). Default: the config's.
   */
  settings?: () => Pick<LiveSettings, 'scoring' | 'fusion' | 'events'>;
  /** Current time for labels/test's since and until (default Date.now). */
  now?: () => number;
}

export interface AgentLabels {
  /** The set the agent starts with. */
  readonly set: BuiltLabelSet;
  readonly service: LabelService<BuiltLabelSet>;
  /** Every fused window's embedding goes here, for labels/test. */
  readonly recent: EmbeddingRing;
}

export async function openAgentLabels(o: AgentLabelsOptions): Promise<AgentLabels> {
  const { config, logger } = o;
  const settings = o.settings ?? (() => config);
  const store = new LabelStore(deviceStateDir(config));
  const initial = initialLabels(store, config.labels, logger);
  const build = (labels: readonly LabelConfig[], opts: { persist?: boolean } = {}) =>
    buildLabelSet({
      labels,
      scoring: settings().scoring,
      fusionMode: settings().fusion.mode,
      modalities: o.modalities,
      text: o.encoders.text,
      pack: o.encoders.pack,
      cacheDir: join(config.stateDir, 'label-cache'),
      ...(opts.persist === false ? { persist: false } : {}),
      baseDir: dirname(config.source),
      logger,
    });
  const set = await build(initial.labels);
  logLabelSet(logger, set);
  const recent = new EmbeddingRing(config.remote.testWindows, o.clock);
  // labels/test with since replays the history (issue #18), one replay at a time: two at once
  // would only share the same core.
  const historyDir = config.history.enabled ? join(deviceStateDir(config), 'history') : undefined;
  let replayTurn: Promise<unknown> = Promise.resolve();
  const replay: LabelServiceDeps<BuiltLabelSet>['replay'] = (built, req) => {
    const now = (o.now ?? Date.now)();
    const run = replayTurn.then(() =>
      replayForRequest(req, {
        dir: historyDir!,
        set: built,
        settings: settings(),
        pack: { id: o.encoders.pack.id, version: o.encoders.pack.version },
        dim: setDim(built),
        maxWindows: config.remote.maxReplayWindows,
        now,
      }),
    );
    replayTurn = run.catch(() => undefined);
    return run;
  };
  const service = new LabelService<BuiltLabelSet>({
    store,
    limits: config.remote,
    build,
    apply: o.apply,
    evaluate: (candidate) => evaluateLabels(candidate, recent, settings().scoring.temperature),
    ...(historyDir !== undefined ? { replay } : {}),
    initial: { ...initial, hash: set.hash },
    onChange: o.onChange,
    logger,
  });
  return { set, service, recent };
}

function logLabelSet(log: Logger, set: BuiltLabelSet): void {
  const names = set.labels.map((l) => l.name);
  log.info(
    { labels: names, hash: set.hash.slice(0, 12) },
    `labels: ${names.length} active (${names.join(', ') || 'none'})`,
  );
  for (const w of set.warnings ?? []) log.warn({ code: w.code, label: w.label }, w.message);
}
