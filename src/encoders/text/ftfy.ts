/**
 * `ftfy.fix_text` with its default settings (ftfy 6.3.1), the first step of ImageBind's text
 * cleaning: curly quotes, full-width letters, ligatures, HTML entities, terminal escapes, control
 * characters, line breaks, C1 controls, NFC and mojibake (UTF-8 read as a single-byte code page)
 * change CLIP's tokens, so a prompt must be fixed exactly as ImageBind fixes it (issue #20).
 *
 * The steps and their order follow ftfy's `fix_text` / `fix_and_explain` / `fix_encoding`; the
 * data (regular expressions, code pages, entity names, width map) is generated from ftfy itself
 * (tools/ftfy-tables/generate.py), and test/encoders/text/ftfy-golden.json holds what the real
 * ftfy gives. Byte-level steps work on "binary strings": one character U+0000–U+00FF per byte.
 */
import { FTFY_DATA as D } from './ftfy-data.js';

type Encoding = (typeof D.charmapEncodings)[number];

const BADNESS = new RegExp(D.badness, 'u');
const UTF8_DETECTOR = new RegExp(D.utf8Detector, 'gu');
const UTF8_DETECTOR_ONE = new RegExp(D.utf8Detector, 'u');
const ALTERED_UTF8 = new RegExp(D.alteredUtf8, 'u');
const ALTERED_UTF8_ALL = new RegExp(D.alteredUtf8, 'gu');
const LOSSY_UTF8 = new RegExp(D.lossyUtf8, 'gu');
const A_GRAVE_WORD = new RegExp(D.aGraveWord, 'gu');
const HTML_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
// eslint-disable-next-line no-control-regex -- ESC is what a terminal escape starts with
const ANSI = /\u001b\[((?:\p{Nd}|;)*)([a-zA-Z])/gu;
const C1_CONTROL = /[\u0080-\u009f]/u;
const C1_CONTROLS = /[\u0080-\u009f]/gu;
const SINGLE_QUOTE = /[\u02bc\u2018-\u201b]/gu;
const DOUBLE_QUOTE = /[\u201c-\u201f]/gu;
const LONE_SURROGATE = /[\ud800-\udfff]/gu;
// U+0000–U+0008, U+000B, U+000E–U+001F, U+007F, U+206A–U+206F, U+FEFF, U+FFF9–U+FFFC.
// eslint-disable-next-line no-control-regex -- control characters are what it removes
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/gu;
// eslint-disable-next-line no-control-regex -- the whole ASCII range
const ASCII_ONLY = /^[\u0000-\u007f]*$/u;
const ENTITIES: Readonly<Record<string, string>> = D.htmlEntities;
const WIDTH: Readonly<Record<string, string>> = D.widthMap;
const LIGATURES: Readonly<Record<string, string>> = D.ligatures;
const WIDTH_OR_LIGATURE = new RegExp(
  `[${[...Object.keys(WIDTH), ...Object.keys(LIGATURES)].join('')}]`,
  'gu',
);
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Python's `html.unescape` for one numeric reference, as ftfy calls it. */
function unescapeNumeric(ref: string): string {
  const hex = ref[2] === 'x' || ref[2] === 'X';
  const digits = ref.slice(hex ? 3 : 2, -1);
  if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return ref;
  const cp = Number.parseInt(digits, hex ? 16 : 10);
  // html.unescape's table for 0x00 and 0x80–0x9F, surrogates and out-of-range code points.
  if (cp === 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return '\ufffd';
  if (cp >= 0x80 && cp <= 0x9f) return D.codepages['sloppy-windows-1252'][cp]!;
  const dropped =
    (cp >= 0x01 && cp <= 0x08) ||
    cp === 0x0b ||
    (cp >= 0x0e && cp <= 0x1f) ||
    cp === 0x7f ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe;
  return dropped ? '' : String.fromCodePoint(cp);
}

/** ftfy's `unescape_html`: entities that end in `;`, and some written in capitals. */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(HTML_ENTITY, (m) => ENTITIES[m] ?? (m.startsWith('&#') ? unescapeNumeric(m) : m));
}

/** Lazily built encoders (character → byte) of the single-byte code pages. */
const encoders = new Map<Encoding, Map<string, number>>();
function encoder(encoding: Encoding): Map<string, number> {
  let map = encoders.get(encoding);
  if (!map) {
    map = new Map();
    const page = D.codepages[encoding];
    for (let b = 0; b < 256; b++) if (!map.has(page[b]!)) map.set(page[b]!, b);
    encoders.set(encoding, map);
  }
  return map;
}

/** `text.encode(encoding)` as a binary string, or undefined when a character has no byte. */
function encode(text: string, encoding: Encoding): string | undefined {
  const map = encoder(encoding);
  let out = '';
  for (const ch of text) {
    const b = map.get(ch);
    if (b === undefined) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

/** Strict UTF-8, or ftfy's `utf-8-variants` (CESU-8 surrogate pairs, C0 80 for NUL). */
function decodeUtf8(bin: string, variants: boolean): string | undefined {
  let bytes = bin;
  if (variants) {
    bytes = bytes.replace(/\u00c0\u0080/gu, '\u0000');
    bytes = bytes.replace(
      /\u00ed([\u00a0-\u00af])([\u0080-\u00bf])\u00ed([\u00b0-\u00bf])([\u0080-\u00bf])/gu,
      (_, a: string, b: string, c: string, d: string) => {
        const hi = 0xd000 | ((a.charCodeAt(0) & 0x3f) << 6) | (b.charCodeAt(0) & 0x3f);
        const lo = 0xd000 | ((c.charCodeAt(0) & 0x3f) << 6) | (d.charCodeAt(0) & 0x3f);
        const cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
        return Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
      },
    );
  }
  try {
    return UTF8.decode(Buffer.from(bytes, 'latin1'));
  } catch {
    return undefined;
  }
}

const isBad = (text: string): boolean => BADNESS.test(text);

/** ftfy's `restore_byte_a0`: a space that was byte A0 inside a UTF-8 sequence. */
function restoreByteA0(bin: string): string {
  return bin
    .replace(A_GRAVE_WORD, '\u00c3\u00a0 ')
    .replace(ALTERED_UTF8_ALL, (m) => m.replaceAll(' ', '\u00a0'));
}

/** ftfy's `replace_lossy_sequences`: UTF-8 sequences that lost a byte to U+FFFD become U+FFFD. */
function replaceLossySequences(bin: string): string {
  return bin.replace(LOSSY_UTF8, '\u00ef\u00bf\u00bd');
}

/** ftfy's `decode_inconsistent_utf8`: mojibake embedded in otherwise good text. */
function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR, (sub) =>
    sub.length < text.length && isBad(sub) ? fixEncoding(sub) : sub,
  );
}

/** ftfy's `fix_c1_controls`: C1 controls read as Windows-1252, as browsers do. */
function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROLS, (c) => D.codepages['sloppy-windows-1252'][c.charCodeAt(0)]!);
}

