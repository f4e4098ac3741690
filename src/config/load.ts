/**
 * Reads, parses and validates the config file. Every failure is a ConfigError naming the file and,
 * for each problem, the key path and the reason; nothing is repaired or guessed.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type Problem } from '../errors.js';
import { ConfigSchema, DEFAULT_WINDOWS, ID_PATTERN, type Config } from './schema.js';

/** A validated config with paths made absolute and defaults that depend on the host filled in. */
export type ResolvedSensor = Config['sensors'][number] & { window: { lengthMs: number; hopMs: number } };
export type ResolvedConfig = Omit<Config, 'deviceId' | 'stateDir' | 'sensors'> & {
  deviceId: string;
  stateDir: string;
  sensors: ResolvedSensor[];
  /** The file it came from. */
  source: string;
};

/** Where one device keeps its state (persisted labels, outbox): `<stateDir>/devices/<deviceId>/`. */
export function deviceStateDir(config: Pick<ResolvedConfig, 'stateDir' | 'deviceId'>): string {
  return join(config.stateDir, 'devices', config.deviceId);
}

export interface Overrides {
  mqttUrl?: string;
  deviceId?: string;
  embeddedPort?: number;
}

export async function loadConfig(file: string, overrides: Overrides = {}): Promise<ResolvedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError('CONFIG_NOT_FOUND', `${file}: ${reason}`, { file, cause: err });
  }
  return parseConfig(text, file, overrides);
}

export function parseConfig(text: string, file: string, overrides: Overrides = {}): ResolvedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const [line, col] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [0, 0];
    const reason = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError('CONFIG_PARSE', `${file}:${line}:${col}: YAML syntax error: ${reason}`, {
      file,
      problems: [{ path: `line ${line}, column ${col}`, message: reason }],
      cause: e,
    });
  }
  let raw: unknown;
  try {
    // maxAliasCount: a "billion laughs" alias bomb is refused instead of expanded (issue 14).
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    const reason = (err as Error).message;
    throw new ConfigError('CONFIG_PARSE', `${file}: YAML cannot be expanded: ${reason}`, {
      file,
      problems: [{ path: '(top level)', message: reason }],
      cause: err,
    });
  }
  const input = applyOverrides(raw, overrides);
  const result = ConfigSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw invalid(file, formatIssues(result.error.issues));
  const cfg = result.data;
  const base = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const problems: Problem[] = [];
  const sensors = cfg.sensors.map((s, i) => {
    const window = s.window ?? DEFAULT_WINDOWS[s.modality];
    if (s.driver !== 'replay') return { ...s, window };
    // Recordings are checked now; device nodes may appear later (hot-plug) and are retried.
    const file = abs(s.file);
    if (!existsSync(file)) problems.push({ path: `sensors[${i}].file`, message: `file not found: ${file}` });
    return { ...s, file, window };
  });
  const encoders = { ...cfg.encoders, pack: cfg.encoders.pack === 'test' ? 'test' : abs(cfg.encoders.pack) };
  const deviceId = cfg.deviceId ?? defaultDeviceId();
  // Files that `run` would only open after loading the pack are checked now, so that
  // `config check` reports them (issue 14).
  if (encoders.pack !== 'test') {
    const why = notA('directory', encoders.pack) ?? notA('file', join(encoders.pack, MANIFEST_FILE));
    if (why !== undefined) problems.push({ path: 'encoders.pack', message: `not a model pack: ${why}` });
  }
  for (const key of ['caFile', 'certFile', 'keyFile', 'passwordFile'] as const) {
    const f = cfg.mqtt[key];
    const why = f === undefined ? undefined : notA('file', abs(f));
    if (why !== undefined) problems.push({ path: `mqtt.${key}`, message: why });
  }
  const stateDir = cfg.stateDir ? abs(cfg.stateDir) : defaultStateDir();
  const stateProblem = stateDirProblem(stateDir);
  if (stateProblem !== undefined) problems.push({ path: 'stateDir', message: stateProblem });
  if (problems.length > 0) throw invalid(file, problems);
  return {
    ...cfg,
    deviceId,
    stateDir,
    encoders,
    sensors,
    source: resolve(file),
  };
}

/** Why `path` is not a readable `kind`, or undefined when it is one. */
/** src/encoders/pack.ts's MANIFEST_FILE; not imported, so loading a config loads no onnxruntime. */
const MANIFEST_FILE = 'manifest.json';

function notA(kind: 'file' | 'directory', path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? `${kind} not found: ${path}`
      : `cannot read ${path}: ${code}`;
  }
  if (kind === 'file' ? !st.isFile() : !st.isDirectory()) return `${path} is not a ${kind}`;
  try {
    accessSync(path, constants.R_OK);
  } catch {
    return `${path} is not readable by this user`;
  }
  return undefined;
}

/**
 * Why the state directory cannot be used, or undefined: it (or the nearest part of its path that
 * exists) must be a directory. A missing one is created at start.
 */
export function stateDirProblem(dir: string): string | undefined {
  for (let p = dir; ; p = dirname(p)) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(p) !== p) continue;
      if (code === 'ENOTDIR') continue;
      return `cannot use ${dir}: ${code ?? (err as Error).message}`;
    }
    if (st.isDirectory()) return undefined;
    return p === dir
      ? `${dir} is a file, not a directory`
      : `${dir} cannot be created: ${p} is a file, not a directory`;
  }
}

function applyOverrides(raw: unknown, o: Overrides): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const out = { ...(raw as Record<string, unknown>) };
  if (o.deviceId !== undefined) out.deviceId = o.deviceId;
  const mqtt = () => (typeof out.mqtt === 'object' && out.mqtt !== null ? out.mqtt : {});
  if (o.mqttUrl !== undefined) out.mqtt = { ...mqtt(), broker: o.mqttUrl };
  if (o.embeddedPort !== undefined) out.mqtt = { ...mqtt(), embeddedPort: o.embeddedPort };
  return out;
}

/** systemd's StateDirectory= when run as a service, else the user's cache directory. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STATE_DIRECTORY) return resolve(env.STATE_DIRECTORY.split(':')[0]!);
  // The XDG spec says to ignore an empty or relative value; using it would put the outbox in
  // whatever directory the agent happened to start in.
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'edgebind');
}

function defaultDeviceId(): string {
  const h = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 64);
  return ID_PATTERN.test(h) ? h : 'edgebind';
}

function invalid(file: string, problems: Problem[]): ConfigError {
  const lines = problems.map((p) => `  ${p.path || '(top level)'}: ${p.message}`).join('\n');
  return new ConfigError('CONFIG_INVALID', `${file}: invalid config\n${lines}`, { file, problems });
}

/** `sensors[0].window.hopMs` style paths; unknown keys are reported at their own path. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const at = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: joinPath(at, key), message: 'unknown key' });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0 && 'discriminator' in issue) {
      out.push({ path: at, message: issue.message });
    } else {
      out.push({ path: at, message: describe(issue) });
    }
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const got = (issue as { input?: unknown }).input;
    const received = got === undefined ? 'nothing (missing)' : Array.isArray(got) ? 'array' : typeof got;
    return `expected ${issue.expected}, got ${received}`;
  }
  if (issue.code === 'invalid_value') {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return issue.message;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : joinPath(acc, String(k))),
    '',
  );
}

function joinPath(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}
