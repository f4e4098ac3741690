/** `edgebind run --config FILE`: the daemon. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../log.js';
import { startAgent } from '../../main.js';
import { reportAndExit } from '../errors.js';
import { runUntilStopped } from '../lifecycle.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the agent with a config file until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--mqtt-url <url>', 'broker URL (overrides mqtt.broker)')
    .option('--device-id <id>', 'device id (overrides deviceId)')
    .action(async (opts: { config: string; mqttUrl?: string; deviceId?: string }) => {
      try {
        const config = await loadConfig(opts.config, {
          ...(opts.mqttUrl !== undefined ? { mqttUrl: opts.mqttUrl } : {}),
          ...(opts.deviceId !== undefined ? { deviceId: opts.deviceId } : {}),
        });
        const logger = createLogger({ level: config.log.level });
        logger.info(
          { config: config.source, deviceId: config.deviceId },
          `edgebind starting as ${config.deviceId}`,
        );
        const agent = await startAgent({ config, logger });
        process.exit(await runUntilStopped(agent, logger));
      } catch (err) {
        reportAndExit(err);
      }
    });
}
