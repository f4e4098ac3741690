/**
 * Writes docs/config.schema.json and docs/config.md from the zod schema (the one source of
 * truth). `--check` fails when either committed file is out of date (part of `npm test`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { LIVE_KEYS, needsRestart } from '../src/config/live.js';
import { ConfigSchema } from '../src/config/schema.js';

type Json = Record<string, unknown>;

/**
 * Vendor keyword (issue 17 item 11): `x-` so that strict validators can tell it from a typo'd
 * standard keyword; Ajv in strict mode accepts it once registered
 * (`ajv.addKeyword('x-restart-required')`, as test/config/schema-json.test.ts does).
 */
const RESTART_KEYWORD = 'x-restart-required';

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

const schema: Json = {
  ...z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }),
  $id: 'https://github.com/edgebind/edgebind/docs/config.schema.json',
  title: 'edgebind configuration',
};
markRestart(schema, '');

/**
 * `x-restart-required: true` on every field a running agent cannot apply on SIGHUP, from the one
 * declaration of live keys (src/config/live.ts); `log`, which holds the live `log.level`, is not.
 */
function markRestart(s: Json, path: string): void {
  const liveBelow = (p: string) => Object.keys(LIVE_KEYS).some((k) => k.startsWith(`${p}.`));
  for (const [key, child] of Object.entries((s.properties ?? {}) as Record<string, Json>)) {
    const p = path ? `${path}.${key}` : key;
    if (needsRestart(p) && !liveBelow(p)) child[RESTART_KEYWORD] = true;
    markRestart(child, p);
  }
  if (s.items) markRestart(s.items as Json, `${path}[]`);
  for (const v of (s.anyOf ?? s.oneOf ?? []) as Json[]) markRestart(v, path);
}

function typeOf(s: Json): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  const alts = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (alts) return alts.map(typeOf).join(' \\| ');
  if (s.type === 'array') return `array of ${typeOf((s.items ?? {}) as Json)}`;
  if (s.type === 'integer') return 'integer';
  return str(s.type ?? 'any');
}

function limits(s: Json): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`≥ ${str(s.minimum)}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${str(s.exclusiveMinimum)}`);
  if (s.maximum !== undefined && Number(s.maximum) < 9e15) parts.push(`≤ ${str(s.maximum)}`);
  if (s.minItems !== undefined) parts.push(`≥ ${str(s.minItems)} items`);
  if (s.maxItems !== undefined) parts.push(`≤ ${str(s.maxItems)} items`);
  if (s.pattern !== undefined) parts.push(`pattern \`${str(s.pattern)}\``);
  return parts.join(', ');
}

/** One table row per leaf field; objects recurse with a dotted path. */
function rows(s: Json, path: string, out: string[]): void {
  const props = s.properties as Record<string, Json> | undefined;
  if (props) {
    for (const [key, child] of Object.entries(props)) rows(child, path ? `${path}.${key}` : key, out);
    return;
  }
  const items = s.items as Json | undefined;
  if (s.type === 'array' && items && (items.properties || items.oneOf || items.anyOf)) {
    rows(items, `${path}[]`, out);
    return;
  }
  const variants = (s.oneOf ?? s.anyOf) as Json[] | undefined;
  if (variants?.some((v) => v.properties)) {
    for (const v of variants) {
      const driver = (v.properties as Record<string, Json> | undefined)?.driver?.const;
      if (driver !== undefined) out.push(`| **driver: ${str(driver)}** | | | | |`);
      rows(v, path, out);
    }
    return;
  }
  const def = s.default === undefined ? '' : `\`${JSON.stringify(s.default)}\``;
  const restart = s[RESTART_KEYWORD] ? 'yes' : '';
  const desc = [s.description, limits(s)].filter(Boolean).join(' — ');
  out.push(`| \`${path}\` | ${typeOf(s)} | ${def} | ${restart} | ${String(desc).replace(/\|/g, '\\|')} |`);
}

