/**
 * Deterministic pseudo-random weights: sfc32 seeded from (seed, tensor name) through splitmix32,
 * so each tensor's values depend only on the seed and its own name, never on generation order.
 */

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over the UTF-16 code units of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A uniform [0, 1) generator with 32 bits of resolution. */
export type Rng = () => number;

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), seeded from `seed` and `stream`. */
export function createRng(seed: number, stream = ''): Rng {
  const mix = splitmix32((seed >>> 0) ^ fnv1a(stream));
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** Fills `out` with N(mean, std²) samples (Box–Muller). */
export function fillNormal(out: Float32Array, rng: Rng, std = 1, mean = 0): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - rng(); // (0, 1]: log stays finite
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = mean + r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = mean + r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** A fresh `Float32Array(n)` of N(mean, std²) samples from the stream (`seed`, `name`). */
export function normalTensor(seed: number, name: string, n: number, std = 1, mean = 0): Float32Array {
  return fillNormal(new Float32Array(n), createRng(seed, name), std, mean);
}
