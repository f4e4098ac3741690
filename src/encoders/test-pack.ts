/**
 * Generates a model pack with ImageBind's exact encoder signatures and random (seeded,
 * deterministic) weights, so everything around the encoders can be built, tested and benchmarked
 * without the CC BY-NC-SA checkpoint.
 *
 * - `tiny`: a few hundred pooled features → LayerNorm → MLP → 1024, about 4.2 MB for the whole
 *   pack. Different inputs give clearly different embeddings; text depends on the token ids.
 * - `reference`: imagebind_huge's architecture per modality (stems, token counts, widths, depths,
 *   heads, bias_kv, causal text mask, heads and postprocessors; reference §3–4) with exactly its
 *   parameter counts, so speed and memory match the real encoders. About 2.3 GB.
 *
 * Both end, like ImageBind, in L2-normalise then × the modality's logit scale inside the graph, and
 * the audio graph takes all 3 clips (`[batch,3,1,128,204]`) and averages their embeddings itself.
 * The manifest declares the same scale with `normalize: true` (repeating it is harmless) and
 * `clipAverage: false`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Modality } from '../pipeline/types.js';
import { ManifestSchema, type Manifest, type ManifestInput, type TensorSpec } from './manifest.js';
import { GraphBuilder, float, parameterCount, type GraphDef } from './onnx/graph.js';
import {
  Params,
  layerNorm,
  linear,
  normalizeAndScale,
  prependToken,
  transformerBlock,
} from './onnx/layers.js';
import { normalTensor } from './onnx/random.js';
import { writeModel } from './onnx/writer.js';

export type TestPackSize = 'tiny' | 'reference';

export const EMBEDDING_DIM = 1024;
/** Word-hash ids fall in [0, vocabSize); 49406/49407 frame them as in CLIP. */
export const TEST_PACK_VOCAB_SIZE = 49152;
const CLIP_VOCAB = 49408;
const CONTEXT_LENGTH = 77;
const PACK_MODALITIES = ['text', 'audio', 'thermal', 'depth', 'imu'] as const satisfies readonly Modality[];

/** ImageBind's per-modality input signatures (reference §3) and output scales (§5). */
export const IMAGEBIND_SIGNATURES: Record<Modality, { input: TensorSpec; logitScale: number }> = {
  text: { input: { name: 'text', dtype: 'int64', shape: ['batch', CONTEXT_LENGTH] }, logitScale: 100 },
  audio: { input: { name: 'audio', dtype: 'float32', shape: ['batch', 3, 1, 128, 204] }, logitScale: 20 },
  thermal: { input: { name: 'thermal', dtype: 'float32', shape: ['batch', 1, 224, 224] }, logitScale: 10 },
  depth: { input: { name: 'depth', dtype: 'float32', shape: ['batch', 1, 224, 224] }, logitScale: 5 },
  imu: { input: { name: 'imu', dtype: 'float32', shape: ['batch', 6, 2000] }, logitScale: 5 },
};

const OUTPUT_NAME = 'embedding';

function begin(modality: Modality, seed: number): { p: Params; x: string } {
  const g = new GraphBuilder(`edgebind_${modality}`);
  const sig = IMAGEBIND_SIGNATURES[modality].input;
  const x = g.input(sig.name, sig.dtype === 'int64' ? 'int64' : 'float32', sig.shape);
  return { p: new Params(g, seed), x };
}

function finish(p: Params, embedding: string): GraphDef {
  p.g.output(OUTPUT_NAME, 'float32', ['batch', EMBEDDING_DIM], embedding);
  return p.g.build();
}

/** `[B*3, ...]` per-clip embeddings → `[B, 1024]`, the mean over each window's 3 clips. */
function averageClips(p: Params, perClip: string): string {
  const grouped = p.g.op('Reshape', [perClip, p.g.constInt64([-1, 3, EMBEDDING_DIM])]);
  return p.g.op('ReduceMean', [grouped], { axes: [1], keepdims: 0 });
}

// ---------------------------------------------------------------------------------------------
// tiny

const TINY_HIDDEN = 128;
const TINY_TEXT_ROWS = 4096;
const TINY_TEXT_WIDTH = 64;

