/**
 * Hub → encoder → consumer: takes batches of one modality from the hub, embeds them, and hands each
 * finite embedding on. A failing encoder or a NaN embedding never stops the loop: the batch or the
 * window is dropped, its buffers recycled, and the sensor's health says why (issue 14).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { allFinite } from '../util/vectors.js';
import type { WindowHub } from './hub.js';
import type { SensorModality, Window } from './types.js';

/** What the loop needs of an encoder (encoders/types.ts `WindowEncoder`). */
export interface WindowEmbedder {
  readonly provider: string;
  embed(windows: readonly Window[]): Promise<Float32Array[]>;
}

/** Where the loop reports what only it sees (sensors/health-books.ts `SensorBooks`). */
export interface EncodeHealth {
  encoderFailed(sensorId: string, message: string): void;
  /** Counts a dropped non-finite embedding; returns the sensor's count so far (0: unknown sensor). */
  nonFinite(sensorId: string): number;
  embedded(sensorId: string): void;
}

export interface EncodeLoopOptions {
  hub: WindowHub;
  encoders: ReadonlyMap<SensorModality, WindowEmbedder>;
  maxBatch: number;
  health: EncodeHealth;
  /** Gives a window's buffer back (called once per window, after `onEmbedding` or the drop). */
  release(w: Window): void;
  /** Each window with its finite embedding, in batch order. */
  onEmbedding(w: Window, embedding: Float32Array): void;
  /** Encode time of each batch (Prometheus). */
  observeEncode?(modality: SensorModality, provider: string, ms: number): void;
  logger: Logger;
}

/** Runs until the hub is closed and drained. Throws only on a bug (a modality without encoder). */
export async function runEncodeLoop(o: EncodeLoopOptions): Promise<void> {
  const failuresOf = new Map<SensorModality, number>();
  for (;;) {
    const batch = await o.hub.next(o.maxBatch);
    if (!batch) return;
    const modality: SensorModality = batch[0]!.modality;
    const encoder = o.encoders.get(modality);
    if (!encoder) throw new TypeError(`no encoder for modality ${modality}`);
    let vectors: Float32Array[];
    try {
      const t0 = performance.now();
      vectors = await encoder.embed(batch);
      o.observeEncode?.(modality, encoder.provider, performance.now() - t0);
    } catch (err) {
      // Logged on the first failure and every 100th after it (a failure per batch would flood
      // the log); the batch's sensors are degraded with the reason until windows embed again.
      const failures = (failuresOf.get(modality) ?? 0) + 1;
      failuresOf.set(modality, failures);
      const message = (err as Error).message;
      if (failures % 100 === 1)
        o.logger.error(
          { err, modality, failures },
          `encoder ${modality} failed: ${message}${failures > 1 ? ` (${failures} failures so far)` : ''}`,
        );
      for (const w of batch) o.health.encoderFailed(w.sensorId, message);
      batch.forEach((w) => o.release(w));
      continue;
    }
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      const vector = vectors[i]!;
      if (!allFinite(vector)) {
        // An encoder gave NaN or ±Infinity: drop the window and count it, so it can neither
        // score nor reach labels/test's recent windows (issue 14). Logged on the first and
        // then every 1000th, health says degraded.
        const count = o.health.nonFinite(w.sensorId);
        if (count % 1000 === 1)
          o.logger.warn(
            { sensor: w.sensorId, modality, nonFinite: count },
            `encoder ${modality}: embedding of a ${w.sensorId} window has NaN or infinite values; dropped (${count} so far)`,
          );
        o.release(w);
        continue;
      }
      o.health.embedded(w.sensorId);
      o.onEmbedding(w, vector);
      o.release(w);
    }
  }
}
