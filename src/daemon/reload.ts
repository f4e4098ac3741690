/**
 * What a config reload (SIGHUP) changes: every key path whose value differs, split by the
 * schema's `restartRequired` metadata (src/config/schema.ts `.meta()`). A path needs a restart
 * when the field itself or any object, array or wrapper above it is marked.
 */
import type { z } from 'zod';
import { ConfigSchema } from '../config/schema.js';

export interface ConfigChanges {
  /** Changed paths a running agent may apply at once, e.g. `log.level`, `labels[1].threshold`. */
  live: string[];
  /** Changed paths that take effect only after a restart, e.g. `mqtt.broker`. */
  restartRequired: string[];
}

/** Compares two configs (parsed or resolved; keys outside the schema, like `source`, are ignored). */
export function diffConfig(
  oldConfig: unknown,
  newConfig: unknown,
  schema: z.ZodType = ConfigSchema,
): ConfigChanges {
  const out: ConfigChanges = { live: [], restartRequired: [] };
  walk(schema, oldConfig, newConfig, '', false, out);
  return out;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  in?: z.ZodType;
  out?: z.ZodType;
  values?: unknown[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function marked(s: z.ZodType): boolean {
  const meta = s.meta() as { restartRequired?: unknown } | undefined;
  return meta?.restartRequired === true;
}

/** Strips optional/default/nullable/pipe wrappers, noting restart metadata on any of them. */
function unwrap(s: z.ZodType): { core: z.ZodType; restart: boolean } {
  let restart = marked(s);
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    const next = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
    if (!next) return { core: cur, restart };
    cur = next;
    restart ||= marked(cur);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function walk(
  schema: z.ZodType | undefined,
  a: unknown,
  b: unknown,
  path: string,
  inherited: boolean,
  out: ConfigChanges,
): void {
  if (equal(a, b)) return;
  const { core, restart: here } = schema ? unwrap(schema) : { core: undefined, restart: false };
  const restart = inherited || here;
  const leaf = (): void => {
    (restart ? out.restartRequired : out.live).push(path || '(root)');
  };
  if (!core) return leaf();
  const d = defOf(core);
  if (d.type === 'object' && d.shape && isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const child = d.shape[key];
      if (!child) continue; // not a config key (e.g. `source` of a resolved config)
      walk(child, a[key], b[key], path ? `${path}.${key}` : key, restart, out);
    }
    return;
  }
  // Lists of objects are compared element by element; lists of scalars (prompts, providers) whole.
  const elementType = d.element ? defOf(unwrap(d.element).core).type : undefined;
  if (
    d.type === 'array' &&
    (elementType === 'object' || elementType === 'union') &&
    Array.isArray(a) &&
    Array.isArray(b)
  ) {
    for (let i = 0; i < Math.max(a.length, b.length); i++)
      walk(d.element, a[i], b[i], `${path}[${i}]`, restart, out);
    return;
  }
  if (d.type === 'union' && d.options && isObject(a) && isObject(b)) {
    const option = pickOption(d, a, b);
    if (option) return walk(option, a, b, path, restart, out);
  }
  leaf();
}

/** The union member both values belong to (same discriminator value), if any. */
function pickOption(d: Def, a: Record<string, unknown>, b: Record<string, unknown>): z.ZodType | undefined {
  const key = d.discriminator;
  if (key === undefined || a[key] !== b[key]) return undefined;
  return d.options!.find((o) => {
    const lit = defOf(unwrap(o).core).shape?.[key];
    return lit !== undefined && (defOf(unwrap(lit).core).values ?? []).includes(b[key]);
  });
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
