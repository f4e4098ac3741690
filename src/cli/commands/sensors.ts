/**
 * `edgebind sensors probe`: lists the I2C chips, serial ports, ALSA and V4L2 devices it finds.
 * `registerSensors` also registers `edgebind record` (record.ts), so the CLI needs one line for both.
 */
import type { Command } from 'commander';
import { probeSensors, type ProbeDeps } from '../../sensors/probe.js';

export interface SensorsDeps extends ProbeDeps {
  stdout?: { write(chunk: string): unknown };
}

export async function probeAction(deps: SensorsDeps = {}): Promise<string[]> {
  const lines = await probeSensors(deps);
  (deps.stdout ?? process.stdout).write(`${lines.join('\n')}\n`);
  return lines;
}

export function registerSensors(program: Command, deps: SensorsDeps = {}): void {
  const sensors = program.command('sensors').description('inspect attached sensors');
  sensors
    .command('probe')
    .description(
      'list I2C chips at known addresses, serial ports, ALSA capture devices and V4L2 nodes with formats',
    )
    .action(async () => {
      await probeAction(deps);
    });
}
