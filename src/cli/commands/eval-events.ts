/**
 * `edgebind eval-events --config FILE --truth FILE`: runs the agent over the config's replay sensors
 * (once, as fast as it goes, in deterministic time order) and prints per-label event precision,
 * recall and start/end timing error against the ground truth `[{label, startMs, endMs}]`.
 */
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { readTruth, runEval, type EvalReport } from '../../eval/harness.js';
import { DEFAULT_TOLERANCE_MS, type TruthInterval } from '../../eval/metrics.js';
import { createLogger } from '../../log.js';
import { reportAndExit } from '../errors.js';
import { eventTimelineSvg, type EventTimeline } from '../plots.js';
import { progress } from '../progress.js';
import { parseMs } from './classify.js';

/** Truth against detected events, per label, for `--plot`. */
export function eventTimeline(
  report: Pick<EvalReport, 'detected' | 'metrics'>,
  truth: readonly TruthInterval[],
  title: string,
): EventTimeline {
  const matchedIds = new Set(report.metrics.matches.map((m) => m.eventId));
  const matchedTruth = new Set(report.metrics.matches.map((m) => m.truth));
  const ends = [...truth.map((t) => t.endMs), ...report.detected.map((e) => e.endMs)];
  return {
    title,
    durationMs: Math.max(1000, ...ends),
    labels: report.metrics.labels.map((l) => ({
      label: l.label,
      truth: truth
        .filter((t) => t.label === l.label)
        .map((t) => ({ startMs: t.startMs, endMs: t.endMs, matched: matchedTruth.has(t) })),
      events: report.detected
        .filter((e) => e.label === l.label)
        .map((e) => ({ startMs: e.startMs, endMs: e.endMs, matched: matchedIds.has(e.id) })),
    })),
  };
}

export function registerEvalEvents(program: Command): void {
  program
    .command('eval-events')
    .description('evaluate events on replayed recordings against ground-truth intervals')
    .requiredOption('-c, --config <file>', 'YAML config whose replay sensors are the recordings')
    .requiredOption(
      '-t, --truth <file>',
      'ground truth JSON: [{"label": "...", "startMs": 0, "endMs": 1000}], or the truth.json `simulate` writes',
    )
    .option('--tolerance-ms <ms>', 'slack when matching events to intervals', parseMs, DEFAULT_TOLERANCE_MS)
    .option('--json', 'print the full report as JSON')
    .option(
      '--plot <file.svg>',
      'also draw truth against detected events on a timeline, one row per label (SVG)',
    )
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(
      async (opts: {
        config: string;
        truth: string;
        toleranceMs: number;
        json?: boolean;
        plot?: string;
        logLevel: string;
      }) => {
        try {
          const config = await loadConfig(opts.config);
          const truth = await readTruth(opts.truth);
          const bar = progress('eval-events', { enabled: !opts.json });
          let windows = 0;
          const report = await runEval({
            config,
            truth,
            toleranceMs: opts.toleranceMs,
            logger: createLogger({ level: opts.logLevel }),
            ...(bar.active ? { onScores: () => bar.update('replaying; windows scored', ++windows) } : {}),
          });
          bar.finish();
          if (opts.plot !== undefined) {
            const t = report.metrics.total;
            await writeFile(
              opts.plot,
              await eventTimelineSvg(
                eventTimeline(
                  report,
                  truth,
                  `${basename(opts.truth)}: truth against events (${t.truePositives} of ${t.truth} found, ${t.falsePositives} false)`,
                ),
              ),
            );
            process.stderr.write(
              `${opts.plot}: ${report.metrics.labels.length} labels, ${truth.length} truth intervals, ${report.detected.length} events\n`,
            );
          }
          console.log(
            opts.json
              ? JSON.stringify({ metrics: report.metrics, detected: report.detected }, null, 2)
              : report.table,
          );
        } catch (err) {
          reportAndExit(err);
        }
      },
    );
}
