/**
 * CLIP's byte-level BPE tokenizer exactly as ImageBind uses it (`SimpleTokenizer` in
 * imagebind/models/multimodal_preprocessors.py, commit 1125e1e or later).
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { PackError } from '../../errors.js';
import { cleanText, PY_REGEX_WHITESPACE } from './clean.js';
import {
  CLIP_CONTEXT_LENGTH,
  END_OF_TEXT,
  START_OF_TEXT,
  checkContextLength,
  frameTokens,
  type TextTokenizer,
} from './tokenizer.js';

/** Merge lines used from the vocabulary file (lines 1..48 894; line 0 is a version header). */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;
/** 256 byte symbols, the same with `</w>`, the merges, then the two special tokens. */
export const CLIP_VOCAB_SIZE = 2 * 256 + CLIP_MERGE_COUNT + 2;

const END_OF_WORD = '</w>';
const SPECIAL_TOKENS: ReadonlyMap<string, number> = new Map([
  ['<|startoftext|>', START_OF_TEXT],
  ['<|endoftext|>', END_OF_TEXT],
]);

/**
 * The reference pattern with the `regex` module's `\s` spelled out (JavaScript's `\s` also matches
 * U+FEFF). Case-insensitive like the reference even on lower-cased text: `'s` also matches `'ſ`.
 * Checked against the `regex` module over every code point; U+0345 is the one exception (see bpeIds).
 */
