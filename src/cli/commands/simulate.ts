/**
 * `edgebind simulate --scenario NAME|all --seed S --seconds N --out DIR`: renders simulated scenes
 * (src/sim) as replay recordings with ground truth; docs/simulator.md.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { basename, join } from 'node:path';
import { SCENARIOS, buildScenario, isScenario, type ScenarioName } from '../../sim/scenarios.js';
import { writeScene } from '../../sim/simulate.js';
import { reportAndExit } from '../errors.js';
import { progress } from '../progress.js';

export interface SimulateOptions {
  scenario: string;
  seed: number;
  seconds: number;
  out: string;
  /** Scenes per scenario, seeds seed, seed+1, … (written to NAME-k/). */
  repeat?: number;
  thermalHz?: number;
  depthHz?: number;
  prefix?: string;
  /** Told after each scene is written: how many of how many, and its directory. */
  onScene?: (done: number, total: number, dir: string) => void;
}

/** Renders the scenes; returns the directories written. */
export async function simulate(opts: SimulateOptions): Promise<string[]> {
  const names: ScenarioName[] = opts.scenario === 'all' ? [...SCENARIOS] : [opts.scenario as ScenarioName];
  if (opts.scenario !== 'all' && !isScenario(opts.scenario)) {
    throw new TypeError(`unknown scenario "${opts.scenario}"; one of: all, ${SCENARIOS.join(', ')}`);
  }
  const repeat = opts.repeat ?? 1;
  const single = names.length === 1 && repeat === 1;
  const dirs: string[] = [];
  for (const name of names) {
    for (let k = 0; k < repeat; k++) {
      const seed = opts.seed + k;
      const dir = single ? opts.out : join(opts.out, repeat === 1 ? name : `${name}-${k}`);
      const scene = buildScenario(name, seed, opts.seconds);
      await writeScene(scene, dir, {
        rates: {
          ...(opts.thermalHz !== undefined ? { thermalHz: opts.thermalHz } : {}),
          ...(opts.depthHz !== undefined ? { depthHz: opts.depthHz } : {}),
        },
        ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}),
      });
      dirs.push(dir);
      opts.onScene?.(dirs.length, names.length * repeat, dir);
    }
  }
  return dirs;
}

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${what} must be a positive number, got "${v}"`);
  return n;
};
const integer = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${what} must be a non-negative integer, got "${v}"`);
  return n;
};

/** Registers `simulate` and `eval` (src/cli/index.ts has one line for the simulator's commands). */
export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description(
      'render simulated scenes as replay recordings (audio, thermal, depth, IMU, RGB) with ground truth',
    )
    // Checked while parsing, so an unknown scenario is a usage error (exit 2) like any other.
    .addOption(
      new Option('--scenario <name>', 'a scenario, or all')
        .choices(['all', ...SCENARIOS])
        .makeOptionMandatory(),
    )
    .option('--seed <n>', 'random seed (same seed, same bytes)', integer('--seed'), 1)
    .option('--seconds <s>', 'length of each scene', positive('--seconds'), 30)
    .option('--repeat <n>', 'scenes per scenario, seeds seed..seed+n-1', integer('--repeat'), 1)
    .option('--thermal-hz <hz>', 'thermal frame rate (default 4)', positive('--thermal-hz'))
    .option('--depth-hz <hz>', 'depth frame rate (default 5)', positive('--depth-hz'))
    .requiredOption('-o, --out <dir>', 'output directory')
    .action(
      async (opts: {
        scenario: string;
        seed: number;
        seconds: number;
        repeat: number;
        thermalHz?: number;
        depthHz?: number;
        out: string;
      }) => {
        try {
          const bar = progress('simulate');
          bar.update('rendering scenes', 0, (opts.scenario === 'all' ? SCENARIOS.length : 1) * opts.repeat);
          const dirs = await simulate({
            ...opts,
            onScene: (done, total, dir) =>
              bar.update('rendering scenes', done, total, `(${basename(dir)} done)`),
          }).finally(() => bar.finish());
          console.log(`wrote ${dirs.length} scene${dirs.length === 1 ? '' : 's'} to ${opts.out}`);
        } catch (err) {
          reportAndExit(err);
        }
      },
    );
}
