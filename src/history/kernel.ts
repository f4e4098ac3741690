/**
 * The history's one scoring kernel (issue #18): the dot product of one query with every int8
 * vector of a segment's records, in place in the bytes read from the file.
 *
 * It is WebAssembly SIMD: the query is quantised once to int16 (scaled so that no int32 sum can
 * overflow), each record's 8 int8 values widen to int16 (`i16x8.load8x8_s`) and multiply-add
 * against 8 query values (`i32x4.dot_i16x8_s`), 8 products per instruction. The segment is read
 * straight into the kernel's memory, so nothing is copied. Where WebAssembly SIMD is missing, the
 * same products come from a JavaScript loop with the float query (`kernel: 'js'`; tests compare
 * the two). util/matvec.ts (#19) is the float kernel for label scoring: its rows are fixed and
 * interleaved in its own memory, which does not fit a stream of int8 records read from files.
 *
 * (func (export "dots") (param $rec i32) (param $n i32) (param $rb i32) (param $q i32)
 *       (param $chunks i32) (param $out i32)
 *   (local $p i32) (local $qp i32) (local $c i32) (local $acc v128)
 *   for each of $n records at $rec, $rec + $rb, …:
 *     $acc = 0; $p = $rec + 24; $qp = $q
 *     repeat $chunks times: $acc += dot_i16x8_s(load8x8_s($p), v128.load($qp)); $p += 8; $qp += 16
 *     i32.store($out, sum of $acc's 4 lanes); $out += 4
 * )
 */
import { RECORD_META_BYTES } from './format.js';
import {
  I32,
  V128,
  align16,
  bump,
  lazyModule,
  oneFunctionModule,
  op,
  wasm,
  WASM_PAGE,
  type WasmMemory,
} from '../util/wasm-emit.js';

