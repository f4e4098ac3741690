/** What the pipeline needs from encoders; src/encoders/registry.ts builds these from a pack. */
import type { Modality, SensorModality, Window } from '../pipeline/types.js';
import type { TextVocabulary } from './text/vocabulary.js';

export interface WindowEncoder {
  readonly modality: SensorModality;
  /** Execution provider the model really runs on (`cpu`, `webgpu`, `cuda`, `tensorrt`). */
  readonly provider: string;
  /** One unit-length embedding per window, in order. */
  embed(windows: readonly Window[]): Promise<Float32Array[]>;
  /**
   * The model's own output per window, not re-normalised: for an ImageBind pack, ImageBind's
   * forward (each clip unit × logit scale, clips averaged), so its norm is the scale × the clips'
   * agreement. For ImageBind's zero-shot scores (`classify --imagebind-scores`).
   */
  embedRaw?(windows: readonly Window[]): Promise<Float32Array[]>;
}

export interface TextEncoder {
  readonly provider: string;
  /** What the encoder can read; absent means unknown (label coverage is not checked). */
  readonly vocabulary?: TextVocabulary;
  /** One unit-length embedding per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** The model's own output per text (ImageBind: unit × text logit scale), see WindowEncoder. */
  embedRaw?(texts: readonly string[]): Promise<Float32Array[]>;
}

/** The warm-up one encoder ran at start (issue #15). */
export interface EncoderWarmUp {
  readonly modality: Modality;
  readonly provider: string;
  /** Windows (or texts) per batch, one inference each. */
  readonly batches: readonly number[];
  readonly ms: number;
}

/** The logit scale each encoder of a pack declares (manifest `postprocess.logitScale`). */
export type LogitScales = Readonly<Partial<Record<Modality, number>>>;

export interface EncoderSet {
  readonly pack: { readonly id: string; readonly version: string; readonly logitScales?: LogitScales };
  readonly text: TextEncoder;
  readonly windows: ReadonlyMap<SensorModality, WindowEncoder>;
  /** One entry per encoder, text first; absent for encoders not built from a pack (test fakes). */
  readonly warmUp?: readonly EncoderWarmUp[];
  close(): Promise<void>;
}
