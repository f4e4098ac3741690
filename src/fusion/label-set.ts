/**
 * What fusion scores against: one unit vector per label and modality, plus the background
 * prompts. Built from configured labels by labels/build.ts (issue 16: labels own label building,
 * fusion only reads the result).
 */
import type { SensorModality } from '../pipeline/types.js';
import type { TrackerTiming } from './tracker.js';

export type FusionMode = 'score' | 'embedding';

export interface LabelEmbedding {
  readonly name: string;
  readonly modalities: ReadonlySet<SensorModality>;
  readonly onThreshold: number;
  readonly offThreshold: number;
  readonly margin: number;
  /** Raw cosine gate to start (-1 = off). */
  readonly minCosine: number;
  readonly fusion: FusionMode;
  /** Per-label overrides of the events timing. */
  readonly timing: Partial<TrackerTiming>;
  /** Unit vector per modality the label applies to. */
  readonly vectors: ReadonlyMap<SensorModality, Float32Array>;
}

export interface LabelSet {
  readonly labels: readonly LabelEmbedding[];
  /** Unit vectors of the background prompts, per modality. */
  readonly background: ReadonlyMap<SensorModality, readonly Float32Array[]>;
  /** Content hash of what the embeddings were computed from. */
  readonly hash: string;
  /**
   * Softmax scale per modality, set by `scoring.mode: imagebind` (the pack's text × modality logit
   * scale); absent: the scorer's configured temperature.
   */
  readonly temperatures?: ReadonlyMap<SensorModality, number>;
}
