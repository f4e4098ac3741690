/** Text tokenizers: CLIP BPE as ImageBind uses it, and word-hash for test packs. */
export {
  CLIP_CONTEXT_LENGTH,
  END_OF_TEXT,
  START_OF_TEXT,
  encodeBatchInt64,
  frameTokens,
  type TextTokenizer,
} from './tokenizer.js';
export {
  ClipTokenizer,
  CLIP_MERGE_COUNT,
  CLIP_VOCAB_SIZE,
  bytesToUnicode,
  type ClipTokenizerOptions,
} from './clip-bpe.js';
export { WordHashTokenizer, fnv1a32, type WordHashTokenizerOptions } from './word-hash.js';
export { createTokenizer } from './create-tokenizer.js';
export { cleanText, htmlUnescape } from './clean.js';
