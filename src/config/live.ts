/**
 * Which config keys a running agent applies on SIGHUP, and who applies them (issue 16 item 7).
 * This table is the one declaration: `edgebind run`'s reload (daemon/reload.ts) sorts changes by
 * it, the agent's `reconfigure` applies its keys, and the config reference's "restart" column and
 * the JSON Schema's `x-restart-required` are generated from it. Every key not listed needs a restart.
 */
import type { Config } from './schema.js';

/** Who applies a live key. */
export type LiveApplier =
  /** `edgebind run` sets its logger's level. */
  | 'logger'
  /**
   * The agent rebuilds the config file's label set and swaps it in (kept labels keep their open
   * events); a set persisted by labels/* requests overrides the file's, as it does at start.
   */
  | 'labels'
  /**
   * The agent rebuilds the running label set with them (default thresholds, templates, background
   * prompts, fusion mode) and hands fusion and the tracker the new settings in the same swap as a
   * label change (issue 17 item 1): open events of kept labels stay open under their id, and the
   * new thresholds and timing apply from the next window. A set persisted by labels/* requests
   * keeps its labels and is rebuilt with the file's new settings.
   */
  | 'settings';

/** Dotted key paths into the config's objects (arrays are one key: `labels`, not `labels[0]`). */
export type ConfigPath<T = Config> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: K | `${K}.${ConfigPath<NonNullable<T[K]>>}` }[keyof T & string]
    : never;

export const LIVE_KEYS = {
  'log.level': 'logger',
  labels: 'labels',
  scoring: 'settings',
  events: 'settings',
  fusion: 'settings',
} as const satisfies { readonly [P in ConfigPath]?: LiveApplier };

export type LiveKey = keyof typeof LIVE_KEYS;

/** The live keys the running label set is built and fused with (`LiveApplier` 'settings'). */
export type LiveSettings = Pick<Config, 'scoring' | 'events' | 'fusion'>;

/** Whether `key` is one of those. */
export const isSettingsKey = (key: LiveKey): key is keyof LiveSettings => LIVE_KEYS[key] === 'settings';

/**
 * The live key a changed path falls under (`labels[1].threshold` → `labels`), if any. `path` is
 * dotted, with `[i]` for array elements, as daemon/reload.ts and the config reference write it
 * (the reference writes `[]`).
 */
export function liveKeyOf(path: string): LiveKey | undefined {
  for (const key of Object.keys(LIVE_KEYS) as LiveKey[])
    if (path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`)) return key;
  return undefined;
}

/** Whether a changed path needs a restart to take effect. */
export const needsRestart = (path: string): boolean => liveKeyOf(path) === undefined;

/** What a running agent takes on SIGHUP: the new config and the live keys that changed in it. */
export interface LiveReconfigurable {
  /**
   * Applies the changed live keys it owns (labels, scoring, events, fusion) and says, per key,
   * what happened; keys it does not own (`log.level`) are the caller's.
   */
  reconfigure(
    config: Pick<Config, 'labels'> & LiveSettings,
    keys: readonly LiveKey[],
  ): Promise<LiveOutcome[]>;
}

/** One applied (or, with a reason, not applied) live key, for the reload's log line. */
export interface LiveOutcome {
  key: LiveKey;
  applied: boolean;
  /** Why it was not applied, e.g. a label set persisted by requests overrides the file's. */
  reason?: string;
}
