import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { PackError } from '../../../src/errors.js';
import { TokenizerSchema } from '../../../src/encoders/manifest.js';
import {
  ClipTokenizer,
  WordHashTokenizer,
  createTokenizer,
  encodeBatchInt64,
  frameTokens,
} from '../../../src/encoders/text/index.js';

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

const VOCAB_DIR = join(sharedDir(), 'imagebind');
const VOCAB_NAME = 'bpe_simple_vocab_16e6.txt.gz';
const VOCAB_SHA256 = '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a';

const clipSpec = (vocab: string, sha256 = VOCAB_SHA256) =>
  TokenizerSchema.parse({ kind: 'clip-bpe', vocab, sha256 });

describe('createTokenizer', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'edgebind-tokenizer-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('builds the CLIP tokenizer from a pack whose vocabulary matches its sha256', () => {
    const tok = createTokenizer(clipSpec(VOCAB_NAME), VOCAB_DIR);
    assert.ok(tok instanceof ClipTokenizer);
    assert.equal(tok.contextLength, 77);
    assert.deepEqual(Array.from(tok.encode('A dog.').subarray(0, 6)), [49406, 320, 1929, 269, 49407, 0]);
  });

  it('throws PACK_FILE_MISSING naming the file when the vocabulary is absent', () => {
    const file = join(scratch, VOCAB_NAME);
    assert.throws(
      () => createTokenizer(clipSpec(VOCAB_NAME), scratch),
      (err: unknown) =>
        err instanceof PackError &&
        err.code === 'PACK_FILE_MISSING' &&
        err.file === file &&
        err.message.includes(file),
    );
  });

  it('throws PACK_CHECKSUM with expected and actual hashes on a mismatch', () => {
    writeFileSync(join(scratch, 'vocab.txt.gz'), 'not the vocabulary');
    const wrong = '0'.repeat(64);
    assert.throws(
      () => createTokenizer(clipSpec('vocab.txt.gz', wrong), scratch),
      (err: unknown) =>
        err instanceof PackError &&
        err.code === 'PACK_CHECKSUM' &&
        err.file === join(scratch, 'vocab.txt.gz') &&
        err.message.includes(wrong) &&
        // sha256("not the vocabulary")
        /actual [0-9a-f]{64}/.test(err.message),
    );
  });

  it('refuses a vocabulary path outside the pack', () => {
    assert.throws(
      () => createTokenizer(clipSpec(`../imagebind/${VOCAB_NAME}`), join(VOCAB_DIR, 'sub')),
      (err: unknown) => err instanceof PackError && err.code === 'PACK_INVALID',
    );
  });

  it('builds the word-hash tokenizer without any file', () => {
    const tok = createTokenizer(
      TokenizerSchema.parse({ kind: 'word-hash', vocabSize: 500, contextLength: 16 }),
      scratch,
    );
    assert.ok(tok instanceof WordHashTokenizer);
    assert.equal(tok.encode('a b').length, 16);
  });

  it('reports a context length too short for the special tokens as a pack problem', () => {
    assert.throws(
      () =>
        createTokenizer(
          TokenizerSchema.parse({ kind: 'word-hash', vocabSize: 5, contextLength: 1 }),
          scratch,
        ),
      (err: unknown) => err instanceof PackError && err.code === 'PACK_INVALID',
    );
  });
});

describe('encodeBatchInt64', () => {
  it('lays out [B, 77] int64 ids row by row', () => {
    const tok = ClipTokenizer.fromVocabFile(join(VOCAB_DIR, VOCAB_NAME));
    const batch = encodeBatchInt64(tok, ['A car', 'A bird']);
    assert.ok(batch instanceof BigInt64Array);
    assert.equal(batch.length, 2 * 77);
    assert.deepEqual(Array.from(batch.subarray(0, 5)), [49406n, 320n, 1615n, 49407n, 0n]);
    assert.deepEqual(Array.from(batch.subarray(77, 82)), [49406n, 320n, 3329n, 49407n, 0n]);
    assert.equal(encodeBatchInt64(tok, []).length, 0);
  });
});

describe('frameTokens', () => {
  it('truncates to contextLength - 1 before appending the end token', () => {
    assert.deepEqual(Array.from(frameTokens([1, 2, 3, 4], 4)), [49406, 1, 2, 49407]);
    assert.deepEqual(Array.from(frameTokens([1], 5)), [49406, 1, 49407, 0, 0]);
    assert.deepEqual(Array.from(frameTokens([], 2)), [49406, 49407]);
  });
});
