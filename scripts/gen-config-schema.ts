/**
 * Writes docs/config.schema.json from the zod schema (the one source of truth).
 * `--check` fails when the committed file is out of date (part of `npm test`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigSchema } from '../src/config/schema.js';

const file = new URL('../docs/config.schema.json', import.meta.url);
const schema = {
  ...z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }),
  $id: 'https://github.com/edgebind/edgebind/docs/config.schema.json',
  title: 'edgebind configuration',
};
const text = `${JSON.stringify(schema, null, 2)}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error('docs/config.schema.json is out of date: run `npm run docs:schema`');
    process.exit(1);
  }
  console.log('docs/config.schema.json is up to date');
} else {
  writeFileSync(file, text);
  console.log('wrote docs/config.schema.json');
}
