/**
 * What every text tokenizer offers, and the CLIP framing they share:
 * `[START_OF_TEXT, ...ids]` cut to `contextLength - 1`, then `END_OF_TEXT`, then zeros.
 */

/** `<|startoftext|>` in the CLIP vocabulary. */
export const START_OF_TEXT = 49406;
/** `<|endoftext|>`; the text encoder reads its output at the first (largest) id, so it must always be kept. */
export const END_OF_TEXT = 49407;
/** ImageBind's text context length. */
export const CLIP_CONTEXT_LENGTH = 77;

export interface TextTokenizer {
  /** Ids per text; `encode` always returns exactly this many. */
  readonly contextLength: number;
  /** Token ids of one text, framed and zero-padded to `contextLength`. */
  encode(text: string): Int32Array;
}

/** Throws a `TypeError` unless `contextLength` can hold the start and end tokens. */
export function checkContextLength(contextLength: number): number {
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new TypeError(`contextLength must be an integer >= 2, got ${String(contextLength)}`);
  }
  return contextLength;
}

/**
 * Frames `ids` as ImageBind does since commit 1125e1e: the end token always survives truncation
 * (texts longer than `contextLength - 2` tokens lose their tail, never their end token).
 */
export function frameTokens(ids: ArrayLike<number>, contextLength: number): Int32Array {
  const out = new Int32Array(contextLength);
  const n = Math.min(ids.length, contextLength - 2);
  out[0] = START_OF_TEXT;
  for (let i = 0; i < n; i++) out[i + 1] = ids[i]!;
  out[n + 1] = END_OF_TEXT;
  return out;
}

/** Tokenizes `texts` into the `[texts.length, contextLength]` int64 tensor data onnxruntime expects. */
export function encodeBatchInt64(tokenizer: TextTokenizer, texts: readonly string[]): BigInt64Array {
  const width = tokenizer.contextLength;
  const out = new BigInt64Array(texts.length * width);
  texts.forEach((text, row) => {
    const ids = tokenizer.encode(text);
    if (ids.length !== width) {
      throw new TypeError(`tokenizer returned ${ids.length} ids, expected contextLength ${width}`);
    }
    for (let i = 0; i < width; i++) out[row * width + i] = BigInt(ids[i]!);
  });
  return out;
}
