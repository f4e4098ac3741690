/** The last few window embeddings, which labels/test scores a candidate label set against. */
import { systemClock, type Clock } from '../pipeline/clock.js';
import type { SensorModality } from '../pipeline/types.js';

export interface RecentEmbedding {
  sensorId: string;
  modality: SensorModality;
  embedding: Float32Array;
  /** Monotonic time it was pushed (the injected clock's). */
  receivedMs: number;
}

/**
 * A small ring of recent window embeddings (`remote.testWindows` of them). Each slot keeps its
 * vector buffer and is overwritten in place, so a window costs no allocation once the ring is full
 * (the encoder may reuse its output buffer, so a copy is needed either way).
 */
export class EmbeddingRing {
  private readonly slots: RecentEmbedding[] = [];
  private next = 0;

  constructor(
    private readonly size: number,
    /** Times each push (labels/test says which span it scored). */
    readonly clock: Clock = systemClock,
  ) {}

  push(sensorId: string, modality: SensorModality, embedding: Float32Array): void {
    if (this.size <= 0) return;
    const receivedMs = this.clock.nowMs();
    if (this.slots.length < this.size) {
      this.slots.push({ sensorId, modality, embedding: Float32Array.from(embedding), receivedMs });
      return;
    }
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.size;
    slot.sensorId = sensorId;
    slot.modality = modality;
    slot.receivedMs = receivedMs;
    if (slot.embedding.length === embedding.length) slot.embedding.set(embedding);
    else slot.embedding = Float32Array.from(embedding);
  }

  /** Oldest first. */
  all(): readonly RecentEmbedding[] {
    return this.slots.length < this.size
      ? this.slots
      : [...this.slots.slice(this.next), ...this.slots.slice(0, this.next)];
  }
}
