/**
 * Opset-17 building blocks for ImageBind-shaped graphs: linear layers, LayerNorm, exact GELU,
 * multi-head attention (optionally with ImageBind's `add_bias_kv` and a causal mask), pre-norm
 * transformer blocks and the L2-normalise-then-scale postprocessor.
 *
 * Activations are batch-first `[B, L, d]` (ImageBind runs sequence-first internally; the layout
 * does not change the arithmetic). Weights are created lazily from (seed, name), so a 1.4 GB
 * encoder is generated tensor by tensor while it is written.
 */
import { float, type GraphBuilder } from './graph.js';
import { normalTensor } from './random.js';

/** Creates a graph's parameters deterministically from one seed. */
export class Params {
  readonly g: GraphBuilder;
  readonly seed: number;
  constructor(g: GraphBuilder, seed: number) {
    this.g = g;
    this.seed = seed;
  }

  /** N(0, std²) weights, generated when the model is written. */
  normal(name: string, dims: number[], std: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.g.initializer(name, dims, () => normalTensor(this.seed, name, n, std));
  }

  /** A tensor filled with one value (LayerNorm gains and biases, zero-initialised biases). */
  fill(name: string, dims: number[], value: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    return this.g.initializer(name, dims, () => new Float32Array(n).fill(value));
  }
}

export interface LinearOptions {
  /** Default true. */
  bias?: boolean;
  /** Weight init std; default 0.02 (ImageBind's trunc_normal_ std). */
  std?: number;
}

/** `x · W (+ b)` with W stored as `[inDim, outDim]` (MatMul layout, i.e. PyTorch's weight transposed). */
export function linear(
  p: Params,
  x: string,
  name: string,
  inDim: number,
  outDim: number,
  opts: LinearOptions = {},
) {
  const w = p.normal(`${name}.weight`, [inDim, outDim], opts.std ?? 0.02);
  const y = p.g.op('MatMul', [x, w]);
  if (opts.bias === false) return y;
  return p.g.op('Add', [y, p.fill(`${name}.bias`, [outDim], 0)]);
}

/** LayerNorm over the last axis, eps 1e-6 as everywhere in ImageBind. */
export function layerNorm(p: Params, x: string, name: string, dim: number): string {
  const gamma = p.fill(`${name}.weight`, [dim], 1);
  const beta = p.fill(`${name}.bias`, [dim], 0);
  return p.g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: float(1e-6) });
}

/** Exact (erf) GELU: 0.5·x·(1 + erf(x/√2)). `Gelu` itself is opset 20; ORT fuses this pattern. */
export function gelu(g: GraphBuilder, x: string): string {
  const scaled = g.op('Div', [x, g.constFloat([Math.SQRT2], [])]);
  const e = g.op('Add', [g.op('Erf', [scaled]), g.constFloat([1], [])]);
  return g.op('Mul', [g.op('Mul', [x, e]), g.constFloat([0.5], [])]);
}

/** Prepends a learned `[1, 1, d]` token to every sequence of `x` `[B, L, d]`. */
export function prependToken(g: GraphBuilder, x: string, token: string, d: number): string {
  const batch = g.op('Slice', [g.op('Shape', [x]), g.constInt64([0]), g.constInt64([1])]);
  const shape = g.op('Concat', [batch, g.constInt64([1, d])], { axis: 0 });
  return g.op('Concat', [g.op('Expand', [token, shape]), x], { axis: 1 });
}

export interface AttentionOptions {
  /** ImageBind's `add_bias_kv`: one learned key and value appended to every sequence. */
  biasKv?: boolean;
  /** Additive `[L, L]` mask (e.g. causal, with −∞ above the diagonal). */
  mask?: string;
}

/** `nn.MultiheadAttention` (packed in-projection, biases, out-projection) on `[B, L, d]`. */
export function attention(
  p: Params,
  x: string,
  name: string,
  d: number,
  heads: number,
  opts: AttentionOptions = {},
): string {
  const g = p.g;
  const dh = d / heads;
  if (!Number.isInteger(dh)) throw new TypeError(`${name}: width ${d} is not divisible by ${heads} heads`);
  const qkv = linear(p, x, `${name}.in_proj`, d, 3 * d);
  const [q, k0, v0] = g.node('Split', [qkv, g.constInt64([d, d, d])], { axis: -1 }, { outputs: 3 }) as [
    string,
    string,
    string,
  ];
  const k = opts.biasKv ? prependToken(g, k0, p.normal(`${name}.bias_k`, [1, 1, d], 0.02), d) : k0;
  const v = opts.biasKv ? prependToken(g, v0, p.normal(`${name}.bias_v`, [1, 1, d], 0.02), d) : v0;
  const splitHeads = g.constInt64([0, -1, heads, dh]);
  const toHeads = (t: string, perm: number[]) =>
    g.op('Transpose', [g.op('Reshape', [t, splitHeads])], { perm });
  const qh = toHeads(q, [0, 2, 1, 3]); // [B, h, L, dh]
  const kt = toHeads(k, [0, 2, 3, 1]); // [B, h, dh, L(+1)]
  const vh = toHeads(v, [0, 2, 1, 3]); // [B, h, L(+1), dh]
  let scores = g.op('Mul', [g.op('MatMul', [qh, kt]), g.constFloat([1 / Math.sqrt(dh)], [])]);
  if (opts.mask) scores = g.op('Add', [scores, opts.mask]);
  const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), vh]); // [B, h, L, dh]
  const merged = g.op('Reshape', [
    g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }),
    g.constInt64([0, -1, d]),
  ]);
  return linear(p, merged, `${name}.out_proj`, d, d);
}

/** Pre-norm block: x + Attn(LN(x)), then x + MLP(LN(x)) with a 4·d GELU MLP. */
export function transformerBlock(
  p: Params,
  x: string,
  name: string,
  d: number,
  heads: number,
  opts: AttentionOptions = {},
): string {
  const g = p.g;
  const a = attention(p, layerNorm(p, x, `${name}.norm_1`, d), `${name}.attn`, d, heads, opts);
  const x1 = g.op('Add', [x, a]);
  const h = gelu(g, linear(p, layerNorm(p, x1, `${name}.norm_2`, d), `${name}.mlp.fc1`, d, 4 * d));
  return g.op('Add', [x1, linear(p, h, `${name}.mlp.fc2`, 4 * d, d)]);
}

/** ImageBind's postprocessor: `x / max(‖x‖₂, 1e-12)` over the last axis, then `× scale` (if given). */
export function normalizeAndScale(g: GraphBuilder, x: string, scale?: string | number): string {
  const norm = g.op('ReduceL2', [x], { axes: [-1], keepdims: 1 });
  const unit = g.op('Div', [x, g.op('Max', [norm, g.constFloat([1e-12], [])])]);
  if (scale === undefined) return unit;
  return g.op('Mul', [unit, typeof scale === 'number' ? g.constFloat([scale], []) : scale]);
}
