/**
 * What a config reload (SIGHUP) changes: every key path whose value differs, sorted by the one
 * declaration of live keys (config/live.ts). It compares plain values and reads no schema.
 */
import { ConfigSchema, type Config } from '../config/schema.js';
import { liveKeyOf, type LiveKey } from '../config/live.js';

export interface ConfigChanges {
  /** Changed paths a running agent applies at once, e.g. `log.level`, `labels[1].threshold`. */
  live: string[];
  /** The live keys those paths fall under, each once (`labels`, `log.level`). */
  liveKeys: LiveKey[];
  /** Changed paths that take effect only after a restart, e.g. `mqtt.broker`. */
  restartRequired: string[];
}

/** The config's own keys; a resolved config also carries `source`, which is no setting. */
const CONFIG_KEYS: ReadonlySet<string> = new Set(Object.keys(ConfigSchema.shape));

/** Compares two configs (parsed or resolved). */
export function diffConfig(oldConfig: object, newConfig: object): ConfigChanges {
  const paths: string[] = [];
  const a = oldConfig as Record<string, unknown>;
  const b = newConfig as Record<string, unknown>;
  for (const key of CONFIG_KEYS) walk(a[key], b[key], key, paths);
  const out: ConfigChanges = { live: [], liveKeys: [], restartRequired: [] };
  for (const path of paths) {
    const key = liveKeyOf(path);
    if (key === undefined) out.restartRequired.push(path);
    else {
      out.live.push(path);
      if (!out.liveKeys.includes(key)) out.liveKeys.push(key);
    }
  }
  return out;
}

/** `running` with one applied live key taken from `next`, so later reloads compare against it. */
export function adopt<C extends Pick<Config, 'labels' | 'log' | 'scoring' | 'events' | 'fusion'>>(
  running: C,
  next: C,
  key: LiveKey,
): C {
  switch (key) {
    case 'labels':
    case 'scoring':
    case 'events':
    case 'fusion':
      return { ...running, [key]: next[key] };
    case 'log.level':
      return { ...running, log: { ...running.log, level: next.log.level } };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Objects are compared key by key and lists of objects element by element (`labels[1]`); lists
 * of scalars (prompts, providers) and anything else that differs are one path.
 */
function walk(a: unknown, b: unknown, path: string, out: string[]): void {
  if (equal(a, b)) return;
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      walk(a[key], b[key], `${path}.${key}`, out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b) && (a.some(isObject) || b.some(isObject))) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  out.push(path);
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => equal(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => equal(a[k], b[k]));
  }
  return false;
}
