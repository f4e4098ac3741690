/**
 * The label-matrix kernel (issue #19): every product is bit-for-bit the plain `dot()` loop, in the
 * WebAssembly kernel and in the JavaScript one, for row counts around the 8-row blocks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RowMatrix } from '../../src/util/matvec.js';
import { dot } from '../../src/util/vectors.js';

function rnd(n: number, seed: number): Float32Array {
  let a = seed;
  return Float32Array.from({ length: n }, () => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
}

test('every product equals dot() bit for bit, both kernels, NaN rows stay NaN', () => {
  const kernels = new Set<string>();
  for (const dim of [1, 5, 128, 1024]) {
    for (const rows of [0, 1, 7, 8, 9, 17, 100]) {
      const vectors: (Float32Array | undefined)[] = Array.from({ length: rows }, (_, r) => rnd(dim, r + 1));
      if (rows > 3) {
        vectors[1]![0] = Number.NaN;
        vectors[2] = undefined; // a missing row
        vectors[3] = rnd(dim + 1, 9); // another length
      }
      const x = rnd(dim, 1000 + dim);
      for (const kernel of ['auto', 'js'] as const) {
        const m = new RowMatrix(vectors, dim, { kernel });
        kernels.add(m.kernel);
        const p = m.multiply(x);
        assert.equal(p.length, rows);
        vectors.forEach((v, r) => {
          const want = v && v.length === dim ? dot(x, v) : Number.NaN;
          assert.ok(Object.is(p[r], want), `${m.kernel} dim ${dim} row ${r}/${rows}: ${p[r]} vs ${want}`);
        });
        // Reused: a second vector overwrites the same array.
        const y = rnd(dim, 7);
        assert.equal(m.multiply(y), p);
        if (rows > 0 && vectors[0]) assert.ok(Object.is(p[0], dot(y, vectors[0])));
      }
    }
  }
  // Node 20 has WebAssembly SIMD: the fast kernel is the one exercised, beside the fallback.
  assert.deepEqual([...kernels].sort(), ['js', 'wasm']);
});

test('a vector of the wrong length is a TypeError naming both lengths', () => {
  const m = new RowMatrix([rnd(4, 1)], 4);
  assert.throws(() => m.multiply(new Float32Array(3)), {
    name: 'TypeError',
    message: 'RowMatrix: vector has 3 values, the rows have 4',
  });
  assert.throws(() => new RowMatrix([], 0), /dim must be ≥ 1, got 0/);
});
