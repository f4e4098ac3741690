/** The `edgebind` command line (src/cli/index.ts runs it). Each command lives in src/cli/commands/. */
import { Command } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerClassify } from './commands/classify.js';
import { registerClips } from './commands/clips.js';
import { registerConfig } from './commands/config.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEmbed } from './commands/embed.js';
import { registerEvalEvents } from './commands/eval-events.js';
import { registerFeatures } from './commands/features.js';
import { registerHistory } from './commands/history.js';
import { registerLabel } from './commands/label.js';
import { registerRun } from './commands/run.js';
import { registerSensors } from './commands/sensors.js';
import { registerSimulate } from './commands/simulate.js';
import { registerTokenize } from './commands/tokenize.js';
import { packageVersion } from '../util/package-version.js';

export function buildProgram(): Command {
  const program = new Command('edgebind')
    .description(
      'Zero-shot multi-sensor event detection with ImageBind-style embeddings, published over MQTT',
    )
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Commander exits 1 on usage errors; 2 is the convention (and what systemd is told not to
    // retry). Set before the commands are added: subcommands copy it only when created.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  registerRun(program);
  registerDemo(program);
  registerConfig(program);
  registerTokenize(program);
  registerFeatures(program);
  registerBench(program);
  registerSensors(program);
  registerSimulate(program);
  registerDoctor(program);
  registerEmbed(program);
  registerClassify(program);
  registerLabel(program);
  registerEvalEvents(program);
  registerHistory(program);
  registerClips(program);
  return program;
}
