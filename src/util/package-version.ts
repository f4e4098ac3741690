/** The package's version, for `--version` and Home Assistant's `sw_version`; read once. */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** `version` of package.json (src/ and dist/ are both two levels below it); `0.0.0` if unreadable. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    cached = pkg.version ?? '0.0.0';
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