/** `[N, F]` features → LayerNorm → Relu MLP → 1024 → normalise × scale. */
function tinyHead(p: Params, feats: string, name: string, f: number, scale: number): string {
  const g = p.g;
  // Random LayerNorm shift: a constant input (zero after normalisation) still gets a non-zero embedding.
  const gamma = p.fill(`${name}.norm.weight`, [f], 1);
  const beta = p.g.initializer(`${name}.norm.bias`, [f], normalTensor(p.seed, `${name}.norm.bias`, f, 0.1));
  const normed = g.op('LayerNormalization', [feats, gamma, beta], { axis: -1, epsilon: float(1e-6) });
  // No hidden biases: the direction of the normalised features decides the embedding.
  const h = g.op('Relu', [
    linear(p, normed, `${name}.fc1`, f, TINY_HIDDEN, { bias: false, std: 1 / Math.sqrt(f) }),
  ]);
  const out = linear(p, h, `${name}.fc2`, TINY_HIDDEN, EMBEDDING_DIM, {
    bias: false,
    std: 1 / Math.sqrt(TINY_HIDDEN),
  });
  return normalizeAndScale(g, out, scale);
}

/** `[N, C, ...spatial]` → average pool with `kernel` (= stride) → `[N, C·∏(spatial/kernel)]`. */
function pooledFeatures(p: Params, x: string, kernel: number[]): string {
  const pooled = p.g.op('AveragePool', [x], { kernel_shape: kernel, strides: kernel });
  return p.g.op('Flatten', [pooled], { axis: 1 });
}

function tinyGraph(modality: Modality, seed: number): GraphDef {
  const { p, x } = begin(modality, seed);
  const g = p.g;
  const scale = IMAGEBIND_SIGNATURES[modality].logitScale;
  switch (modality) {
    case 'text': {
      // Hashed embedding table (id mod 4096), mean-pooled over the word tokens.
      const table = p.normal('text.embed.weight', [TINY_TEXT_ROWS, TINY_TEXT_WIDTH], 1);
      const rows = g.op('Mod', [x, g.constInt64([TINY_TEXT_ROWS], [])]);
      const emb = g.op('Gather', [table, rows], { axis: 0 }); // [B, 77, w]
      // Pool the words only: padding (0) and the shared start/end ids (49406, 49407) would pull
      // every text towards one direction.
      const isWord = g.op('And', [
        g.op('Greater', [x, g.constInt64([0], [])]),
        g.op('Less', [x, g.constInt64([49406], [])]),
      ]);
      const mask = g.op('Cast', [isWord], { to: 1 }); // [B, 77]
      const axis1 = g.constInt64([1]);
      const summed = g.op(
        'ReduceSum',
        [g.op('Mul', [emb, g.op('Unsqueeze', [mask, g.constInt64([2])])]), axis1],
        {
          keepdims: 0,
        },
      );
      const count = g.op('Max', [g.op('ReduceSum', [mask, axis1], { keepdims: 1 }), g.constFloat([1], [])]);
      return finish(p, tinyHead(p, g.op('Div', [summed, count]), 'text', TINY_TEXT_WIDTH, scale));
    }
    case 'audio': {
      const clips = g.op('Reshape', [x, g.constInt64([-1, 1, 128, 204])]);
      const feats = pooledFeatures(p, clips, [8, 12]); // 16 × 17 = 272
      return finish(p, averageClips(p, tinyHead(p, feats, 'audio', 272, scale)));
    }
    case 'thermal':
    case 'depth':
      return finish(p, tinyHead(p, pooledFeatures(p, x, [14, 14]), modality, 256, scale)); // 16 × 16
    case 'imu':
      return finish(p, tinyHead(p, pooledFeatures(p, x, [50]), 'imu', 240, scale)); // 6 × 40
  }
}

// ---------------------------------------------------------------------------------------------
// reference: imagebind_huge's encoders (reference §3.2–3.6, §4)

export interface TransformerArch {
  /** Token width d. */
  width: number;
  blocks: number;
  heads: number;
}

/** imagebind_huge's trunk sizes (reference §4). */
export const IMAGEBIND_HUGE_ARCH: Record<Modality, TransformerArch> = {
  text: { width: 1024, blocks: 24, heads: 16 },
  audio: { width: 768, blocks: 12, heads: 12 },
  thermal: { width: 768, blocks: 12, heads: 12 },
  depth: { width: 384, blocks: 12, heads: 8 },
  imu: { width: 512, blocks: 6, heads: 8 },
};

