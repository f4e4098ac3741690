/**
 * Runs the `edgebind` CLI from source as a user runs it (a real subprocess through tsx), without
 * blocking the test's event loop, and gives back its exit code and output.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './agent-config.js';

export const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory (relative paths in args resolve against it). */
  cwd: string;
  /** Killed with SIGKILL after this long, so a hung CLI fails its test instead of the suite. */
  killAfterMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function runCli(args: readonly string[], options: CliOptions): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, EDGEBIND_DEBUG: '', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 120_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
