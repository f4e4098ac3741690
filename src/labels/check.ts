/**
 * Label coverage of a config file's labels, for `config check` and `doctor` (issue #13): opens
 * only the pack's text encoder, builds the label set as the agent would (no cache written) and
 * returns its warnings.
 */
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import type { LabelConfig } from '../config/schema.js';
import { openEncoders } from '../encoders/registry.js';
import { buildLabelSet } from './build.js';
import type { LabelWarning } from './coverage.js';

export type CoverageReport =
  | { checked: true; pack: string; warnings: LabelWarning[] }
  /** Why nothing was checked (the random-weight test pack has no vocabulary). */
  | { checked: false; reason: string };

export async function checkLabelCoverage(
  config: ResolvedConfig,
  logger: Logger,
  labels: readonly LabelConfig[] = config.labels,
): Promise<CoverageReport> {
  if (config.encoders.pack === 'test')
    return { checked: false, reason: 'the test pack has random weights and no vocabulary' };
  const encoders = await openEncoders({
    config: { ...config, encoders: { ...config.encoders, providers: ['cpu'] } },
    modalities: [],
    logger,
  });
  try {
    const set = await buildLabelSet({
      labels,
      scoring: config.scoring,
      fusionMode: config.fusion.mode,
      modalities: [...new Set(config.sensors.filter((s) => s.enabled).map((s) => s.modality))],
      text: encoders.text,
      pack: encoders.pack,
      baseDir: dirname(config.source),
      logger,
    });
    return {
      checked: true,
      pack: `${encoders.pack.id}@${encoders.pack.version}`,
      warnings: [...(set.warnings ?? [])],
    };
  } finally {
    await encoders.close();
  }
}
