/**
 * Tokenizer for test packs (manifest `tokenizer.kind: word-hash`): needs no vocabulary file, and
 * gives a tiny text model stable, distinct ids per word.
 */
import {
  CLIP_CONTEXT_LENGTH,
  START_OF_TEXT,
  checkContextLength,
  frameTokens,
  type TextTokenizer,
} from './tokenizer.js';

export interface WordHashTokenizerOptions {
  /** Ids are `hash mod vocabSize`, so always below the CLIP special tokens (at most 49406). */
  vocabSize: number;
  /** Ids per text. Default 77. */
  contextLength?: number;
}

const WORD = /\S+/gu;

/** FNV-1a, 32-bit, over the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Lower-cases the text, splits it on whitespace (JavaScript `\s`; punctuation stays part of its
 * word), maps each word to `fnv1a32(word) % vocabSize` and frames the ids like CLIP: 49406, ids cut to
 * `contextLength - 2`, 49407, zero padding.
 */
export class WordHashTokenizer implements TextTokenizer {
  readonly contextLength: number;
  readonly vocabSize: number;

  constructor(options: WordHashTokenizerOptions) {
    const { vocabSize } = options;
    if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > START_OF_TEXT) {
      throw new TypeError(`vocabSize must be an integer in [1, ${START_OF_TEXT}], got ${String(vocabSize)}`);
    }
    this.vocabSize = vocabSize;
    this.contextLength = checkContextLength(options.contextLength ?? CLIP_CONTEXT_LENGTH);
  }

  encode(text: string): Int32Array {
    const limit = this.contextLength - 2;
    const ids: number[] = [];
    for (const [word] of text.toLowerCase().matchAll(WORD)) {
      if (ids.length >= limit) break;
      ids.push(fnv1a32(word) % this.vocabSize);
    }
    return frameTokens(ids, this.contextLength);
  }
}