/** imagebind_huge's parameter count per encoder (reference §4, counted on the instantiated model). */
export const IMAGEBIND_HUGE_PARAMS: Record<Modality, number> = {
  text: 354_032_641,
  audio: 86_235_648,
  thermal: 86_211_072,
  depth: 21_871_872,
  imu: 19_600_384,
};

/** Conv2d(1→d, kernel 16, `stride`, no bias) patch stem → `[N, patches, d]`. */
function convPatches(p: Params, x: string, name: string, d: number, stride: number): string {
  const w = p.normal(`${name}.weight`, [d, 1, 16, 16], 0.02);
  const conv = p.g.op('Conv', [x, w], { kernel_shape: [16, 16], strides: [stride, stride] });
  const flat = p.g.op('Reshape', [conv, p.g.constInt64([0, d, -1])]);
  return p.g.op('Transpose', [flat], { perm: [0, 2, 1] });
}

/** Stem LN, CLS + positions, trunk (bias_kv), head LN, CLS select, projection, normalise × scale. */
function vitEncoder(p: Params, tokens: string, m: Modality, arch: TransformerArch, patches: number): string {
  const g = p.g;
  const d = arch.width;
  let x = layerNorm(p, tokens, `${m}.stem.norm`, d);
  x = prependToken(g, x, p.normal(`${m}.cls_token`, [1, 1, d], 0.02), d);
  x = g.op('Add', [x, p.normal(`${m}.pos_embed`, [1, patches + 1, d], 0.02)]);
  for (let i = 0; i < arch.blocks; i++)
    x = transformerBlock(p, x, `${m}.blocks.${i}`, d, arch.heads, { biasKv: true });
  x = layerNorm(p, x, `${m}.head.norm`, d);
  const cls = g.op('Gather', [x, g.constInt64([0], [])], { axis: 1 }); // [N, d]
  const out = linear(p, cls, `${m}.head.proj`, d, EMBEDDING_DIM, { bias: false });
  return normalizeAndScale(g, out, IMAGEBIND_SIGNATURES[m].logitScale);
}

function referenceGraph(modality: Modality, seed: number, arch: TransformerArch): GraphDef {
  const { p, x } = begin(modality, seed);
  const g = p.g;
  const d = arch.width;
  switch (modality) {
    case 'text': {
      let h = g.op('Gather', [p.normal('text.token_embedding', [CLIP_VOCAB, d], 0.02), x], { axis: 0 });
      h = g.op('Add', [h, p.normal('text.pos_embed', [1, CONTEXT_LENGTH, d], 0.01)]);
      const causal = new Float32Array(CONTEXT_LENGTH * CONTEXT_LENGTH);
      for (let r = 0; r < CONTEXT_LENGTH; r++)
        causal.fill(-Infinity, r * CONTEXT_LENGTH + r + 1, (r + 1) * CONTEXT_LENGTH);
      const mask = g.initializer('text.causal_mask', [CONTEXT_LENGTH, CONTEXT_LENGTH], causal, {
        parameter: false,
      });
      for (let i = 0; i < arch.blocks; i++)
        h = transformerBlock(p, h, `text.blocks.${i}`, d, arch.heads, { mask });
      h = layerNorm(p, h, 'text.head.norm', d);
      // The end-of-text token is the first argmax of the ids (49407 is the largest id).
      const eot = g.op('ArgMax', [g.op('Cast', [x], { to: 1 })], { axis: 1, keepdims: 1 }); // [B, 1]
      const batch = g.op('Slice', [g.op('Shape', [x]), g.constInt64([0]), g.constInt64([1])]);
      const index = g.op('Expand', [
        g.op('Unsqueeze', [eot, g.constInt64([2])]),
        g.op('Concat', [batch, g.constInt64([1, d])], { axis: 0 }),
      ]);
      const picked = g.op('Reshape', [
        g.op('GatherElements', [h, index], { axis: 1 }),
        g.constInt64([-1, d]),
      ]);
      const out = linear(p, picked, 'text.head.proj', d, EMBEDDING_DIM, { bias: false });
      // min(exp(θ), 100) with θ learned (ImageBind's LearnableLogitScaling); here θ = ln 100.
      const theta = p.g.initializer('text.log_logit_scale', [], Float32Array.of(Math.log(100)));
      const scale = g.op('Min', [g.op('Exp', [theta]), g.constFloat([100], [])]);
      return finish(p, normalizeAndScale(g, out, scale));
    }
    case 'audio': {
      const clips = g.op('Reshape', [x, g.constInt64([-1, 1, 128, 204])]);
      const tokens = convPatches(p, clips, 'audio.stem.conv', d, 10); // 12 × 19 = 228 patches
      return finish(p, averageClips(p, vitEncoder(p, tokens, 'audio', arch, 228)));
    }
    case 'thermal':
    case 'depth': {
      const tokens = convPatches(p, x, `${modality}.stem.conv`, d, 16); // 14 × 14 = 196 patches
      return finish(p, vitEncoder(p, tokens, modality, arch, 196));
    }
    case 'imu': {
      // Channel-major 8-sample windows: (6, 250, 8) → (250, 6, 8) → (250, 48) (reference §3.6, §8.3).
      const windows = g.op('Reshape', [x, g.constInt64([0, 6, 250, 8])]);
      const tokens = g.op('Reshape', [
        g.op('Transpose', [windows], { perm: [0, 2, 1, 3] }),
        g.constInt64([0, 250, 48]),
      ]);
      return finish(
        p,
        vitEncoder(p, linear(p, tokens, 'imu.stem.proj', 48, d, { bias: false }), 'imu', arch, 250),
      );
    }
  }
}