const PRE_TOKENIZE = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${PY_REGEX_WHITESPACE}\\p{L}\\p{N}]+`,
  'giu',
);

/**
 * GPT-2's `bytes_to_unicode`: entry `b` is the printable character that stands for byte `b`.
 * Its order (printable bytes first, then the rest) is also the order of the first 256 vocabulary
 * entries.
 */
export function bytesToUnicode(): Map<number, string> {
  const bytes: number[] = [];
  for (const [from, to] of [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ] as const) {
    for (let b = from; b <= to; b++) bytes.push(b);
  }
  const chars = bytes.map((b) => String.fromCharCode(b));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(String.fromCharCode(256 + n));
      n++;
    }
  }
  return new Map(bytes.map((b, i) => [b, chars[i]!]));
}

export interface ClipTokenizerOptions {
  /** Ids per text. Default 77 (ImageBind). */
  contextLength?: number;
  /** Words whose BPE ids are remembered (oldest dropped first). Default 10 000. */
  cacheSize?: number;
  /** Names the vocabulary in errors. Default `<memory>`. */
  source?: string;
}

/** Pair key for two symbol ids; ids are < 2^16. */
const pairKey = (a: number, b: number): number => a * 0x10000 + b;

export class ClipTokenizer implements TextTokenizer {
  readonly contextLength: number;
  private readonly cacheSize: number;
  /** Symbol id of byte `b` inside a word, and as its last symbol (with `</w>`). */
  private readonly byteId = new Int32Array(256);
  private readonly byteEndId = new Int32Array(256);
  /** Merge rank of a symbol-id pair; the merged symbol's id is `mergedId[rank]`. */
  private readonly ranks = new Map<number, number>();
  private readonly mergedId: Int32Array;
  private readonly cache = new Map<string, readonly number[]>();

  private constructor(merges: readonly (readonly [string, string])[], options: ClipTokenizerOptions) {
    this.contextLength = checkContextLength(options.contextLength ?? CLIP_CONTEXT_LENGTH);
    const cacheSize = options.cacheSize ?? 10_000;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new TypeError(`cacheSize must be a non-negative integer, got ${String(cacheSize)}`);
    }
    this.cacheSize = cacheSize;

    // Built like the reference's dict(zip(vocab, range(...))): a repeated string keeps its last id.
    const byteChars = bytesToUnicode();
    const vocab = [...byteChars.values()];
    vocab.push(...vocab.map((c) => c + END_OF_WORD));
    for (const [a, b] of merges) vocab.push(a + b);
    vocab.push(...SPECIAL_TOKENS.keys());
    const encoder = new Map<string, number>();
    vocab.forEach((symbol, id) => encoder.set(symbol, id));

    for (const [b, c] of byteChars) {
      this.byteId[b] = encoder.get(c)!;
      this.byteEndId[b] = encoder.get(c + END_OF_WORD)!;
    }
    this.mergedId = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const left = encoder.get(a);
      const right = encoder.get(b);
      // A pair of strings outside the vocabulary can never occur in a word, as in the reference.
      if (left === undefined || right === undefined) return;
      this.ranks.set(pairKey(left, right), rank); // later duplicates win, like dict(zip(merges, ...))
      this.mergedId[rank] = encoder.get(a + b)!;
    });
  }

  /** Reads a gzip vocabulary such as ImageBind's `bpe_simple_vocab_16e6.txt.gz`. */
  static fromVocabFile(path: string, options: Omit<ClipTokenizerOptions, 'source'> = {}): ClipTokenizer {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
        throw new PackError('PACK_FILE_MISSING', path, `tokenizer vocabulary not found: ${path}`, err);
      }
      throw new PackError('PACK_INVALID', path, `cannot read tokenizer vocabulary ${path}`, err);
    }
    return ClipTokenizer.fromGzipBytes(bytes, { ...options, source: path });
  }

  /** Builds the tokenizer from the gzip-compressed vocabulary file's bytes. */
  static fromGzipBytes(bytes: Uint8Array, options: ClipTokenizerOptions = {}): ClipTokenizer {
    const source = options.source ?? '<memory>';
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(gunzipSync(bytes));
    } catch (err) {
      throw new PackError(
        'PACK_INVALID',
        source,
        `tokenizer vocabulary ${source} is not gzip UTF-8 text`,
        err,
      );
    }
    const lines = text.split('\n');
    if (lines.length < CLIP_MERGE_COUNT + 1) {
      throw new PackError(
        'PACK_INVALID',
        source,
        `tokenizer vocabulary ${source} has ${lines.length} lines, expected a header and ${CLIP_MERGE_COUNT} merges`,
      );
    }
    const merges = lines.slice(1, CLIP_MERGE_COUNT + 1).map((line, i) => {
      const parts = line.trim().split(/\s+/);
      if (parts.length !== 2) {
        throw new PackError(
          'PACK_INVALID',
          source,
          `tokenizer vocabulary ${source} line ${i + 2}: expected two symbols, got ${JSON.stringify(line)}`,
        );
      }
      return parts as [string, string];
    });
    return new ClipTokenizer(merges, options);
  }

  encode(text: string): Int32Array {
    return frameTokens(this.bpeIds(text, this.contextLength - 2), this.contextLength);
  }

  /**
   * The BPE ids of `text` without framing. With `limit`, stops once that many ids are known (the
   * result may hold a few more), which keeps long texts cheap: later words cannot change earlier ids.
   */
  bpeIds(text: string, limit = Number.POSITIVE_INFINITY): number[] {
    const ids: number[] = [];
    // U+0345 matches no alternative in the reference (the `regex` module neither counts it as a letter
    // nor, case-folding it to ι, as "other"), so it only separates words. Under /iu JavaScript counts it
    // as a letter; a space separates the same way. It is the only code point where the two differ.
    const clean = cleanText(text).replaceAll('\u0345', ' ');
    for (const match of clean.matchAll(PRE_TOKENIZE)) {
      if (ids.length >= limit) break;
      const word = match[0];
      const special = SPECIAL_TOKENS.get(word);
      if (special !== undefined) {
        ids.push(special);
        continue;
      }
      for (const id of this.wordIds(word)) ids.push(id);
    }
    return ids;
  }

  private wordIds(word: string): readonly number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    // Lone surrogates become U+FFFD here; the reference would raise UnicodeEncodeError instead.
    const bytes = Buffer.from(word, 'utf8');
    const symbols = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length - 1; i++) symbols[i] = this.byteId[bytes[i]!]!;
    symbols[bytes.length - 1] = this.byteEndId[bytes[bytes.length - 1]!]!;
    const ids = this.merge(symbols);
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(word, ids);
    }
    return ids;
  }

  /**
   * The reference's merge loop: repeatedly take the lowest-ranked adjacent pair and merge all its
   * non-overlapping occurrences left to right. A heap over (rank, position) and a linked list make
   * this O(n log n), so a pathological 100 000-letter word does not stall the daemon.
   */
  private merge(symbols: number[]): number[] {
    const n = symbols.length;
    if (n < 2) return symbols;
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) next[i] = i + 1 < n ? i + 1 : -1;
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) prev[i] = i - 1;
    const alive = new Uint8Array(n).fill(1);
    const heap = new RankHeap();
    const rankAt = (i: number): number => {
      const j = next[i]!;
      return j < 0 ? -1 : (this.ranks.get(pairKey(symbols[i]!, symbols[j]!)) ?? -1);
    };
    for (let i = 0; i < n - 1; i++) {
      const r = rankAt(i);
      if (r >= 0) heap.push(r, i);
    }
    const batch: number[] = [];
    while (heap.size > 0) {
      const rank = heap.peekRank();
      batch.length = 0;
      while (heap.size > 0 && heap.peekRank() === rank) batch.push(heap.pop());
      batch.sort((a, b) => a - b); // node indices follow word order
      for (const i of batch) {
        // Entries go stale when a neighbour merges; a position's pair never repeats (symbols grow).
        if (!alive[i] || rankAt(i) !== rank) continue;
        const j = next[i]!;
        symbols[i] = this.mergedId[rank]!;
        alive[j] = 0;
        const k = next[j]!;
        next[i] = k;
        if (k >= 0) prev[k] = i;
        const p = prev[i]!;
        // Neither new pair can be (first, second) again, so none joins the current batch.
        if (p >= 0) {
          const r = rankAt(p);
          if (r >= 0) heap.push(r, p);
        }
        const r = rankAt(i);
        if (r >= 0) heap.push(r, i);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(symbols[i]!);
    return out;
  }
}

/** Binary min-heap of (rank, position), ordered by rank then position. */
class RankHeap {
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(rank: number, position: number): void {
    const keys = this.keys;
    let i = keys.length;
    const key = rank * 0x100000000 + position;
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      i = parent;
    }
    keys[i] = key;
  }

  peekRank(): number {
    return Math.floor(this.keys[0]! / 0x100000000);
  }

  /** Removes the smallest entry and returns its position. */
  pop(): number {
    const keys = this.keys;
    const top = keys[0]!;
    const last = keys.pop()!;
    if (keys.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= keys.length) break;
        const r = l + 1;
        const c = r < keys.length && keys[r]! < keys[l]! ? r : l;
        if (keys[c]! >= last) break;
        keys[i] = keys[c]!;
        i = c;
      }
      keys[i] = last;
    }
    return top % 0x100000000;
  }
}
