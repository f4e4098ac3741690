"""The pack's `word-hash` tokenizer, identical to src/encoders/text/word-hash.ts: FNV-1a (32-bit)
of each lower-cased whitespace-split word (UTF-8) mod vocab_size, framed 49406 ... 49407, cut to
context_length - 2 words, zero-padded to context_length."""

START, END = 49406, 49407


def fnv1a32(word: str) -> int:
    h = 0x811C9DC5
    for b in word.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def encode(text: str, vocab_size: int, context_length: int = 77) -> list[int]:
    # JavaScript's \s and Python's str.split() agree on the whitespace our prompts use.
    ids = [fnv1a32(w) % vocab_size for w in text.lower().split()][: context_length - 2]
    out = [START, *ids, END]
    return out + [0] * (context_length - len(out))
