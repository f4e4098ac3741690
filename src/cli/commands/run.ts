/** `edgebind run --config FILE`: the daemon. */
import type { Command } from 'commander';
import { loadConfig, type Overrides } from '../../config/load.js';
import { Metrics } from '../../daemon/metrics.js';
import { adopt, diffConfig } from '../../daemon/reload.js';
import { SdNotifier } from '../../daemon/sd-notify.js';
import { createLogger } from '../../log.js';
import { startAgent } from '../../main.js';
import { reportAndExit } from '../errors.js';
import { eventLinesOnTerminal, logFormatOption, printEventLine, type LogFormat } from '../event-lines.js';
import type { EventPayload } from '../../mqtt/payloads.js';
import { daemonLifecycle, lockStateDir } from '../lifecycle.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the agent with a config file until SIGTERM/SIGINT (SIGHUP reloads the config)')
    .requiredOption('-c, --config <file>', 'YAML config file')
    .option('--mqtt-url <url>', 'broker URL (overrides mqtt.broker)')
    .option('--device-id <id>', 'device id (overrides deviceId)')
    .addOption(logFormatOption())
    .action(async (opts: { config: string; mqttUrl?: string; deviceId?: string; logFormat?: LogFormat }) => {
      // Signal handlers before anything slow (pack loading, engine builds): see lifecycle.ts.
      const life = daemonLifecycle();
      try {
        const overrides: Overrides = {
          ...(opts.mqttUrl !== undefined ? { mqttUrl: opts.mqttUrl } : {}),
          ...(opts.deviceId !== undefined ? { deviceId: opts.deviceId } : {}),
        };
        const config = await loadConfig(opts.config, overrides);
        const format = opts.logFormat ?? config.log.format;
        const logger = createLogger({ level: config.log.level, ...(format ? { format } : {}) });
        life.setLogger(logger);
        logger.info(
          { config: config.source, deviceId: config.deviceId },
          `edgebind starting as ${config.deviceId}`,
        );
        // Before anything that touches stateDir (outbox, label store, caches) or binds a port.
        const lock = await lockStateDir(config.stateDir, logger);
        const notifier = await SdNotifier.open({ logger });
        life.setNotifier(notifier);
        let metrics: Metrics | undefined;
        if (config.metrics.enabled) {
          metrics = new Metrics({ port: config.metrics.port, host: config.metrics.host, logger });
          await metrics.listen();
        }
        // The config in effect: SIGHUP adopts the live keys it applied (below).
        let current = config;
        // On a terminal, the same event lines as `demo` (issue 17 item 5); elsewhere with
        // events.print, which SIGHUP may turn on or off.
        const onTerminal = eventLinesOnTerminal();
        const onEvent = (e: EventPayload) => {
          if (onTerminal || current.events.print) printEventLine(e);
        };
        const agent = await life.whileStarting(
          startAgent({ config, logger, onEvent, ...(metrics ? { metrics } : {}) }),
        );
        let statsTimer: NodeJS.Timeout | undefined;
        if (metrics) {
          const m = metrics;
          m.setStats(agent.stats());
          statsTimer = setInterval(() => m.setStats(agent.stats()), config.metrics.statsIntervalMs);
          statsTimer.unref();
        }
        const sensors = config.sensors.filter((s) => s.enabled).length;
        const running = `running as ${config.deviceId}: ${sensors} sensor(s), broker ${agent.brokerUrl}`;
        logger.info(`edgebind ${running}`);
        notifier.ready(running);
        if (notifier.watchdogMs !== undefined)
          logger.debug(`systemd watchdog: pinging every ${notifier.watchdogMs} ms`);

        // SIGHUP: live keys (config/live.ts) apply now, every other change is named as needing a
        // restart. The config in effect stays the one compared against: a change not applied is
        // reported again on the next SIGHUP instead of being forgotten.
        const onReload = async () => {
          const next = await loadConfig(opts.config, overrides);
          const changes = diffConfig(current, next);
          if (changes.live.length === 0 && changes.restartRequired.length === 0) {
            logger.info('config reloaded: no changes');
            return;
          }
          if (changes.restartRequired.length > 0)
            logger.warn(
              { restartRequired: changes.restartRequired },
              `config reloaded: these changes need a restart: ${changes.restartRequired.join(', ')}`,
            );
          for (const outcome of await agent.reconfigure(next, changes.liveKeys)) {
            if (outcome.applied) {
              current = adopt(current, next, outcome.key);
              logger.info(`config reloaded: ${outcome.key} applied`);
            } else
              logger.warn(
                { key: outcome.key, reason: outcome.reason },
                `config reloaded: ${outcome.key} not applied: ${outcome.reason}`,
              );
          }
          if (changes.liveKeys.includes('log.level')) {
            logger.level = next.log.level;
            current = adopt(current, next, 'log.level');
            logger.info(`config reloaded: log level ${next.log.level}`);
          }
        };
        const code = await life.run(agent, { onReload, notifier });
        clearInterval(statsTimer);
        await metrics?.close();
        lock.release();
        process.exit(code);
      } catch (err) {
        reportAndExit(err);
      }
    });
}
