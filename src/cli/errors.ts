/** How the CLI reports failures: one readable line (or block for config problems), no stack trace. */
import { EdgebindError, exitCodeFor } from '../errors.js';

export function reportAndExit(err: unknown): never {
  process.exitCode = exitCodeFor(err);
  const msg =
    err instanceof EdgebindError ? err.message : err instanceof Error ? `${err.message}` : String(err);
  process.stderr.write(`edgebind: ${msg}\n`);
  if (process.env.EDGEBIND_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(process.exitCode);
}
