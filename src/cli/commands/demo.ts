/**
 * `edgebind demo`: the whole pipeline in one command — an embedded broker, the bundled sample
 * recordings replayed in real time, the test pack, and every event printed as a line.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { startAgent } from '../../main.js';
import { reportAndExit } from '../errors.js';
import { printEventLine, logFormatOption, type LogFormat } from '../event-lines.js';
import { daemonLifecycle, lockStateDir } from '../lifecycle.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../../examples/demo.yaml', import.meta.url));

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the agent on bundled sample recordings with an embedded MQTT broker')
    .option('-p, --port <n>', 'embedded broker port', (v) => parsePort(v), 18830)
    .option('-s, --seconds <s>', 'stop after this many seconds (default: run until Ctrl-C)', (v) =>
      parseSeconds(v),
    )
    .addOption(logFormatOption())
    .action(async (opts: { port: number; seconds?: number; logFormat?: LogFormat }) => {
      const life = daemonLifecycle(); // signals during start-up: see lifecycle.ts
      try {
        const config = await loadConfig(DEMO_CONFIG, { embeddedPort: opts.port });
        const format = opts.logFormat ?? config.log.format;
        const logger = createLogger({ level: config.log.level, ...(format ? { format } : {}) });
        life.setLogger(logger);
        const lock = await lockStateDir(config.stateDir, logger);
        const agent = await life.whileStarting(
          startAgent({
            config,
            logger,
            onEvent: printEventLine,
          }),
        );
        process.stdout.write(
          `edgebind demo: broker ${agent.brokerUrl}; watch it with\n` +
            `  mosquitto_sub -h 127.0.0.1 -p ${opts.port} -t '${config.mqtt.baseTopic}/#' -v\n` +
            `Ctrl-C stops.\n`,
        );
        const code = await life.run(agent, opts.seconds !== undefined ? { seconds: opts.seconds } : {});
        lock.release();
        process.exit(code);
      } catch (err) {
        reportAndExit(err);
      }
    });
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new InvalidArgumentError(`--port must be 1-65535, got "${v}"`);
  return n;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`--seconds must be a positive number, got "${v}"`);
  return n;
}
