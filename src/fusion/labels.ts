/**
 * Turns configured labels into label embeddings: each prompt is embedded with the text encoder,
 * and a label's vector is the re-normalised mean of its prompts (CLIP's prompt ensembling).
 * Texts are embedded once per distinct string.
 */
import { createHash } from 'node:crypto';
import type { LabelConfig, ScoringConfig } from '../config/schema.js';
import type { TextEncoder } from '../encoders/types.js';
import type { SensorModality } from '../pipeline/types.js';
import type { LabelSet } from './scoring.js';
import { meanDirection } from './vectors.js';

export async function buildLabelSet(
  labels: readonly LabelConfig[],
  scoring: Pick<ScoringConfig, 'threshold' | 'backgroundPrompts'>,
  modalities: readonly SensorModality[],
  text: TextEncoder,
): Promise<LabelSet> {
  const texts = [...new Set([...labels.flatMap((l) => l.prompts), ...scoring.backgroundPrompts])];
  const vectors = texts.length > 0 ? await text.embed(texts) : [];
  const byText = new Map(texts.map((t, i) => [t, vectors[i]!]));
  const hash = createHash('sha256')
    .update(JSON.stringify({ labels, background: scoring.backgroundPrompts }))
    .digest('hex');
  return {
    hash,
    labels: labels.map((l) => {
      const on = l.threshold ?? scoring.threshold;
      return {
        name: l.name,
        modalities: new Set(l.modalities ?? modalities),
        onThreshold: on,
        offThreshold: l.offThreshold ?? on,
        vector: meanDirection(l.prompts.map((p) => byText.get(p)!)),
      };
    }),
    background: scoring.backgroundPrompts.map((p) => meanDirection([byText.get(p)!])),
  };
}