const [REC, N, RB, Q, CHUNKS, OUT, P, QP, C, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const { get, set, block, loop, end, br, brIf } = op;
const i32c = op.i32Const;
const add = op.i32Add;
const eqz = op.i32Eqz;
const lane = (k: number) => [...get(ACC), ...op.i32x4ExtractLane(k)];

const body = [
  ...block,
  ...loop,
  ...get(N),
  ...eqz,
  ...brIf(1),
  ...op.v128Zero,
  ...set(ACC),
  ...get(REC),
  ...i32c(RECORD_META_BYTES),
  ...add,
  ...set(P),
  ...get(Q),
  ...set(QP),
  ...get(CHUNKS),
  ...set(C),
  ...block,
  ...loop,
  ...get(C),
  ...eqz,
  ...brIf(1),
  ...get(ACC),
  ...get(P),
  ...op.load8x8s(3, 0),
  ...get(QP),
  ...op.v128Load(4, 0),
  ...op.i32x4DotI16x8s,
  ...op.i32x4Add,
  ...set(ACC),
  ...bump(P, 8),
  ...bump(QP, 16),
  ...bump(C, -1),
  ...br(0),
  ...end,
  ...end,
  ...get(OUT),
  ...lane(0),
  ...lane(1),
  ...add,
  ...lane(2),
  ...add,
  ...lane(3),
  ...add,
  ...op.i32Store(2, 0),
  ...bump(OUT, 4),
  ...get(REC),
  ...get(RB),
  ...add,
  ...set(REC),
  ...bump(N, -1),
  ...br(0),
  ...end,
  ...end,
  ...end,
];

// Locals after the 6 parameters: 3 × i32 ($p, $qp, $c), 1 × v128 ($acc).
const MODULE_BYTES = oneFunctionModule({
  exportName: 'dots',
  params: 6,
  locals: [
    [3, I32],
    [1, V128],
  ],
  body,
});
const kernelModule = lazyModule(MODULE_BYTES);

type Dots = (rec: number, n: number, rb: number, q: number, chunks: number, out: number) => void;

/**
 * Scores the records of one segment after another against one query. `buffer(size)` gives the
 * place to read a segment into; `score(records, recordBytes)` then fills `dots` (one per record,
 * `Σ q[i]·v[i]` over the record's int8 values; multiply by the record's scale for the cosine).
 */
export class SegmentScorer {
  readonly kernel: 'wasm' | 'js';
  readonly dim: number;
  private readonly query: Float32Array;
  private readonly chunks: number;
  private readonly qScale: number;
  private readonly memory: WasmMemory | undefined;
  private readonly dotsFn: Dots | undefined;
  private readonly qBytes: number;
  private segAt = 0;
  private outAt = 0;
  private bytes: Buffer = Buffer.alloc(0);
  private out = new Float32Array(0);

  constructor(query: Float32Array, options: { kernel?: 'auto' | 'js' } = {}) {
    this.query = query;
    this.dim = query.length;
    this.chunks = Math.ceil(query.length / 8);
    this.qBytes = align16(this.chunks * 16);
    const mod = options.kernel === 'js' ? null : kernelModule();
    let maxAbs = 0;
    for (const x of query) maxAbs = Math.max(maxAbs, Math.abs(x));
    // |Σ q·v| ≤ qMax · 127 · 8·chunks < 2^31: no int32 sum overflows.
    const qMax = Math.min(32767, Math.floor((2 ** 31 - 1) / (127 * 8 * this.chunks)));
    this.qScale = maxAbs > 0 ? maxAbs / qMax : 1;
    if (mod && wasm) {
      this.memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(this.qBytes / WASM_PAGE)) });
      this.dotsFn = new wasm.Instance(mod, { env: { memory: this.memory } }).exports.dots as Dots;
      const q16 = new Int16Array(this.memory.buffer, 0, this.chunks * 8);
      for (let i = 0; i < query.length; i++) q16[i] = Math.round(query[i]! / this.qScale);
      this.kernel = 'wasm';
    } else {
      this.kernel = 'js';
    }
  }

  /** A buffer of at least `size` bytes for a segment of `recordBytes` records; valid until the next call. */
  buffer(size: number, recordBytes: number): Buffer {
    const records = Math.max(0, Math.ceil(size / recordBytes));
    if (this.out.length < records) this.out = new Float32Array(Math.max(records, this.out.length * 2));
    if (!this.memory) {
      if (this.bytes.length < size) this.bytes = Buffer.alloc(Math.max(size, this.bytes.length * 2));
      return this.bytes;
    }
    this.outAt = this.qBytes;
    this.segAt = align16(this.outAt + records * 4);
    const need = this.segAt + size + 16;
    if (this.memory.buffer.byteLength < need)
      this.memory.grow(Math.ceil((need - this.memory.buffer.byteLength) / WASM_PAGE));
    return Buffer.from(this.memory.buffer, this.segAt, size);
  }

  /**
   * `dots[r]` for each of `records` records that start `firstOffset` bytes into the buffer last
   * returned by `buffer()`. The array is reused by the next call.
   */
  score(firstOffset: number, records: number, recordBytes: number): Float32Array {
    const dots = this.out;
    if (this.dotsFn && this.memory) {
      this.dotsFn(this.segAt + firstOffset, records, recordBytes, 0, this.chunks, this.outAt);
      const sums = new Int32Array(this.memory.buffer, this.outAt, records);
      for (let r = 0; r < records; r++) dots[r] = sums[r]! * this.qScale;
      return dots;
    }
    const i8 = new Int8Array(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    for (let r = 0, o = firstOffset + RECORD_META_BYTES; r < records; r++, o += recordBytes)
      dots[r] = dotInt8(i8, o, this.query, this.dim);
    return dots;
  }
}

/** `Σ q[i]·v[i]` over an int8 vector at `base` of `v`, unrolled by four (the JavaScript kernel). */
export function dotInt8(v: Int8Array, base: number, q: Float32Array, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < dim; i += 4) {
    s0 += v[base + i]! * q[i]!;
    s1 += v[base + i + 1]! * q[i + 1]!;
    s2 += v[base + i + 2]! * q[i + 2]!;
    s3 += v[base + i + 3]! * q[i + 3]!;
  }
  for (; i < dim; i++) s0 += v[base + i]! * q[i]!;
  return s0 + s1 + s2 + s3;
}
