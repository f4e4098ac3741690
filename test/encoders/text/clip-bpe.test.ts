import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

import { PackError } from '../../../src/errors.js';
import {
  CLIP_MERGE_COUNT,
  CLIP_VOCAB_SIZE,
  ClipTokenizer,
  bytesToUnicode,
} from '../../../src/encoders/text/clip-bpe.js';

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

const SHARED = sharedDir();
const VOCAB = join(SHARED, 'imagebind', 'bpe_simple_vocab_16e6.txt.gz');
const tok = ClipTokenizer.fromVocabFile(VOCAB);

/** Ids without the zero padding. */
const nonZero = (ids: Int32Array): number[] => Array.from(ids).filter((id) => id !== 0);

describe('ClipTokenizer goldens', () => {
  const golden = JSON.parse(readFileSync(join(SHARED, 'golden', 'text', 'tokens.json'), 'utf8')) as {
    cases: { text: string; ids: number[] }[];
  };

  it('has the 21 golden cases', () => {
    assert.equal(golden.cases.length, 21);
  });

  for (const { text, ids } of golden.cases) {
    it(`matches ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`, () => {
      const got = tok.encode(text);
      assert.ok(got instanceof Int32Array);
      assert.deepEqual(Array.from(got), ids);
    });
  }
});

describe('ClipTokenizer verified ids (reference §3.2)', () => {
  const cases: [string, number[]][] = [
    ['A dog.', [49406, 320, 1929, 269, 49407]],
    ['A car', [49406, 320, 1615, 49407]],
    ['A bird', [49406, 320, 3329, 49407]],
    ['a photo of a dog', [49406, 320, 1125, 539, 320, 1929, 49407]],
  ];
  for (const [text, ids] of cases) {
    it(JSON.stringify(text), () => {
      const got = tok.encode(text);
      assert.equal(got.length, 77);
      assert.deepEqual(nonZero(got), ids);
      assert.ok(
        got.subarray(ids.length).every((id) => id === 0),
        'zero padding',
      );
    });
  }

  it('keeps the end token at index 76 for 100 × "word "', () => {
    const got = tok.encode('word '.repeat(100));
    assert.equal(got.length, 77);
    assert.equal(got[0], 49406);
    assert.ok(got.subarray(1, 76).every((id) => id === 2653));
    assert.equal(got[76], 49407);
  });
});

describe('ClipTokenizer cleaning', () => {
  // Expected ids from ImageBind's SimpleTokenizer (texts that ftfy leaves as they are; ftfy.test.ts
  // has the ones it changes).
  const cases: [string, number[]][] = [
    ['smoke & fire', [49406, 6664, 261, 1769, 49407]],
    ['smoke &amp;amp; fire', [49406, 6664, 261, 1769, 49407]], // unescaped twice
    ['&lt;alarm&gt;', [49406, 283, 11321, 285, 49407]],
    ['caf&eacute;', [49406, 15304, 49407]],
    ['a&nbsp;dog', [49406, 320, 1929, 49407]],
    ['  \t a \n\n dog \u3000 ', [49406, 320, 1929, 49407]],
    ['\u001ca dog\u001d', [49406, 320, 1929, 49407]], // str.strip() removes U+001C..U+001F
    ['a\u2002dog', [49406, 320, 1929, 49407]], // regex \s includes EN SPACE
    ['DOG', [49406, 1929, 49407]],
  ];
  for (const [text, ids] of cases) {
    it(JSON.stringify(text), () => assert.deepEqual(nonZero(tok.encode(text)), ids));
  }

  it('treats whitespace runs like one space', () => {
    assert.deepEqual(
      tok.encode('footsteps   approaching\tslowly'),
      tok.encode('footsteps approaching slowly'),
    );
  });
});

describe('ClipTokenizer pre-tokenisation', () => {
  const cases: [string, number[]][] = [
    ['hello<|endoftext|>world', [49406, 3306, 49407, 1002, 49407]],
    ['a\u0345b', [49406, 320, 321, 49407]], // U+0345 matches nothing in the reference and splits words
    ["it'\u017f", [49406, 585, 6, 129, 379, 49407]], // 's matches 'ſ case-insensitively
    ['dog \u{1f600}', [49406, 1929, 7334, 49407]],
    ['2024', [49406, 273, 271, 273, 275, 49407]], // one digit per token
    ['x'.repeat(300), [49406, ...Array<number>(74).fill(32035), 22819, 49407]],
  ];
  for (const [text, ids] of cases) {
    it(JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text), () =>
      assert.deepEqual(nonZero(tok.encode(text)), ids),
    );
  }
});

/**
 * The reference's merge loop, ported literally on strings, as an oracle for the heap-based merge.
 */
function referenceBpe(): (word: string) => number[] {
  const lines = gunzipSync(readFileSync(VOCAB)).toString('utf8').split('\n');
  const merges = lines.slice(1, CLIP_MERGE_COUNT + 1).map((l) => l.split(' ') as [string, string]);
  const byteChars = bytesToUnicode();
  const vocab = [...byteChars.values()];
  vocab.push(...vocab.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b));
  const encoder = new Map(vocab.map((s, i) => [s, i]));
  const ranks = new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
  return (token) => {
    const chars = [...Buffer.from(token, 'utf8')].map((b) => byteChars.get(b)!);
    let word = [...chars.slice(0, -1), `${chars.at(-1)!}</w>`];
    while (word.length > 1) {
      let best: [string, string] | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(`${word[i]!} ${word[i + 1]!}`) ?? Infinity;
        if (r < bestRank) [bestRank, best] = [r, [word[i]!, word[i + 1]!]];
      }
      if (best === undefined) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length;) {
        if (word[i] === best[0] && word[i + 1] === best[1]) {
          merged.push(best[0] + best[1]);
          i += 2;
        } else {
          merged.push(word[i++]!);
        }
      }
      word = merged;
    }
    return word.map((s) => encoder.get(s)!);
  };
}

