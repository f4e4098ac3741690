/**
 * What a pack's text encoder can read (issue #13). A closed-vocabulary pack (`word-hash` with a
 * `vocab` file) only has vectors for the words it was trained on: any other word maps to an
 * untrained id and adds nothing, so "a baby crying" and "a cat meowing" both read as "a". An
 * open-vocabulary pack (CLIP BPE, as exported ImageBind) splits any text into known pieces.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

import { PackError } from '../../errors.js';
import type { Tokenizer } from '../manifest.js';

export type TextVocabulary =
  /** Every text tokenizes into pieces the encoder knows (CLIP BPE). */
  | { readonly kind: 'open' }
  /** Only `words` carry meaning; `concepts` are phrases the pack was trained to place. */
  | {
      readonly kind: 'closed';
      readonly words: ReadonlySet<string>;
      readonly concepts: readonly string[];
    }
  /** A closed tokenizer without a word list (random-weight test packs): nothing can be checked. */
  | { readonly kind: 'unlisted' };

/** `vocab` file of a word-hash pack. */
export const VocabFileSchema = z.strictObject({
  /** Every word (as the tokenizer splits it: lower case, split on whitespace, punctuation kept). */
  words: z.array(z.string().min(1)).min(1),
  /** Phrases the pack knows well (e.g. its training classes' canonical prompts). */
  concepts: z.array(z.string().min(1)).default([]),
});
export type VocabFile = z.infer<typeof VocabFileSchema>;

const WORD = /\S+/gu;

/** The words of `text` as the word-hash tokenizer sees them. */
export function wordHashWords(text: string): string[] {
  return [...text.toLowerCase().matchAll(WORD)].map((m) => m[0]);
}

/** Words of `text` outside a closed vocabulary, in order of first appearance; [] otherwise. */
export function unknownWords(vocabulary: TextVocabulary, text: string): string[] {
  if (vocabulary.kind !== 'closed') return [];
  return [...new Set(wordHashWords(text).filter((w) => !vocabulary.words.has(w)))];
}

/**
 * The vocabulary a manifest's tokenizer declares. The vocab file's presence and sha256 have been
 * checked by loadPack; problems here are about its content and throw a PackError naming the file.
 */
export function loadVocabulary(spec: Tokenizer, packDir: string): TextVocabulary {
  if (spec.kind === 'clip-bpe') return { kind: 'open' };
  if (spec.vocab === undefined) return { kind: 'unlisted' };
  const file = resolve(packDir, spec.vocab);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new PackError(
      'PACK_FILE_MISSING',
      file,
      `tokenizer vocabulary ${file} is missing or unreadable`,
      err,
    );
  }
  if (spec.sha256 !== undefined) {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== spec.sha256)
      throw new PackError(
        'PACK_CHECKSUM',
        file,
        `tokenizer vocabulary ${file}: sha256 mismatch (expected ${spec.sha256}, actual ${actual})`,
      );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PackError('PACK_INVALID', file, `${file}: not valid JSON: ${(err as Error).message}`, err);
  }
  const parsed = VocabFileSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw new PackError(
      'PACK_INVALID',
      file,
      `${file}: invalid vocabulary at ${first.path.join('.') || '(root)'}: ${first.message}`,
      parsed.error,
    );
  }
  return {
    kind: 'closed',
    words: new Set(parsed.data.words.map((w) => w.toLowerCase())),
    concepts: parsed.data.concepts,
  };
}
