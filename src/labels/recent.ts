/** The last few window embeddings, which labels/test scores a candidate label set against. */
import type { SensorModality } from '../pipeline/types.js';

export interface RecentEmbedding {
  sensorId: string;
  modality: SensorModality;
  embedding: Float32Array;
}

/** A small ring of recent window embeddings (`remote.testWindows` of them). */
export class EmbeddingRing {
  private readonly items: RecentEmbedding[] = [];
  constructor(private readonly size: number) {}
  push(sensorId: string, modality: SensorModality, embedding: Float32Array): void {
    // A copy: the encoder may reuse its output buffer.
    this.items.push({ sensorId, modality, embedding: Float32Array.from(embedding) });
    if (this.items.length > this.size) this.items.shift();
  }
  all(): readonly RecentEmbedding[] {
    return this.items;
  }
}