describe('ClipTokenizer BPE', () => {
  it('matches a literal port of the reference merge loop on long and repetitive words', () => {
    const oracle = referenceBpe();
    let seed = 12345;
    const random = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const alphabets = ['ab', 'aeiourstln', 'abcdefghijklmnopqrstuvwxyz', 'ing', 'lo', 'éè', '!?.-', '中文'];
    const words = ['mississippi'.repeat(20), 'l'.repeat(501), 'ha'.repeat(150), 'aaaa'.repeat(80)];
    for (const alphabet of alphabets) {
      for (const length of [2, 7, 40, 400]) {
        words.push(Array.from({ length }, () => alphabet[random(alphabet.length)]!).join(''));
      }
    }
    const wide = ClipTokenizer.fromVocabFile(VOCAB, { contextLength: 2000 });
    for (const word of words) assert.deepEqual(wide.bpeIds(word), oracle(word), word);
  });

  it('gives the same ids from the cache, with no cache and with a tiny cache', () => {
    const texts = ['a dog barking', 'a dog barking', 'glass breaking', 'a dog', 'barking dog glass'];
    const expected = texts.map((t) => Array.from(tok.encode(t)));
    for (const cacheSize of [0, 1, 2]) {
      const other = ClipTokenizer.fromVocabFile(VOCAB, { cacheSize });
      assert.deepEqual(
        texts.map((t) => Array.from(other.encode(t))),
        expected,
      );
    }
  });

  it('stays fast on a pathological 100 000-letter word and a 2 MB text', () => {
    const start = performance.now();
    const word = Array.from(
      { length: 100_000 },
      (_, i) => 'abcdefghijklmnopqrstuvwxyz'[(i * 7 + (i >> 3)) % 26]!,
    );
    assert.equal(tok.encode(word.join(''))[76], 49407);
    assert.equal(tok.encode('lorem ipsum dolor '.repeat(110_000))[76], 49407);
    assert.ok(performance.now() - start < 5000, `took ${performance.now() - start} ms`);
  });
});

describe('ClipTokenizer construction', () => {
  it('maps bytes like GPT-2 bytes_to_unicode', () => {
    const map = bytesToUnicode();
    assert.equal(map.size, 256);
    assert.equal(new Set(map.values()).size, 256);
    assert.equal(map.get(0x21), '!');
    assert.equal(map.get(0x20), '\u0120'); // Ġ
    assert.equal(map.get(0x00), '\u0100');
    assert.deepEqual([...map.keys()].slice(0, 3), [0x21, 0x22, 0x23]); // printable bytes first
  });

  it('has 49 408 entries with the special tokens last', () => {
    assert.equal(CLIP_MERGE_COUNT, 48894);
    assert.equal(CLIP_VOCAB_SIZE, 49408);
  });

  it('honours contextLength', () => {
    const short = ClipTokenizer.fromVocabFile(VOCAB, { contextLength: 4 });
    assert.equal(short.contextLength, 4);
    assert.deepEqual(Array.from(short.encode('a photo of a dog')), [49406, 320, 1125, 49407]);
    assert.deepEqual(Array.from(short.encode('')), [49406, 49407, 0, 0]);
  });

  it('rejects bad options with TypeError', () => {
    assert.throws(() => ClipTokenizer.fromVocabFile(VOCAB, { contextLength: 1 }), TypeError);
    assert.throws(() => ClipTokenizer.fromVocabFile(VOCAB, { contextLength: 7.5 }), TypeError);
    assert.throws(() => ClipTokenizer.fromVocabFile(VOCAB, { cacheSize: -1 }), TypeError);
  });

  it('throws PACK_FILE_MISSING for a missing vocabulary', () => {
    const path = join(SHARED, 'imagebind', 'no-such-vocab.txt.gz');
    assert.throws(
      () => ClipTokenizer.fromVocabFile(path),
      (err: unknown) => err instanceof PackError && err.code === 'PACK_FILE_MISSING' && err.file === path,
    );
  });

  it('throws PACK_INVALID for bytes that are not a gzip vocabulary', () => {
    const invalid = (err: unknown): boolean =>
      err instanceof PackError && err.code === 'PACK_INVALID' && err.file === 'test.gz';
    assert.throws(() => ClipTokenizer.fromGzipBytes(Buffer.from('not gzip'), { source: 'test.gz' }), invalid);
    assert.throws(
      () => ClipTokenizer.fromGzipBytes(gzipSync('#version\na b\n'), { source: 'test.gz' }),
      invalid,
    );
    const lines = ['#version', ...Array<string>(CLIP_MERGE_COUNT).fill('a b')];
    lines[100] = 'a b c';
    assert.throws(
      () => ClipTokenizer.fromGzipBytes(gzipSync(lines.join('\n')), { source: 'test.gz' }),
      (err: unknown) => invalid(err) && /line 101/.test((err as Error).message),
    );
  });
});
