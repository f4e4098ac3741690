/**
 * `edgebind eval-events --config FILE --truth FILE`: runs the agent over the config's replay sensors
 * (once, as fast as it goes, in deterministic time order) and prints per-label event precision,
 * recall and start/end timing error against the ground truth `[{label, startMs, endMs}]`.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { readTruth, runEval } from '../../eval/harness.js';
import { DEFAULT_TOLERANCE_MS } from '../../eval/metrics.js';
import { createLogger } from '../../log.js';
import { reportAndExit } from '../errors.js';
import { parseMs } from './classify.js';

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
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(
      async (opts: {
        config: string;
        truth: string;
        toleranceMs: number;
        json?: boolean;
        logLevel: string;
      }) => {
        try {
          const config = await loadConfig(opts.config);
          const truth = await readTruth(opts.truth);
          const report = await runEval({
            config,
            truth,
            toleranceMs: opts.toleranceMs,
            logger: createLogger({ level: opts.logLevel }),
          });
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
