/** How the CLI reports failures: one readable line (or block for config problems), no stack trace. */
import { CommanderError } from 'commander';
import { EXIT_CONFIG, EdgebindError, exitCodeFor } from '../errors.js';

/**
 * A usage error found after parsing (an `InvalidArgumentError` thrown by a command's own checks,
 * e.g. `--whole` with `--window-ms`) exits 2, as commander's own usage errors do (program.ts).
 */
function exitCode(err: unknown): number {
  return err instanceof CommanderError ? EXIT_CONFIG : exitCodeFor(err);
}

export function reportAndExit(err: unknown): never {
  process.exitCode = exitCode(err);
  const msg =
    err instanceof EdgebindError ? err.message : err instanceof Error ? `${err.message}` : String(err);
  const hint = err instanceof CommanderError ? ' (run with --help for usage)' : '';
  process.stderr.write(`edgebind: ${msg}${hint}\n`);
  if (process.env.EDGEBIND_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(process.exitCode);
}
