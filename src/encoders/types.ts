/** What the pipeline needs from encoders; src/encoders/registry.ts builds these from a pack. */
import type { Modality, SensorModality, Window } from '../pipeline/types.js';
import type { TextVocabulary } from './text/vocabulary.js';

export interface WindowEncoder {
  readonly modality: SensorModality;
  /** Execution provider the model really runs on (`cpu`, `webgpu`, `cuda`, `tensorrt`). */
  readonly provider: string;
  /** One unit-length embedding per window, in order. */
  embed(windows: readonly Window[]): Promise<Float32Array[]>;
}

export interface TextEncoder {
  readonly provider: string;
  /** What the encoder can read; absent means unknown (label coverage is not checked). */
  readonly vocabulary?: TextVocabulary;
  /** One unit-length embedding per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** The warm-up one encoder ran at start (issue #15). */
export interface EncoderWarmUp {
  readonly modality: Modality;
  readonly provider: string;
  /** Windows (or texts) per batch, one inference each. */
  readonly batches: readonly number[];
  readonly ms: number;
}

export interface EncoderSet {
  readonly pack: { readonly id: string; readonly version: string };
  readonly text: TextEncoder;
  readonly windows: ReadonlyMap<SensorModality, WindowEncoder>;
  /** One entry per encoder, text first; absent for encoders not built from a pack (test fakes). */
  readonly warmUp?: readonly EncoderWarmUp[];
  close(): Promise<void>;
}
