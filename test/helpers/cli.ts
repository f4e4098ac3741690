/**
 * Runs the `edgebind` CLI from source as a user runs it (a real subprocess through tsx), without
 * blocking the test's event loop, and gives back its exit code and output; or, for tests of what a
 * terminal shows, synchronously into a pipe and under a pseudo-terminal.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
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

export interface CliSyncOptions {
  cwd: string;
  /** Killed after this long (spawnSync's `timeout`). */
  timeoutMs: number;
  /** Over the test's own environment. */
  env?: NodeJS.ProcessEnv;
}

/** The CLI with its stdout and stderr each into a pipe, as a script or a log collector runs it. */
export function runCliSync(args: readonly string[], options: CliSyncOptions): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs,
    env: { ...process.env, ...options.env },
  });
}

const shellQuote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * The CLI on a pseudo-terminal, as a user's shell runs it: `script` (util-linux) gives it one, and
 * its stdout and stderr both arrive on the result's `stdout`.
 */
export function runCliOnTerminal(args: readonly string[], options: CliSyncOptions): SpawnSyncReturns<string> {
  const command = [process.execPath, '--import', TSX, CLI, ...args].map(shellQuote).join(' ');
  return spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs,
    env: { ...process.env, ...options.env },
  });
}
