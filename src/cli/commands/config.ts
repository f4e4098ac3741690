/** `edgebind config check FILE`: validates a config file without starting anything. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { reportAndExit } from '../errors.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('work with configuration files');
  config
    .command('check')
    .description('validate a config file; exit 0 if valid, 2 with each problem if not')
    .argument('<file>', 'YAML config file')
    .action(async (file: string) => {
      try {
        const cfg = await loadConfig(file);
        const enabled = cfg.sensors.filter((s) => s.enabled).length;
        process.stdout.write(
          `${file}: OK — device ${cfg.deviceId}, ${enabled} sensor(s), ${cfg.labels.length} label(s), broker ${cfg.mqtt.broker}\n`,
        );
      } catch (err) {
        reportAndExit(err);
      }
    });
}
