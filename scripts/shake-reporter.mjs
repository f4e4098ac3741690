/**
 * node:test reporter for scripts/shake.sh: one line per failing test, as
 * `FAIL <file> › <suite> › <test>: <first line of the error>`. Suites that failed only because a
 * test inside them failed are not repeated; a file that crashed outside any test is reported by
 * its path.
 */
import { relative } from 'node:path';
import process from 'node:process';

/** @param {AsyncIterable<{ type: string, data: any }>} source */
export default async function* shakeReporter(source) {
  /** Test names by file and nesting level, from test:start (the enclosing suites of a failure). */
  const stacks = new Map();
  for await (const { type, data } of source) {
    if (type === 'test:start') {
      const stack = stacks.get(data.file) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      stacks.set(data.file, stack);
    } else if (type === 'test:fail') {
      const err = data.details?.error;
      if (err?.failureType === 'subtestsFailed') continue;
      const file = data.file ? relative(process.cwd(), data.file) : '?';
      const path = (stacks.get(data.file) ?? []).slice(0, data.nesting);
      const name = data.name === data.file ? '(file)' : [...path, data.name].join(' › ');
      const why = String(err?.cause?.message ?? err?.message ?? err ?? '')
        .split('\n')
        .find((l) => l.trim() !== '');
      yield `FAIL ${file} › ${name}: ${why ?? ''}\n`;
    }
  }
}
