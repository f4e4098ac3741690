/** What the pipeline needs from encoders; src/encoders/registry.ts builds these from a pack. */
import type { SensorModality, Window } from '../pipeline/types.js';
import type { TextVocabulary } from './text/vocabulary.js';

export interface WindowEncoder {
  readonly modality: SensorModality;
  /** Execution provider the model really runs on (`cpu`, `cuda`, `tensorrt`). */
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

export interface EncoderSet {
  readonly pack: { readonly id: string; readonly version: string };
  readonly text: TextEncoder;
  readonly windows: ReadonlyMap<SensorModality, WindowEncoder>;
  close(): Promise<void>;
}
