/**
 * Times as history searches take them (issue #18): the CLI's --since/--until and the
 * history/search request's since/until read them alike.
 */
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/**
 * `24h`, `30m`, `90s`, `2d` before `now`, or an ISO 8601 time (from `YYYY-MM-DD`): Unix epoch
 * milliseconds; undefined for anything else.
 */
export function parseWhen(value: string, now: number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim());
  if (m) return now - Number(m[1]) * UNIT_MS[m[2]!]!;
  const t = Date.parse(value);
  return /^\d{4}-\d{2}-\d{2}/.test(value) && Number.isFinite(t) ? t : undefined;
}