/**
 * The graph for one modality. `arch` overrides the reference trunk (tests use a narrow one to run
 * the reference graph structure quickly); it is ignored for `tiny`.
 */
export function buildEncoderGraph(
  modality: Modality,
  opts: { size?: TestPackSize; seed?: number; arch?: Partial<TransformerArch> } = {},
): { graph: GraphDef; parameterCount: number } {
  // Weight names start with the modality, so every encoder draws its own streams from one seed.
  const seed = opts.seed ?? 0;
  const graph =
    (opts.size ?? 'tiny') === 'tiny'
      ? tinyGraph(modality, seed)
      : referenceGraph(modality, seed, { ...IMAGEBIND_HUGE_ARCH[modality], ...opts.arch });
  return { graph, parameterCount: parameterCount(graph) };
}

export interface GenerateTestPackOptions {
  /** PRNG seed for every weight; default 0. The same seed always gives byte-identical files. */
  seed?: number;
  /** Default `tiny`. */
  size?: TestPackSize;
}

/** Writes `manifest.json` and one ONNX per modality into `dir` (created if needed). */
export async function generateTestPack(dir: string, opts: GenerateTestPackOptions = {}): Promise<Manifest> {
  const seed = opts.seed ?? 0;
  const size = opts.size ?? 'tiny';
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new TypeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  }
  if (size !== 'tiny' && size !== 'reference')
    throw new TypeError(`size must be tiny or reference, got ${String(size)}`);
  await mkdir(dir, { recursive: true });

  const encoders = {} as Record<(typeof PACK_MODALITIES)[number], ManifestInput['encoders']['text']>;
  for (const modality of PACK_MODALITIES) {
    const { graph } = buildEncoderGraph(modality, { size, seed });
    const file = `${modality}.onnx`;
    const { sha256 } = await writeModel(join(dir, file), graph, {
      docString: `edgebind ${size} test encoder for ${modality}: random weights (seed ${seed}), not a trained model`,
      metadata: { 'edgebind.modality': modality, 'edgebind.size': size, 'edgebind.seed': String(seed) },
    });
    const sig = IMAGEBIND_SIGNATURES[modality];
    encoders[modality] = {
      file,
      sha256,
      input: sig.input,
      output: { name: OUTPUT_NAME, dim: EMBEDDING_DIM },
      postprocess: { normalize: true, logitScale: sig.logitScale, clipAverage: false },
    };
  }

  const input: ManifestInput = {
    formatVersion: 1,
    id: 'edgebind-test',
    version: `0.1.0-${size}.${seed}`,
    description:
      `edgebind ${size} test pack with ImageBind's encoder signatures and random weights (seed ${seed}). ` +
      'Embeddings carry no meaning; use it for tests and benchmarks only.',
    license: 'Apache-2.0',
    provenance: 'random weights generated by edgebind',
    embeddingDim: EMBEDDING_DIM,
    tokenizer: { kind: 'word-hash', vocabSize: TEST_PACK_VOCAB_SIZE, contextLength: CONTEXT_LENGTH },
    encoders,
  };
  const manifest = ManifestSchema.parse(input);
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(input, null, 2)}\n`);
  return manifest;
}
