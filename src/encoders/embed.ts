/**
 * Windows → embeddings for the offline users (`embed`, `classify`, `label from-example`, the
 * simulator's evaluation), one way for all (issue 16 item 6); the agent's own path is
 * pipeline/encode-loop.ts.
 */
import type { SensorModality, Window } from '../pipeline/types.js';
import type { EncoderSet } from './types.js';

export interface EmbedWindowsOptions {
  /** Windows per call to the encoder (which batches again by its `maxBatch`). Default 8. */
  batch?: number;
  /** The model's own outputs (`WindowEncoder.embedRaw`) instead of unit vectors. */
  raw?: boolean;
  /** Told after each call how many windows are embedded so far (progress lines). */
  onBatch?: (done: number) => void;
}

/** One embedding per window, in order, by the set's `modality` encoder. */
export async function embedWindows(
  encoders: EncoderSet,
  modality: SensorModality,
  ws: readonly Window[],
  opts: EmbedWindowsOptions = {},
): Promise<Float32Array[]> {
  const encoder = encoders.windows.get(modality);
  if (!encoder) throw new TypeError(`the encoders have no ${modality} encoder`);
  const embed = opts.raw ? encoder.embedRaw?.bind(encoder) : encoder.embed.bind(encoder);
  if (!embed) throw new TypeError(`the ${modality} encoder does not give its raw outputs`);
  const batch = Math.max(1, opts.batch ?? 8);
  const out: Float32Array[] = [];
  for (let i = 0; i < ws.length; i += batch) {
    out.push(...(await embed(ws.slice(i, i + batch))));
    opts.onBatch?.(out.length);
  }
  return out;
}