const table: string[] = [];
rows(schema, '', table);
const markdown = `# Configuration reference

edgebind reads one YAML file (\`edgebind run --config FILE\`, \`edgebind config check FILE\`).
This page and [config.schema.json](config.schema.json) are generated from the schema in
\`src/config/schema.ts\` by \`npm run docs:schema\`; \`npm test\` fails if they are stale.
The JSON Schema marks restart-only fields with the vendor keyword \`x-restart-required\`; strict
validators want it declared (Ajv in strict mode: \`ajv.addKeyword('x-restart-required')\`).

- Unknown keys are errors. Every problem is reported with its key path and its line and column,
  e.g. \`sensors[0].window.hopMs: expected number, got string (line 7, column 27)\`; an unknown key
  or driver names the nearest one (\`mqtt.brokr: unknown key; did you mean "broker"?\`). Nothing
  is repaired or guessed.
- Relative paths are relative to the config file.
- \`--mqtt-url\` and \`--device-id\` on the command line override \`mqtt.broker\` and \`deviceId\`; a bad
  value there is reported against the flag, not the file.
- A label whose \`modalities\` no configured sensor has is an error: it could never fire.
- Secrets stay out of the file: \`mqtt.passwordEnv\` names an environment variable.
- "Restart" marks fields a running agent cannot change live. On SIGHUP \`edgebind run\` applies
  \`log.level\`, \`labels\` (unless a label set persisted by labels/* requests overrides the
  file's, as at start), \`scoring\`, \`events\` and \`fusion\`, and names every other changed key
  as needing a restart (\`src/config/live.ts\` declares which are live). Labels and their
  settings go through the same swap as a labels/* request: the set is rebuilt, open events of
  kept labels stay open under their id, and new thresholds and timing apply from the next window
  (a persisted set keeps its labels and is rebuilt with the new settings). Labels are matched
  by name, so inserting one at the top leaves the others and their open events as they were.
- Files are checked with the config, by \`config check\` as by \`run\` (exit 2, key path): the
  recordings of replays, \`mqtt.caFile\`, \`certFile\`, \`keyFile\` and \`passwordFile\` (readable
  files; \`passwordFile\` not together with \`passwordEnv\`), \`encoders.pack\` (a directory with a
  \`manifest.json\`; the manifest and models themselves are checked when the pack loads), and
  \`stateDir\` (a directory, or creatable: no part of its path is a file). YAML aliases are limited
  (the yaml library's \`maxAliasCount\`, 100): an "alias bomb" is a parse error naming the file.
- Prompts, templates and background prompts may not contain control characters or U+FFFD; inline
  example vectors (\`labels[].examples[].base64\`) must be finite and not all zero.
- A full \`stateDir\` disk never stops the agent: events are held in memory within
  \`mqtt.outboxMax\` and \`mqtt.outboxMaxBytes\` and written once space returns (health
  \`mqtt.outboxState: degraded\` meanwhile); see [mqtt.md](mqtt.md#delivery-the-durable-outbox).

A commented example: [examples/replay.yaml](../examples/replay.yaml).

| key | type | default | restart | meaning |
|---|---|---|---|---|
${table.join('\n')}
`;

const outputs = [
  {
    file: new URL('../docs/config.schema.json', import.meta.url),
    text: `${JSON.stringify(schema, null, 2)}\n`,
  },
  { file: new URL('../docs/config.md', import.meta.url), text: markdown },
];

const check = process.argv.includes('--check');
let stale = false;
for (const { file, text } of outputs) {
  if (!check) {
    writeFileSync(file, text);
    continue;
  }
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(`${file.pathname} is out of date: run \`npm run docs:schema\``);
    stale = true;
  }
}
if (stale) process.exit(1);
console.log(check ? 'config docs are up to date' : 'wrote docs/config.schema.json and docs/config.md');
