/** `edgebind config check FILE`: validates a config file without starting anything. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { checkLabelCoverage } from '../../labels/check.js';
import { createLogger } from '../../log.js';
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
        // Label coverage needs the pack's text encoder: a pack that cannot be opened is a bad
        // configuration (exit 2), found here rather than at `run`.
        const coverage = await checkLabelCoverage(cfg, createLogger({ level: 'warn' }));
        process.stdout.write(
          `${file}: OK — device ${cfg.deviceId}, ${enabled} sensor(s), ${cfg.labels.length} label(s), broker ${cfg.mqtt.broker}\n`,
        );
        if (!coverage.checked) process.stdout.write(`label coverage not checked: ${coverage.reason}\n`);
        for (const w of coverage.checked ? coverage.warnings : [])
          process.stdout.write(`warning: labels[${w.index}]: ${w.message}\n`);
      } catch (err) {
        reportAndExit(err);
      }
    });
}
