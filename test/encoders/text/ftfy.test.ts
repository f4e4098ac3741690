/**
 * ftfy's `fix_text` as ImageBind's tokenizer runs it (issue #20): every case of
 * test/encoders/text/ftfy-golden.json (our texts, then the originals of ftfy's own test cases) was
 * fixed by the real ftfy 6.3.1 and cleaned as CLIP's `basic_clean` + `whitespace_clean` + `lower`
 * do (tools/ftfy-tables/generate.py). The port must give exactly the same strings, and the CLIP
 * tokenizer the same ids as for the text ImageBind really tokenizes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanText } from '../../../src/encoders/text/clean.js';
import { ClipTokenizer } from '../../../src/encoders/text/clip-bpe.js';
import { fixText } from '../../../src/encoders/text/ftfy.js';
import { REPO } from '../../helpers/agent-config.js';

const golden = JSON.parse(
  readFileSync(fileURLToPath(new URL('ftfy-golden.json', import.meta.url)), 'utf8'),
) as {
  cases: { text: string; fixed: string; clean: string }[];
};
const tok = ClipTokenizer.fromVocabFile(
  join(REPO, '..', 'shared', 'imagebind', 'bpe_simple_vocab_16e6.txt.gz'),
);

describe('ftfy.fix_text', () => {
  it(`holds ${golden.cases.length} golden cases, most of which ftfy changes`, () => {
    assert.ok(golden.cases.length >= 190);
    assert.ok(golden.cases.filter((c) => c.fixed !== c.text).length >= 140);
  });
  for (const c of golden.cases) {
    it(JSON.stringify(c.text).slice(0, 100), () => {
      assert.equal(fixText(c.text), c.fixed, 'fix_text');
      assert.equal(cleanText(c.text), c.clean, 'the whole cleaning');
    });
  }
});

describe('the CLIP tokenizer with ftfy', () => {
  it('tokenizes the curly-quote, full-width, ligature example as ImageBind does', () => {
    const text = 'The dog’s “bark” is ＬＯＵＤ near the ﬁre alarm';
    const ids = tok.encode(text);
    assert.deepEqual(ids, tok.encode('the dog\'s "bark" is loud near the fire alarm'));
  });
  // Texts whose cleaned form cleans to itself ("&NTILDE;" lower-cased is an entity again).
  for (const c of golden.cases
    .filter((c) => c.fixed !== c.text && cleanText(c.clean) === c.clean)
    .slice(0, 40)) {
    it(`${JSON.stringify(c.text).slice(0, 60)}: the ids of the text ImageBind tokenizes`, () =>
      assert.deepEqual(tok.encode(c.text), tok.encode(c.clean)));
  }
});
