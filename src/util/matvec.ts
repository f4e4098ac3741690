/**
 * One matrix–vector product over a fixed set of unit vectors (issue #19): label scoring multiplies
 * every window embedding by all label and background vectors at once.
 *
 * The rows are stored once, contiguously, in blocks of 8 rows interleaved column by column
 * (`[block][column][8]` float32), so one pass over the vector reads the matrix as a single stream
 * and keeps 8 independent sums. Each row's sum is still `Σ x[i]·row[i]` in float64, added in
 * column order from 0, so every result is bit-for-bit the plain loop `util/vectors.ts` `dot()`
 * gives: only the order in which rows are visited changed, never the order within a row.
 *
 * The kernel is WebAssembly SIMD (f64x2 lanes, one row per lane, so the per-row order is kept),
 * assembled below from its opcodes, with the same loop in JavaScript where WebAssembly SIMD is
 * missing. `multiply()` allocates nothing.
 */
import { I32, V128, align16, bump, lazyModule, oneFunctionModule, op, wasm, WASM_PAGE } from './wasm-emit.js';

/** Rows per interleaved block. */
const BLOCK = 8;

// ---- the WebAssembly kernel ------------------------------------------------------------------
//
// (func (export "mv") (param $m i32) (param $x i32) (param $out i32) (param $blocks i32) (param $dim i32)
//   (local $i i32) (local $xp i32) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
//   (local $v v128) (local $xs v128)
//   block loop                                  ;; over blocks of 8 rows
//     $blocks == 0 → break
//     $a0..$a3 = 0; $xp = $x; $i = $dim
//     block loop                                ;; over columns
//       $i == 0 → break
//       $xs = v128.load64_splat($xp)            ;; x[i] as float64, both lanes
//       $v = v128.load($m)                      ;; rows 0-3 of the block at column i (float32)
//       $a0 += $xs * f64x2.promote_low_f32x4($v)             ;; rows 0, 1
//       $a1 += $xs * f64x2.promote_low_f32x4(shuffle hi→lo $v) ;; rows 2, 3
//       $v = v128.load($m + 16)                 ;; rows 4-7
//       $a2 += …; $a3 += …
//       $m += 32; $xp += 8; $i -= 1
//     end end
//     v128.store($out, $a0) … ($out + 48, $a3); $out += 64; $blocks -= 1
//   end end)

