/** Small vector helpers shared by scoring and label building. */

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Whether every value of `v` is finite (no NaN, no ±Infinity). Allocates nothing: it runs on every
 * window embedding, so one NaN from an encoder is dropped before it reaches scoring (issue 14).
 */
export function allFinite(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/** Index of the first NaN or ±Infinity in `v`, or -1. */
export function firstNonFinite(v: ArrayLike<number>): number {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return i;
  return -1;
}

/** L2-normalises in place (a zero vector stays zero) and returns it. */
export function normalizeInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = s > 1e-24 ? 1 / Math.sqrt(s) : 0;
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

/** Mean of unit vectors, re-normalised: CLIP's prompt ensembling. */
export function meanDirection(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 0) throw new TypeError('meanDirection of no vectors');
  const out = new Float32Array(vectors[0]!.length);
  for (const v of vectors) {
    const u = normalizeInPlace(Float32Array.from(v));
    for (let i = 0; i < out.length; i++) out[i]! += u[i]!;
  }
  return normalizeInPlace(out);
}

/** `out = Σ weights[i] · vectors[i]`, re-normalised (embedding arithmetic); zero if nothing to add. */
export function weightedDirection(
  vectors: readonly Float32Array[],
  weights: readonly number[],
  dim = vectors[0]?.length ?? 0,
): Float32Array {
  const out = new Float32Array(dim);
  vectors.forEach((v, k) => {
    const w = weights[k]!;
    for (let i = 0; i < dim; i++) out[i]! += w * v[i]!;
  });
  return normalizeInPlace(out);
}

/** Little-endian float32 bytes as base64 (prototype files, config examples). */
export function float32ToBase64(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i]!, i * 4);
  return bytes.toString('base64');
}

/** Inverse of float32ToBase64; TypeError when the length is not a whole number of floats. */
export function base64ToFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0) {
    throw new TypeError(`base64 vector: ${bytes.length} bytes is not a whole number of float32 values`);
  }
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** IEEE 754 half precision of `x` (round to nearest even), as the 16-bit pattern. */
export function toFloat16Bits(x: number): number {
  const f32 = new Float32Array([x]);
  const u = new Uint32Array(f32.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  if (half >>> 10 >= 0x1f) {
    e = 0x1f;
    return sign | 0x7c00;
  }
  return sign | half;
}

/** Decodes a 16-bit half-precision pattern. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Little-endian float16 bytes as base64 (the optional fused embedding in events). */
export function float16ToBase64(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 2);
  for (let i = 0; i < v.length; i++) bytes.writeUInt16LE(toFloat16Bits(v[i]!), i * 2);
  return bytes.toString('base64');
}

export function base64ToFloat16(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float32Array(bytes.length >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = fromFloat16Bits(bytes.readUInt16LE(i * 2));
  return out;
}
