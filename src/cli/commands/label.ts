/**
 * `edgebind label from-example --pack DIR --modality M FILE...`: a few-shot prototype (mean
 * direction of the example files' window embeddings) as JSON with a base64 float32 vector and
 * metadata. Printed, or written with --out; a label uses it as `examples: [{ file: OUT }]`, or (over
 * MQTT, where files are refused) as `examples: [{ prototype: <the file's content> }]`.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { prototypeFromFiles } from '../../fusion/prototype.js';
import { createLogger } from '../../log.js';
import { SENSOR_MODALITIES, type SensorModality } from '../../pipeline/types.js';
import { reportAndExit } from '../errors.js';
import { checkWhole, openPackEncoders, parseModality, parseMs } from './classify.js';

export function registerLabel(program: Command): void {
  const label = program.command('label').description('build labels');
  label
    .command('from-example')
    .description('build a few-shot prototype from example recordings (JSON, base64 float32)')
    .requiredOption('--pack <dir>', 'model pack directory, or "test" for the random-weight test pack')
    .requiredOption('-m, --modality <m>', `one of ${SENSOR_MODALITIES.join(', ')}`, parseModality)
    .option('-o, --out <file>', 'write the prototype here instead of printing it')
    .option('--window-ms <ms>', 'window length (default: the modality default, as the agent)', parseMs)
    .option('--hop-ms <ms>', 'hop (default: --window-ms if given, else the modality default)', parseMs)
    .option('--whole', 'audio: each file embedded whole, as ImageBind does (3 clips of 2 s)')
    .option('--state-dir <dir>', 'where --pack test is generated')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .argument('<files...>', 'example recordings: .wav for audio, .ebf for thermal, depth, imu')
    .action(
      async (
        files: string[],
        opts: {
          pack: string;
          modality: SensorModality;
          out?: string;
          windowMs?: number;
          hopMs?: number;
          whole?: boolean;
          stateDir?: string;
          logLevel: string;
        },
      ) => {
        try {
          checkWhole(opts, opts.modality);
          const logger = createLogger({ level: opts.logLevel });
          const encoders = await openPackEncoders({ ...opts, logger });
          try {
            const proto = await prototypeFromFiles({
              encoders,
              modality: opts.modality,
              files,
              ...(opts.whole ? { whole: true } : {}),
              onNonFinite: (file, n, of) =>
                process.stderr.write(
                  `edgebind: warning: ${file}: ${n} of ${of} windows embedded to NaN or infinite values; left out\n`,
                ),
              ...(opts.windowMs !== undefined
                ? { window: { lengthMs: opts.windowMs, hopMs: opts.hopMs ?? opts.windowMs } }
                : {}),
            });
            const json = `${JSON.stringify(proto, null, 2)}\n`;
            if (opts.out) {
              await writeFile(opts.out, json);
              process.stderr.write(
                `${opts.out}: ${proto.modality} prototype from ${proto.windows} windows of ${proto.sources.length} files ` +
                  `(pack ${proto.pack.id} ${proto.pack.version}); in a config use it as  examples: [{ file: ${opts.out} }];\n` +
                  `  over MQTT: examples: [{ prototype: <the file's content> }]\n`,
              );
            } else process.stdout.write(json);
          } finally {
            await encoders.close();
          }
        } catch (err) {
          reportAndExit(err);
        }
      },
    );
}
