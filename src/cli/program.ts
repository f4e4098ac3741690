/** The `edgebind` command line (src/cli/index.ts runs it). Each command lives in src/cli/commands/. */
import { Command } from 'commander';
import { packageVersion } from '../util/package-version.js';

/**
 * Each top-level command and how to load it. A command's module pulls in its whole graph
 * (onnxruntime-node, mqtt, zod schemas, vega …: 1.5 s of module loading on an x86-64 core, more
 * on a Jetson), so only the command being run is loaded; all of them for help or a name that is
 * none of these (commander then lists them or suggests one); none for --version.
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  run: async () => (await import('./commands/run.js')).registerRun,
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  config: async () => (await import('./commands/config.js')).registerConfig,
  tokenize: async () => (await import('./commands/tokenize.js')).registerTokenize,
  features: async () => (await import('./commands/features.js')).registerFeatures,
  bench: async () => (await import('./commands/bench.js')).registerBench,
  sensors: async () => (await import('./commands/sensors.js')).registerSensors,
  record: async () => (await import('./commands/record.js')).registerRecord,
  simulate: async () => (await import('./commands/simulate.js')).registerSimulate,
  eval: async () => (await import('./commands/eval-pack.js')).registerEvalPack,
  doctor: async () => (await import('./commands/doctor.js')).registerDoctor,
  embed: async () => (await import('./commands/embed.js')).registerEmbed,
  classify: async () => (await import('./commands/classify.js')).registerClassify,
  label: async () => (await import('./commands/label.js')).registerLabel,
  'eval-events': async () => (await import('./commands/eval-events.js')).registerEvalEvents,
  history: async () => (await import('./commands/history.js')).registerHistory,
  clips: async () => (await import('./commands/clips.js')).registerClips,
};

/** The program for `argv` (process.argv): with only the command it names registered, if any. */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
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
  const name = argv.slice(2).find((a) => !a.startsWith('-'));
  const version = name === undefined && argv.some((a) => a === '-V' || a === '--version');
  const names = name !== undefined && name in COMMANDS ? [name] : version ? [] : Object.keys(COMMANDS);
  for (const n of names) (await COMMANDS[n]!())(program);
  return program;
}
