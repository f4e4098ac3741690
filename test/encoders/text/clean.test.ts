import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { cleanText, htmlUnescape, pyStrip } from '../../../src/encoders/text/clean.js';

describe('htmlUnescape', () => {
  // [input, html.unescape(input), html.unescape(html.unescape(input))] from CPython 3.11.
  const cases: [string, string, string][] = [
    ['&amp;amp;', '&amp;', '&'],
    ['&#38;amp;', '&amp;', '&'],
    ['&lt;b&gt;', '<b>', '<b>'],
    ['&notit;', '\u00acit;', '\u00acit;'],
    ['&ampx', '&x', '&x'],
    ['&#1;x', 'x', 'x'],
    ['&#x80;', '\u20ac', '\u20ac'],
    ['&#x81;', '\u0081', '\u0081'],
    ['&#0;', '\ufffd', '\ufffd'],
    ['&#xd800;', '\ufffd', '\ufffd'],
    ['&#1114112;', '\ufffd', '\ufffd'],
    ['&#65', 'A', 'A'],
    ['&#x1F600;', '\u{1f600}', '\u{1f600}'],
    ['&nbsp', '\u00a0', '\u00a0'],
    ['&NotANamedRef;', '&NotANamedRef;', '&NotANamedRef;'],
    ['&#xFFFE;', '', ''],
    ['&#13;', '\r', '\r'],
    ['a &b c', 'a &b c', 'a &b c'],
    ['&CounterClockwiseContourIntegral;', '\u2233', '\u2233'],
    ['&#9;', '\t', '\t'],
    ['no entities', 'no entities', 'no entities'],
  ];
  for (const [input, once, twice] of cases) {
    it(JSON.stringify(input), () => {
      assert.equal(htmlUnescape(input), once);
      assert.equal(htmlUnescape(htmlUnescape(input)), twice);
    });
  }
});

describe('cleanText', () => {
  it('unescapes twice, collapses whitespace, strips and lower-cases', () => {
    assert.equal(cleanText('  Smoke &amp;amp;\t\tFIRE \n'), 'smoke & fire');
  });

  it('uses Python whitespace, not JavaScript whitespace', () => {
    assert.equal(pyStrip('\u001c\u001fa b\u0085\u3000'), 'a b');
    assert.equal(pyStrip('\ufeffa\ufeff'), '\ufeffa\ufeff');
    assert.equal(cleanText('a\u00a0\u2009\u3000b'), 'a b');
    // ftfy runs first: U+0085 is Windows-1252's "…", U+001C and U+FEFF are removed
    // (test/encoders/text/ftfy.test.ts has what the real ftfy gives).
    assert.equal(cleanText('a\u0085\u00a0\u2009b'), 'a\u2026 b');
    assert.equal(cleanText('a\u001cb'), 'ab');
    assert.equal(cleanText('a\ufeffb'), 'ab');
  });

  it('handles empty and all-whitespace text', () => {
    assert.equal(cleanText(''), '');
    assert.equal(cleanText(' \t\n\u3000 '), '');
  });

  it('is linear on long whitespace runs', () => {
    const start = performance.now();
    assert.equal(cleanText(`a${' '.repeat(1_000_000)}b`), 'a b');
    assert.ok(performance.now() - start < 2000);
  });
});
