/**
 * Label coverage (issue #13): whether the pack can read a label at all. A closed-vocabulary pack
 * ignores words it was never trained on, so a label made of them fires on whatever its remaining
 * words ("a", "the sound of") resemble; and two labels that differ only in such words score the
 * same in every window. Both are reported as warnings wherever labels are set — never silently —
 * with the words, what the pack reads the label as instead, and the way out (few-shot examples).
 */
import type { TextEncoder } from '../encoders/types.js';
import { unknownWords } from '../encoders/text/vocabulary.js';
import { meanDirection } from '../util/vectors.js';
import type { SensorModality } from '../pipeline/types.js';

/** Labels whose embeddings are at least this close score practically the same. */
export const INDISTINGUISHABLE_COSINE = 0.99;
/** Known concepts named per warning. */
const NEAREST_CONCEPTS = 3;

export type LabelWarningCode = 'LABEL_UNKNOWN_WORDS' | 'LABELS_INDISTINGUISHABLE';

export interface LabelWarning {
  code: LabelWarningCode;
  /** The label the warning is about (the first of a pair). */
  label: string;
  /** Its index in the label list that was checked. */
  index: number;
  message: string;
  /** LABEL_UNKNOWN_WORDS: words of its prompts (as templated) that the pack does not know. */
  unknownWords?: string[];
  /** LABEL_UNKNOWN_WORDS: what the pack reads the label as instead, most similar first. */
  nearest?: { concept: string; similarity: number }[];
  /** LABELS_INDISTINGUISHABLE: the other label, and the cosine of the two embeddings. */
  sameAs?: string;
  cosine?: number;
  modality?: SensorModality;
}

export interface CoverageLabel {
  name: string;
  prompts: readonly string[];
  /** Every text the label is embedded from (prompts put into its templates). */
  texts: readonly string[];
  /** The built label vector per modality. */
  vectors: ReadonlyMap<SensorModality, Float32Array>;
}

/** Concept embeddings per text encoder: computed once, they never change for a pack. */
const conceptCache = new WeakMap<TextEncoder, Promise<Float32Array[]>>();

function conceptVectors(text: TextEncoder, concepts: readonly string[]): Promise<Float32Array[]> {
  let p = conceptCache.get(text);
  if (!p) {
    p = text.embed(concepts);
    conceptCache.set(text, p);
    p.catch(() => conceptCache.delete(text));
  }
  return p;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const quote = (s: string) => JSON.stringify(s);

/** Warnings for `labels` (in order: each label's unknown words, then indistinguishable pairs). */
export async function labelWarnings(
  labels: readonly CoverageLabel[],
  text: TextEncoder,
): Promise<LabelWarning[]> {
  const warnings: LabelWarning[] = [];
  const vocabulary = text.vocabulary;
  if (vocabulary?.kind === 'closed') {
    for (const [index, l] of labels.entries()) {
      const all = new Set(l.texts.flatMap((t) => unknownWords(vocabulary, t)));
      // "crying." (from a template ending in a full stop) is another token, but the same word to
      // the user: name it once.
      const unknown = [...all].filter((w) => !(/\p{P}$/u.test(w) && all.has(w.replace(/\p{P}+$/u, ''))));
      if (unknown.length === 0) continue;
      let nearest: { concept: string; similarity: number }[] = [];
      if (vocabulary.concepts.length > 0 && l.prompts.length > 0) {
        const [concepts, prompts] = await Promise.all([
          conceptVectors(text, vocabulary.concepts),
          text.embed(l.prompts),
        ]);
        const direction = meanDirection(prompts);
        nearest = vocabulary.concepts
          .map((concept, i) => ({
            concept,
            similarity: Math.round(dot(direction, concepts[i]!) * 1000) / 1000,
          }))
          .sort((a, b) => b.similarity - a.similarity)
          .slice(0, NEAREST_CONCEPTS);
      }
      const reads =
        nearest.length > 0
          ? `; it reads the label as nearest to ${nearest.map((n) => `${quote(n.concept)} (${n.similarity.toFixed(2)})`).join(', ')}`
          : '';
      warnings.push({
        code: 'LABEL_UNKNOWN_WORDS',
        label: l.name,
        index,
        message:
          `label ${quote(l.name)}: the pack does not know ${unknown.map(quote).join(', ')} ` +
          `(unknown words add nothing to its embedding)${reads}. ` +
          'Reword it with words the pack knows, or give it a few recorded examples (edgebind label from-example).',
        unknownWords: unknown,
        nearest,
      });
    }
  }
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      let worst: { modality: SensorModality; cosine: number } | undefined;
      for (const [m, a] of labels[i]!.vectors) {
        const b = labels[j]!.vectors.get(m);
        if (!b) continue;
        const c = dot(a, b);
        if (c >= INDISTINGUISHABLE_COSINE && (!worst || c > worst.cosine)) worst = { modality: m, cosine: c };
      }
      if (!worst) continue;
      const a = labels[i]!.name;
      const b = labels[j]!.name;
      warnings.push({
        code: 'LABELS_INDISTINGUISHABLE',
        label: a,
        index: i,
        sameAs: b,
        cosine: Math.round(worst.cosine * 10000) / 10000,
        modality: worst.modality,
        message:
          `labels ${quote(a)} and ${quote(b)} are indistinguishable to this pack ` +
          `(${worst.modality} embeddings have cosine ${worst.cosine.toFixed(4)} ≥ ${INDISTINGUISHABLE_COSINE}): ` +
          'they will score the same in every window. Reword one, or give it recorded examples (edgebind label from-example).',
      });
    }
  }
  return warnings;
}
