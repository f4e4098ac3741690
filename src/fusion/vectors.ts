/** Small vector helpers shared by scoring and label building. */

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
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
