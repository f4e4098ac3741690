/**
 * Model pack manifest (`manifest.json`): one schema for every pack, ImageBind exports and our own.
 * docs/model-packs.md documents each field.
 */
import { z } from 'zod';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
/** A dimension is a fixed size or a symbolic name (e.g. `batch`) that any size satisfies. */
const dim = z.union([z.number().int().positive(), z.string().min(1)]);

export const TensorSpecSchema = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'int64', 'float16']),
  shape: z.array(dim).min(1),
});
export type TensorSpec = z.infer<typeof TensorSpecSchema>;

export const PostprocessSchema = z.strictObject({
  /** L2-normalise the encoder output (ImageBind does this inside the model; harmless to repeat). */
  normalize: z.boolean().default(true),
  /** Multiplier ImageBind applies after normalising (audio 20, depth 5, thermal 10, imu 5, text ≈100). */
  logitScale: z.number().positive().default(1),
  /**
   * The model returns one vector per clip (input `[N*clips, ...]`): average them per window and
   * re-normalise, as ImageBind's ≥5-D forward does.
   */
  clipAverage: z.boolean().default(false),
});

export const AudioPreprocessSchema = z.strictObject({
  sampleRateHz: z.literal(16000).default(16000),
  numMelBins: z.number().int().positive().default(128),
  targetLength: z.number().int().positive().default(204),
  clipDurationS: z.number().positive().default(2),
  clipsPerWindow: z.number().int().positive().default(3),
  mean: z.number().default(-4.268),
  std: z.number().positive().default(9.138),
});

export const ThermalPreprocessSchema = z.strictObject({
  size: z.number().int().positive().default(224),
  /**
   * How degrees C become ImageBind's [0,1] one-channel image (LLVIP-like, no mean/std):
   * `minmax` stretches each frame; `fixed` maps [minC, maxC] linearly and clamps.
   */
  range: z
    .discriminatedUnion('mode', [
      z.strictObject({
        mode: z.literal('minmax'),
        /**
         * Smallest span stretched to [0,1], °C (default 0 = plain min-max). A frame spanning less is
         * mapped over this span around its midpoint, so sensor noise on a near-flat scene is not
         * blown up to full contrast.
         */
        minSpanC: z.number().nonnegative().default(0),
      }),
      z.strictObject({ mode: z.literal('fixed'), minC: z.number(), maxC: z.number() }),
    ])
    .default({ mode: 'minmax', minSpanC: 0 }),
  /** Which frames of a window form the image: the newest frame, or the per-pixel mean/max. */
  reduce: z.enum(['last', 'mean', 'max']).default('last'),
  /** Kernel for the short-side resize to `size` (PIL-style, antialiased when shrinking). */
  interpolation: z.enum(['bicubic', 'bilinear']).default('bicubic'),
});

export const DepthPreprocessSchema = z.strictObject({
  size: z.number().int().positive().default(224),
  /** Disparity = baselineM × focalLengthPx / depthM (Omnivore's recipe), clamped to [minDisparity, maxDisparity]. */
  focalLengthPx: z.number().positive().default(518.857901),
  baselineM: z.number().positive().default(0.075),
  minDisparity: z.number().positive().default(0.01),
  maxDisparity: z.number().positive().default(75),
  mean: z.number().default(0.0418),
  std: z.number().positive().default(0.0295),
  reduce: z.enum(['last', 'mean', 'max']).default('last'),
  /**
   * Pixels with no valid reading (0 or NaN mm) in any frame of the window: `nearest` copies the
   * nearest valid pixel's disparity (like the in-filled depth ImageBind trained on); `far` sets
   * them to `minDisparity`.
   */
  fillInvalid: z.enum(['nearest', 'far']).default('nearest'),
  /** Kernel for the short-side resize to `size` (PIL-style, antialiased when shrinking). */
  interpolation: z.enum(['bicubic', 'bilinear']).default('bicubic'),
});

export const ImuPreprocessSchema = z.strictObject({
  /** ImageBind's IMU input is 2000 samples over 5 s, i.e. 400 Hz; windows are resampled to this. */
  sampleRateHz: z.number().positive().default(400),
  samples: z.number().int().positive().default(2000),
  /** Scale per channel group before the encoder (1 = raw SI units). */
  accelScale: z.number().default(1),
  gyroScale: z.number().default(1),
});

