/**
 * Reads, parses and validates the config file. Every failure is a ConfigError naming the file and,
 * for each problem, the key path and the reason; nothing is repaired or guessed.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
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
  // A problem is shown where it comes from: a flag by its name, a key by its line in the file.
  const place = (problems: Problem[]) => placeProblems(problems, overrides, doc, lineCounter);
  const result = ConfigSchema.safeParse(input, { reportInput: true, error: configErrorMap });
  if (!result.success) throw invalid(file, place(formatIssues(result.error.issues)));
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
  // A label that listens only to modalities no sensor has could never fire (issue 17 item 6).
  const sensed = new Set(cfg.sensors.map((s) => s.modality));
  cfg.labels.forEach((l, i) => {
    if (l.modalities && !l.modalities.some((m) => sensed.has(m)))
      problems.push({
        path: `labels[${i}].modalities`,
        message: `no sensor is ${l.modalities.join(' or ')} (the sensors are ${[...sensed].join(', ')}); label "${l.name}" could never fire`,
      });
  });
  if (problems.length > 0) throw invalid(file, place(problems));
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

/** A problem with where it is: the flag that set the value, or its line and column in the file. */
interface PlacedProblem extends Problem {
  flag?: string;
  line?: number;
  column?: number;
}

/** Command-line flags that override config keys (`Overrides`), by the key they set. */
const FLAGS: Record<string, { key: keyof Overrides; flag: string }> = {
  'mqtt.broker': { key: 'mqttUrl', flag: '--mqtt-url' },
  deviceId: { key: 'deviceId', flag: '--device-id' },
  'mqtt.embeddedPort': { key: 'embeddedPort', flag: '--port' },
};

function placeProblems(
  problems: readonly Problem[],
  overrides: Overrides,
  doc: Document,
  lines: LineCounter,
): PlacedProblem[] {
  return problems.map((p) => {
    const flag = FLAGS[p.path];
    const value = flag && overrides[flag.key];
    if (flag && value !== undefined) return { ...p, flag: `${flag.flag} ${JSON.stringify(String(value))}` };
    const at = sourceOffset(doc, parsePath(p.path));
    return at === undefined ? p : { ...p, ...linePos(lines, at) };
  });
}

function linePos(lines: LineCounter, offset: number): { line: number; column: number } {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** `sensors[0].window.hopMs` → `['sensors', 0, 'window', 'hopMs']`. */
function parsePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * Offset in the file of the key (or list item) at `path`, else of the deepest part of it that the
 * file has (a missing key is shown at its parent).
 */
function sourceOffset(doc: Document, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let at: number | undefined = (node as { range?: [number] } | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((i) => isScalar(i.key) && String(i.key.value) === String(seg));
      if (!pair) break;
      at = (pair.key as { range?: [number] }).range?.[0] ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg];
      at = (node as { range?: [number] }).range?.[0] ?? at;
    } else break;
  }
  return at;
}

function invalid(file: string, problems: PlacedProblem[]): ConfigError {
  const line = (p: PlacedProblem) =>
    p.flag !== undefined
      ? `  ${p.flag}: ${p.message}`
      : `  ${p.path || '(top level)'}: ${p.message}${p.line !== undefined ? ` (line ${p.line}, column ${p.column})` : ''}`;
  const plain = problems.map(({ path, message }) => ({ path, message }));
  // Only flags at fault: the file is not to blame (issue 17 item 6).
  if (problems.every((p) => p.flag !== undefined))
    return new ConfigError('CONFIG_INVALID', `invalid option\n${problems.map(line).join('\n')}`, {
      problems: plain,
    });
  return new ConfigError('CONFIG_INVALID', `${file}: invalid config\n${problems.map(line).join('\n')}`, {
    file,
    problems: plain,
  });
}

/**
 * The zod error map config files are parsed with: an unknown key gets the nearest key the object
 * takes (`mqtt.brokr` → did you mean "broker"?). One line per key, in the issue's key order, which
 * `formatIssues` splits again.
 */
export const configErrorMap: z.core.$ZodErrorMap = (iss) => {
  if (iss.code !== 'unrecognized_keys' || !(iss.inst instanceof z.ZodObject)) return undefined;
  const known = Object.keys(iss.inst.shape);
  return iss.keys.map((k) => `unknown key${didYouMean(k, known)}`).join('\n');
};

/** `; did you mean "x"?` for the known word nearest `word` (case and `_`/`-` ignored), or ''. */
export function didYouMean(word: string, known: readonly string[]): string {
  if (known.length === 0) return '';
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const byNorm = new Map(known.map((k) => [norm(k), k]));
  const best = closest(norm(word), [...byNorm.keys()]);
  // Within a third of the word's length: a typo, not a different word.
  return distance(norm(word), best) <= Math.max(1, Math.floor(word.length / 3))
    ? `; did you mean "${byNorm.get(best)}"?`
    : '';
}

/** `sensors[0].window.hopMs` style paths; unknown keys are reported at their own path. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const at = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      // configErrorMap's one line per key, when the parse used it.
      const hints = issue.message.split('\n');
      issue.keys.forEach((key, i) => {
        const hint =
          hints.length === issue.keys.length && hints[i]!.startsWith('unknown key') ? hints[i]! : '';
        out.push({ path: joinPath(at, key), message: hint || 'unknown key' });
      });
    } else if (
      issue.code === 'invalid_union' &&
      'discriminator' in issue &&
      Array.isArray((issue as { options?: unknown }).options)
    ) {
      out.push({ path: at, message: unknownChoice(issue as DiscriminatorIssue) });
    } else {
      out.push({ path: at, message: describe(issue) });
    }
  }
  return out;
}

/** zod's issue for a discriminated union whose discriminator matched no option. */
type DiscriminatorIssue = z.core.$ZodIssueInvalidUnion & { discriminator: string; options: unknown[] };

function unknownChoice(issue: DiscriminatorIssue): string {
  const options = issue.options.map(String);
  const input = (issue as { input?: unknown }).input;
  const value =
    typeof input === 'object' && input !== null
      ? (input as Record<string, unknown>)[issue.discriminator]
      : undefined;
  const list = `one of: ${options.join(', ')}`;
  if (value === undefined) return `missing; ${list}`;
  const hint = typeof value === 'string' ? didYouMean(value, options) : '';
  return `unknown ${issue.discriminator} ${JSON.stringify(value)}${hint ? `${hint} It is` : ';'} ${list}`;
}

function bound(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const n = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'string':
      return n === 1 && small
        ? 'must not be empty'
        : `must be at ${small ? 'least' : 'most'} ${n} characters`;
    case 'array':
    case 'set':
      return `must have at ${small ? 'least' : 'most'} ${n} item${n === 1 ? '' : 's'}`;
    default:
      return `must be ${small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<'} ${n}`;
  }
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'too_small' || issue.code === 'too_big') return bound(issue);
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