/** One step of ftfy's `fix_encoding`. */
function fixEncodingStep(text: string): string {
  if (text.length === 0 || ASCII_ONLY.test(text) || !isBad(text)) return text;
  const possible: Encoding[] = [];
  for (const encoding of D.charmapEncodings) {
    let bin = encode(text, encoding);
    if (bin === undefined) continue;
    possible.push(encoding);
    if (encoding !== 'macroman' && ALTERED_UTF8.test(bin)) bin = restoreByteA0(bin);
    if (encoding.startsWith('sloppy')) bin = replaceLossySequences(bin);
    const fixed = decodeUtf8(bin, bin.includes('\u00ed') || bin.includes('\u00c0'));
    if (fixed !== undefined) return fixed;
  }
  if (UTF8_DETECTOR_ONE.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return fixed;
  }
  // ftfy then asks whether "windows-1252" is among the possible encodings, which it never is (its
  // list has only the sloppy codec), so Latin-1 text is always read as strict Windows-1252: C1
  // controls become what browsers show, and the five bytes Windows-1252 lacks stop the attempt.
  // Latin-1 encodes each character as its own code, so decoding as Windows-1252 changes only the
  // C1 controls: fixC1Controls, unless one of them is a byte Windows-1252 leaves unassigned.
  if (possible.includes('latin-1') && !/[\u0081\u008d\u008f\u0090\u009d]/u.test(text)) {
    const fixed = fixC1Controls(text);
    if (fixed !== text) return fixed;
  }
  if (C1_CONTROL.test(text)) return fixC1Controls(text);
  return text;
}

/** ftfy's `fix_encoding`: steps until nothing changes. */
export function fixEncoding(text: string): string {
  for (;;) {
    const next = fixEncodingStep(text);
    if (next === text) return text;
    text = next;
  }
}

/** ftfy's `fix_and_explain` on one segment: every default fixer, until nothing changes. */
function fixSegment(text: string, unescape: boolean): string {
  for (;;) {
    const orig = text;
    if (unescape) text = unescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = text.replace(WIDTH_OR_LIGATURE, (c) => LIGATURES[c] ?? WIDTH[c]!);
    text = text.replace(SINGLE_QUOTE, "'").replace(DOUBLE_QUOTE, '"');
    text = text.replaceAll('\r\n', '\n').replace(/[\r\u2028\u2029\u0085]/gu, '\n');
    text = text.replace(LONE_SURROGATE, '\ufffd');
    text = text.replace(ANSI, '');
    text = text.replace(CONTROL_CHARS, '');
    text = text.normalize('NFC');
    if (text === orig) return text;
  }
}

/**
 * ftfy's `fix_text` with its defaults: line by line; HTML entities are decoded until a line
 * containing `<` is met (ftfy's "auto", which then stays off for the rest of the text).
 */
export function fixText(text: string): string {
  let out = '';
  let unescape = true;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    const segment = text.slice(pos, end);
    if (unescape && segment.includes('<')) unescape = false;
    out += fixSegment(segment, unescape);
    pos = end;
  }
  return out;
}
