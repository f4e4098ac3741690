/**
 * `edgebind tokenize --vocab FILE [TEXT...]`: prints the CLIP BPE ids ImageBind would feed its text
 * encoder, one array of `contextLength` (77) ids per text, all inside one JSON array.
 */
import type { Command } from 'commander';

import { ClipTokenizer } from '../../encoders/text/clip-bpe.js';
import { reportAndExit } from '../errors.js';

export interface TokenizeOptions {
  /** Gzip CLIP vocabulary, e.g. `bpe_simple_vocab_16e6.txt.gz`. */
  vocab: string;
}

/** Where the command writes; `process.stdout` by default. */
export interface TokenizeDeps {
  stdout?: { write(chunk: string): unknown };
}

/** Tokenizes `texts` in order, writes the JSON array and a newline, and returns the rows. */
export function tokenizeAction(
  texts: readonly string[],
  options: TokenizeOptions,
  deps: TokenizeDeps = {},
): number[][] {
  const tokenizer = ClipTokenizer.fromVocabFile(options.vocab);
  const rows = texts.map((text) => Array.from(tokenizer.encode(text)));
  (deps.stdout ?? process.stdout).write(`${JSON.stringify(rows)}\n`);
  return rows;
}

export function registerTokenize(program: Command, deps: TokenizeDeps = {}): void {
  program
    .command('tokenize')
    .description('print the CLIP BPE token ids of each text as one JSON array of 77-id arrays')
    .requiredOption(
      '--vocab <file>',
      "gzip CLIP BPE vocabulary, bpe_simple_vocab_16e6.txt.gz: inside an exported ImageBind pack, or CLIP's " +
        '(github.com/openai/CLIP, clip/); edgebind ships none (models/mini uses a word-hash vocabulary)',
    )
    .argument('[text...]', 'texts to tokenize, in order')
    .action((texts: string[], options: TokenizeOptions) => {
      try {
        tokenizeAction(texts, options, deps);
      } catch (err) {
        reportAndExit(err);
      }
    });
}