const encoderBase = {
  file: z.string().min(1),
  sha256,
  input: TensorSpecSchema,
  output: z.strictObject({ name: z.string().min(1), dim: z.number().int().positive() }),
  postprocess: PostprocessSchema.default({ normalize: true, logitScale: 1, clipAverage: false }),
};

export const EncoderSpecSchemas = {
  text: z.strictObject({ ...encoderBase }),
  audio: z.strictObject({
    ...encoderBase,
    preprocess: AudioPreprocessSchema.default(AudioPreprocessSchema.parse({})),
  }),
  thermal: z.strictObject({
    ...encoderBase,
    preprocess: ThermalPreprocessSchema.default(ThermalPreprocessSchema.parse({})),
  }),
  depth: z.strictObject({
    ...encoderBase,
    preprocess: DepthPreprocessSchema.default(DepthPreprocessSchema.parse({})),
  }),
  imu: z.strictObject({
    ...encoderBase,
    preprocess: ImuPreprocessSchema.default(ImuPreprocessSchema.parse({})),
  }),
};

export const TokenizerSchema = z.discriminatedUnion('kind', [
  /** CLIP's byte-level BPE, as ImageBind uses it; the vocabulary file ships inside the pack. */
  z.strictObject({
    kind: z.literal('clip-bpe'),
    vocab: z.string().min(1),
    sha256,
    contextLength: z.number().int().positive().default(77),
  }),
  /**
   * Small packs: each lower-cased word maps to FNV-1a(word) mod vocabSize, framed like CLIP
   * (start 49406, end 49407, zero padding). A closed vocabulary: `vocab` names a JSON file in the
   * pack (`{words, concepts}`: every word the text encoder was trained on, and phrases it knows)
   * against which labels are checked; without it (test packs) label coverage cannot be checked.
   */
  z.strictObject({
    kind: z.literal('word-hash'),
    vocabSize: z.number().int().positive().max(49406),
    contextLength: z.number().int().positive().default(77),
    vocab: z.string().min(1).optional(),
    /** sha256 of `vocab`; required with it. */
    sha256: sha256.optional(),
  }),
]);

export const ManifestSchema = z.strictObject({
  formatVersion: z.literal(1),
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, . _ -'),
  version: z.string().min(1),
  description: z.string().default(''),
  license: z.string().min(1),
  provenance: z.string().min(1),
  embeddingDim: z.number().int().positive(),
  tokenizer: TokenizerSchema,
  /**
   * Third-party files the pack was trained on (issue 13), so a test set can be checked against
   * it for overlap: where they come from and the sha256 of each source file.
   */
  trainingData: z
    .array(
      z.strictObject({
        /** What the entries are, e.g. `real recorded sounds (train/data/real-audio.md)`. */
        description: z.string().min(1),
        files: z.array(
          z.strictObject({
            package: z.string().min(1),
            version: z.string().min(1),
            /** Path inside the package; `archive!member` for a file inside an archive. */
            path: z.string().min(1),
            sha256,
            licence: z.string().min(1),
            class: z.string().min(1),
          }),
        ),
      }),
    )
    .optional(),
  encoders: z.strictObject({
    text: EncoderSpecSchemas.text,
    audio: EncoderSpecSchemas.audio.optional(),
    thermal: EncoderSpecSchemas.thermal.optional(),
    depth: EncoderSpecSchemas.depth.optional(),
    imu: EncoderSpecSchemas.imu.optional(),
  }),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestInput = z.input<typeof ManifestSchema>;
export type AudioPreprocess = z.infer<typeof AudioPreprocessSchema>;
export type ThermalPreprocess = z.infer<typeof ThermalPreprocessSchema>;
export type DepthPreprocess = z.infer<typeof DepthPreprocessSchema>;
export type ImuPreprocess = z.infer<typeof ImuPreprocessSchema>;
export type EncoderSpec = z.infer<(typeof EncoderSpecSchemas)['text']>;
export type Tokenizer = z.infer<typeof TokenizerSchema>;