// Locals: params 0-4, then $i 5, $xp 6, $a0-$a3 7-10, $v 11, $xs 12.
const [M, X, OUT, BLOCKS, DIM, I, XP, A0, A1, A2, A3, V, XS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

/** `$acc += $xs * promote_low(lanes)`, where `lanes` pushes the v128 of float32s. */
const accumulate = (acc: number, lanes: number[]) => [
  ...op.get(acc),
  ...op.get(XS),
  ...lanes,
  ...op.f64x2PromoteLowF32x4,
  ...op.f64x2Mul,
  ...op.f64x2Add,
  ...op.set(acc),
];

const body = [
  ...op.block,
  ...op.loop,
  ...op.get(BLOCKS),
  ...op.i32Eqz,
  ...op.brIf(1),
  ...[A0, A1, A2, A3].flatMap((a) => [...op.v128Zero, ...op.set(a)]),
  ...op.get(X),
  ...op.set(XP),
  ...op.get(DIM),
  ...op.set(I),
  ...op.block,
  ...op.loop,
  ...op.get(I),
  ...op.i32Eqz,
  ...op.brIf(1),
  ...op.get(XP),
  ...op.load64Splat(3, 0),
  ...op.set(XS),
  ...op.get(M),
  ...op.v128Load(4, 0),
  ...op.set(V),
  ...accumulate(A0, op.get(V)),
  ...accumulate(A1, [...op.get(V), ...op.get(V), ...op.highToLow]),
  ...op.get(M),
  ...op.v128Load(4, 16),
  ...op.set(V),
  ...accumulate(A2, op.get(V)),
  ...accumulate(A3, [...op.get(V), ...op.get(V), ...op.highToLow]),
  ...bump(M, 32),
  ...bump(XP, 8),
  ...op.get(I),
  ...op.i32Const(1),
  ...op.i32Sub,
  ...op.set(I),
  ...op.br(0),
  ...op.end,
  ...op.end,
  ...[A0, A1, A2, A3].flatMap((a, k) => [...op.get(OUT), ...op.get(a), ...op.v128Store(4, 16 * k)]),
  ...bump(OUT, 64),
  ...op.get(BLOCKS),
  ...op.i32Const(1),
  ...op.i32Sub,
  ...op.set(BLOCKS),
  ...op.br(0),
  ...op.end,
  ...op.end,
  ...op.end,
];

// Two local declarations after the 5 parameters: 2 × i32 ($i, $xp), 6 × v128.
const MODULE_BYTES = oneFunctionModule({
  exportName: 'mv',
  params: 5,
  locals: [
    [2, I32],
    [6, V128],
  ],
  body,
});
const kernelModule = lazyModule(MODULE_BYTES);

type Kernel = (m: number, x: number, out: number, blocks: number, dim: number) => void;

export interface RowMatrixOptions {
  /** Force the JavaScript loop (tests compare it with the WebAssembly kernel). */
  kernel?: 'auto' | 'js';
}

/**
 * `rows` vectors of length `dim`, fixed at construction. A row given with another length, or
 * missing, is stored as NaN, so its product is NaN.
 */
export class RowMatrix {
  readonly rows: number;
  readonly dim: number;
  /** `products[r]` is row r · x after `multiply(x)`; the same array every call. */
  readonly products: Float64Array;
  /** `wasm` or `js`: which kernel `multiply` runs. */
  readonly kernel: 'wasm' | 'js';
  private readonly blocks: number;
  private readonly matrix: Float32Array;
  private readonly x: Float64Array;
  private readonly out: Float64Array;
  private readonly mv: Kernel | undefined;

  constructor(vectors: readonly (Float32Array | undefined)[], dim: number, options: RowMatrixOptions = {}) {
    if (!Number.isInteger(dim) || dim < 1) throw new TypeError(`RowMatrix: dim must be ≥ 1, got ${dim}`);
    this.rows = vectors.length;
    this.dim = dim;
    this.blocks = Math.ceil(this.rows / BLOCK);
    const matrixFloats = this.blocks * BLOCK * dim;
    const outFloats = this.blocks * BLOCK;
    const mod = options.kernel === 'js' ? null : kernelModule();
    if (mod && wasm) {
      // One memory per matrix: [matrix float32][x float64][out float64], all 16-byte aligned.
      const bytes = matrixFloats * 4 + dim * 8 + outFloats * 8 + 16;
      const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / WASM_PAGE)) });
      const instance = new wasm.Instance(mod, { env: { memory } });
      this.mv = instance.exports.mv as Kernel;
      const buf = memory.buffer;
      this.matrix = new Float32Array(buf, 0, matrixFloats);
      const xAt = align16(matrixFloats * 4);
      this.x = new Float64Array(buf, xAt, dim);
      this.out = new Float64Array(buf, align16(xAt + dim * 8), outFloats);
      this.kernel = 'wasm';
    } else {
      this.matrix = new Float32Array(matrixFloats);
      this.x = new Float64Array(dim);
      this.out = new Float64Array(outFloats);
      this.kernel = 'js';
    }
    this.products = this.out.subarray(0, this.rows);
    vectors.forEach((v, r) => {
      const base = Math.floor(r / BLOCK) * BLOCK * dim + (r % BLOCK);
      for (let i = 0; i < dim; i++)
        this.matrix[base + i * BLOCK] = v && v.length === dim ? v[i]! : Number.NaN;
    });
  }

  /** `products[r] = Σ x[i]·row_r[i]` for every row, in float64. TypeError when x has another length. */
  multiply(x: Float32Array): Float64Array {
    if (x.length !== this.dim) {
      throw new TypeError(`RowMatrix: vector has ${x.length} values, the rows have ${this.dim}`);
    }
    if (this.rows === 0) return this.products;
    if (this.mv) {
      this.x.set(x);
      this.mv(this.matrix.byteOffset, this.x.byteOffset, this.out.byteOffset, this.blocks, this.dim);
    } else {
      multiplyJs(this.matrix, x, this.out, this.blocks, this.dim);
    }
    return this.products;
  }
}

/** The kernel's loop in JavaScript: same layout, same order per row. */
function multiplyJs(m: Float32Array, x: Float32Array, out: Float64Array, blocks: number, dim: number): void {
  for (let b = 0; b < blocks; b++) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let s6 = 0;
    let s7 = 0;
    for (let i = 0, p = b * dim * BLOCK; i < dim; i++, p += BLOCK) {
      const xi = x[i]!;
      s0 += xi * m[p]!;
      s1 += xi * m[p + 1]!;
      s2 += xi * m[p + 2]!;
      s3 += xi * m[p + 3]!;
      s4 += xi * m[p + 4]!;
      s5 += xi * m[p + 5]!;
      s6 += xi * m[p + 6]!;
      s7 += xi * m[p + 7]!;
    }
    const o = b * BLOCK;
    out[o] = s0;
    out[o + 1] = s1;
    out[o + 2] = s2;
    out[o + 3] = s3;
    out[o + 4] = s4;
    out[o + 5] = s5;
    out[o + 6] = s6;
    out[o + 7] = s7;
  }
}
