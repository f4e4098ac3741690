/** `--since`/`--until` values of the history and clips commands. Light: clips loads no encoders. */
import { InvalidArgumentError } from 'commander';
import { parseWhen } from '../history/when.js';

/** `24h`, `30m`, `90s`, `2d` before now, or an ISO 8601 time: Unix epoch milliseconds. */
export function parseSince(value: string, now = Date.now()): number {
  const t = parseWhen(value, now);
  if (t !== undefined) return t;
  throw new InvalidArgumentError(
    `expected a duration such as 24h, 30m, 90s, 2d or an ISO 8601 time, got "${value}"`,
  );
}
