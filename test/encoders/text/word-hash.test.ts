import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { WordHashTokenizer, fnv1a32 } from '../../../src/encoders/text/word-hash.js';

describe('fnv1a32', () => {
  it('matches the published FNV-1a 32-bit test vectors', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
  });

  it('hashes UTF-8 bytes', () => {
    // "é" is C3 A9.
    const expected = Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) >>> 0;
    assert.equal(fnv1a32('é'), expected);
  });
});

describe('WordHashTokenizer', () => {
  const tok = new WordHashTokenizer({ vocabSize: 1000 });

  it('frames like CLIP: start, one id per lower-cased word, end, zero padding', () => {
    const ids = tok.encode('A Dog  barking');
    assert.equal(ids.length, 77);
    assert.deepEqual(Array.from(ids.subarray(0, 5)), [
      49406,
      fnv1a32('a') % 1000,
      fnv1a32('dog') % 1000,
      fnv1a32('barking') % 1000,
      49407,
    ]);
    assert.ok(ids.subarray(5).every((id) => id === 0));
  });

  it('is deterministic and case-insensitive', () => {
    assert.deepEqual(tok.encode('Glass Breaking'), tok.encode('glass breaking'));
    assert.deepEqual(new WordHashTokenizer({ vocabSize: 1000 }).encode('x y z'), tok.encode('x y z'));
    assert.notDeepEqual(tok.encode('dog'), tok.encode('cat'));
  });

  it('encodes empty text as start and end only', () => {
    assert.deepEqual(Array.from(tok.encode(' ').subarray(0, 3)), [49406, 49407, 0]);
  });

  it('truncates to contextLength - 1 and keeps the end token', () => {
    const ids = tok.encode('word '.repeat(100));
    assert.equal(ids[75], fnv1a32('word') % 1000);
    assert.equal(ids[76], 49407);
    const short = new WordHashTokenizer({ vocabSize: 10, contextLength: 3 });
    assert.deepEqual(Array.from(short.encode('a b c')), [49406, fnv1a32('a') % 10, 49407]);
  });

  it('rejects bad options with TypeError', () => {
    assert.throws(() => new WordHashTokenizer({ vocabSize: 0 }), TypeError);
    assert.throws(() => new WordHashTokenizer({ vocabSize: 49407 }), TypeError);
    assert.throws(() => new WordHashTokenizer({ vocabSize: 10, contextLength: 1 }), TypeError);
  });
});
