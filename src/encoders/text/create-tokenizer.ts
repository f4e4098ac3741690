/** Builds the tokenizer a model pack's manifest asks for. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

import { PackError } from '../../errors.js';
import type { Tokenizer } from '../manifest.js';
import { ClipTokenizer } from './clip-bpe.js';
import type { TextTokenizer } from './tokenizer.js';
import { WordHashTokenizer } from './word-hash.js';

/**
 * Returns the tokenizer for a manifest's `tokenizer` entry. For `clip-bpe` the vocabulary file must
 * sit inside `packDir` and match its sha256; problems throw a `PackError` naming the file.
 */
export function createTokenizer(spec: Tokenizer, packDir: string): TextTokenizer {
  const manifest = join(packDir, 'manifest.json');
  if (!Number.isInteger(spec.contextLength) || spec.contextLength < 2) {
    throw new PackError(
      'PACK_INVALID',
      manifest,
      `tokenizer.contextLength must be an integer >= 2, got ${spec.contextLength}`,
    );
  }
  switch (spec.kind) {
    case 'word-hash':
      return new WordHashTokenizer({ vocabSize: spec.vocabSize, contextLength: spec.contextLength });
    case 'clip-bpe': {
      const file = resolve(packDir, spec.vocab);
      const inside = relative(resolve(packDir), file);
      if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
        throw new PackError(
          'PACK_INVALID',
          manifest,
          `tokenizer.vocab must name a file inside the pack, got ${JSON.stringify(spec.vocab)}`,
        );
      }
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
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== spec.sha256.toLowerCase()) {
        throw new PackError(
          'PACK_CHECKSUM',
          file,
          `tokenizer vocabulary ${file}: sha256 mismatch (expected ${spec.sha256}, actual ${actual})`,
        );
      }
      return ClipTokenizer.fromGzipBytes(bytes, { contextLength: spec.contextLength, source: file });
    }
  }
}
