/**
 * The little WebAssembly assembler behind our two SIMD kernels (util/matvec.ts for label scoring,
 * history/kernel.ts for history search): opcodes, LEB128 and a one-function module around a body.
 * Hand-assembled because each kernel is a few dozen instructions; a toolchain (wat2wasm, a
 * compiler) at build time would be a dependency larger than the kernels.
 */

/** Unsigned LEB128 (lengths, counts, opcodes after a prefix). */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const I32 = 0x7f;
export const V128 = 0x7b;

/** A SIMD instruction: the 0xfd prefix, its opcode, then immediates (memarg, lane, bytes). */
const simd = (code: number, ...imm: number[]) => [0xfd, ...leb(code), ...imm];

/** The instructions the kernels use; memory accesses take (align log2, offset). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, depth],
  brIf: (depth: number) => [0x0d, depth],
  get: (local: number) => [0x20, local],
  set: (local: number) => [0x21, local],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Eqz: [0x45],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Store: (align: number, offset: number) => [0x36, align, offset],
  v128Load: (align: number, offset: number) => simd(0x00, align, offset),
  load8x8s: (align: number, offset: number) => simd(0x01, align, offset),
  load64Splat: (align: number, offset: number) => simd(0x0a, align, offset),
  v128Store: (align: number, offset: number) => simd(0x0b, align, offset),
  v128Zero: simd(0x0c, ...new Array<number>(16).fill(0)),
  /** i8x16.shuffle of a value with itself: lanes 8-15 (the high 8 bytes) moved to 0-7. */
  highToLow: simd(0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15),
  i32x4ExtractLane: (lane: number) => simd(0x1b, lane),
  i32x4Add: simd(0xae),
  i32x4DotI16x8s: simd(0xba),
  f64x2PromoteLowF32x4: simd(0x5f),
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
};

/** `local += by` for an i32 local. */
export const bump = (local: number, by: number) => [
  ...op.get(local),
  ...op.i32Const(by),
  ...op.i32Add,
  ...op.set(local),
];

const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
const name = (s: string) => [s.length, ...Buffer.from(s, 'ascii')];

/**
 * A module of one exported function `(params × i32) → ()` that works in an imported memory
 * (`env.memory`, at least one page). `locals` are the declarations after the parameters, as
 * [count, type] pairs; `body` ends with the function's own `end`.
 */
export function oneFunctionModule(spec: {
  exportName: string;
  params: number;
  locals: readonly (readonly [number, number])[];
  body: readonly number[];
}): Uint8Array {
  const funcBody = [spec.locals.length, ...spec.locals.flatMap(([n, t]) => [n, t]), ...spec.body];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, spec.params, ...new Array<number>(spec.params).fill(I32), 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0x01]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name(spec.exportName), 0x00, 0]),
    ...section(10, [1, ...leb(funcBody.length), ...funcBody]),
  ]);
}

/** The part of the WebAssembly JS API the kernels use (the project's type libraries do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
export const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
export const WASM_PAGE = 65536;

/** Compiles `bytes` once on first use; null where this runtime lacks WebAssembly or SIMD. */
export function lazyModule(bytes: Uint8Array): () => object | null {
  let compiled: object | null | undefined;
  return () => (compiled ??= wasm?.validate(bytes) ? new wasm.Module(bytes) : null);
}

export const align16 = (n: number) => (n + 15) & ~15;
