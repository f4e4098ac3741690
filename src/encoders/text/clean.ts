/**
 * Text cleaning exactly as ImageBind's `SimpleTokenizer.encode` does it before pre-tokenisation:
 * `whitespace_clean(basic_clean(text)).lower()`, ftfy included.
 *
 * Python has three different ideas of whitespace here, and JavaScript's `\s` and `trim()` match none
 * of them, so the sets are spelled out:
 * - `str.strip()` removes `str.isspace()` characters, which include U+001C..U+001F;
 * - the `regex` module's `\s` is Unicode White_Space: it includes U+0085 but not U+001C..U+001F;
 * - neither includes U+FEFF, which JavaScript treats as whitespace.
 */
import { decodeHTML, fromCodePoint, replaceCodePoint } from 'entities/decode';
import { fixText } from './ftfy.js';

/** `regex`'s `\s` (Unicode White_Space), as the body of a character class. */
export const PY_REGEX_WHITESPACE =
  '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Characters Python's `str.strip()` removes, as the body of a character class. */
const PY_STRIP_WHITESPACE = `${PY_REGEX_WHITESPACE}\\u001c-\\u001f`;

// All of them are in the BMP, so testing single UTF-16 code units is exact.
const STRIP_CHAR = new RegExp(`[${PY_STRIP_WHITESPACE}]`);
const WHITESPACE_RUN = new RegExp(`[${PY_REGEX_WHITESPACE}]+`, 'gu');

/** Python's `str.strip()` with no argument. A loop, as `/\s+$/` is quadratic on long inner runs. */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && STRIP_CHAR.test(text[start]!)) start++;
  while (end > start && STRIP_CHAR.test(text[end - 1]!)) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** The pattern of Python's `html.unescape` (`html/__init__.py`, `_charref`). */
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Code points Python's `html.unescape` drops (`_invalid_codepoints`), except those it maps first. */
function droppedCodePoint(cp: number): boolean {
  return (
    (cp >= 0x01 && cp <= 0x08) ||
    cp === 0x0b ||
    (cp >= 0x0e && cp <= 0x1f) ||
    cp === 0x7f ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp <= 0x10ffff && (cp & 0xfffe) === 0xfffe)
  );
}

function replaceCharref(ref: string, body: string): string {
  if (body.startsWith('#')) {
    const hex = body[1] === 'x' || body[1] === 'X';
    const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
    const cp = Number.parseInt(digits, hex ? 16 : 10);
    // 0x00, 0x80..0x9F, surrogates and > U+10FFFF: entities has the same table as Python.
    if (cp === 0 || (cp >= 0x80 && cp <= 0x9f) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return fromCodePoint(replaceCodePoint(cp));
    }
    // entities keeps these control and non-characters; Python removes them.
    return droppedCodePoint(cp) ? '' : fromCodePoint(cp);
  }
  // Named references: entities' longest-legacy-prefix rule matches Python's for every HTML5 name
  // (checked against html.unescape over all names with and without `;` and with trailing text).
  return decodeHTML(ref);
}

/**
 * Python's `html.unescape`: one left-to-right pass, so `&amp;amp;` becomes `&amp;`.
 * `entities.decodeHTML` alone differs on numeric references to control characters (`&#1;`).
 */
export function htmlUnescape(text: string): string {
  return text.includes('&') ? text.replace(CHARREF, replaceCharref) : text;
}

/**
 * `whitespace_clean(basic_clean(text)).lower()`.
 *
 * `basic_clean` is `ftfy.fix_text` (src/encoders/text/ftfy.ts), `html.unescape` twice and
 * `strip()`. Lower-casing and NFC follow Node's Unicode tables, so the few letters added after the
 * Python build's Unicode version (55 code points between Python 3.11's Unicode 14 and Node 20's
 * Unicode 17) may lower-case differently.
 */
export function cleanText(text: string): string {
  const basic = pyStrip(htmlUnescape(htmlUnescape(fixText(text))));
  return pyStrip(basic.replace(WHITESPACE_RUN, ' ')).toLowerCase();
}
