/**
 * `edgebind tokenize` (src/cli/commands/tokenize.ts). Kept beside the tokenizer tests it relies on.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Command } from 'commander';

import { registerTokenize, tokenizeAction } from '../../../src/cli/commands/tokenize.js';
import { PackError } from '../../../src/errors.js';

/** The shared/ folder beside (or inside) the repository: the first ancestor that has one. */
function sharedDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared');
    if (existsSync(join(candidate, 'golden', 'text', 'tokens.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no shared/golden/text/tokens.json above the test directory');
    dir = parent;
  }
}

const VOCAB = join(sharedDir(), 'imagebind', 'bpe_simple_vocab_16e6.txt.gz');

/** Collects what the command writes. */
function capture(): { chunks: string[]; write(chunk: string): void } {
  const chunks: string[] = [];
  return { chunks, write: (chunk) => void chunks.push(chunk) };
}

const padded = (ids: number[]): number[] => [...ids, ...Array<number>(77 - ids.length).fill(0)];

describe('tokenizeAction', () => {
  it('prints one JSON array holding 77 ids per text, in order', () => {
    const out = capture();
    const rows = tokenizeAction(['A dog.', 'a photo of a dog'], { vocab: VOCAB }, { stdout: out });
    const expected = [
      padded([49406, 320, 1929, 269, 49407]),
      padded([49406, 320, 1125, 539, 320, 1929, 49407]),
    ];
    assert.deepEqual(rows, expected);
    assert.equal(out.chunks.length, 1);
    assert.ok(out.chunks[0]!.endsWith('\n'));
    assert.equal(out.chunks[0]!.trimEnd().split('\n').length, 1);
    assert.deepEqual(JSON.parse(out.chunks[0]!), expected);
  });

  it('prints [] for no texts', () => {
    const out = capture();
    tokenizeAction([], { vocab: VOCAB }, { stdout: out });
    assert.deepEqual(out.chunks, ['[]\n']);
  });

  it('throws PACK_FILE_MISSING for a missing vocabulary', () => {
    assert.throws(
      () => tokenizeAction(['x'], { vocab: join(dirname(VOCAB), 'missing.gz') }, { stdout: capture() }),
      (err: unknown) => err instanceof PackError && err.code === 'PACK_FILE_MISSING',
    );
  });
});

describe('registerTokenize', () => {
  const program = (out: { write(chunk: string): void }): Command => {
    const p = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerTokenize(p, { stdout: out });
    return p;
  };

  it('adds `tokenize --vocab FILE [TEXT...]`', async () => {
    const out = capture();
    await program(out).parseAsync(['tokenize', '--vocab', VOCAB, 'A car', 'A bird'], { from: 'user' });
    assert.deepEqual(JSON.parse(out.chunks.join('')), [
      padded([49406, 320, 1615, 49407]),
      padded([49406, 320, 3329, 49407]),
    ]);
  });

  it('requires --vocab', async () => {
    await assert.rejects(
      program(capture()).parseAsync(['tokenize', 'A car'], { from: 'user' }),
      (err: unknown) => (err as { code?: string }).code === 'commander.missingMandatoryOptionValue',
    );
  });
});
