/**
 * `node --import tsx bench/history-recall.ts --data DIR [--pack models/mini|test] [--top 10]`: does a
 * search of the embedding history find the true moments first (issue #18)?
 *
 * DIR holds simulated scenes (`edgebind simulate --scenario all --seed S --seconds N --out DIR`).
 * This runs only the history part of `edgebind eval` (src/sim/history-recall.ts, which has the
 * method): the scenes replayed one after another into one history, each class's canonical prompt
 * searched over it, and audio → thermal search per incident. Prints one JSON line per class (the
 * text figures) and a last line with the scenes, windows and cross-modal figures; progress on stderr.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findScenes } from '../src/sim/eval.js';
import { evaluateHistoryRecall, RECALL_K } from '../src/sim/history-recall.js';
import { Recording } from '../src/sim/recording.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    pack: { type: 'string', default: 'models/mini' },
    top: { type: 'string', default: String(RECALL_K) },
  },
});
if (!values.data) throw new TypeError('--data DIR (simulated scenes) is required');
const k = Number(values.top);
if (!Number.isInteger(k) || k < 1)
  throw new TypeError(`--top must be a positive integer, got "${values.top}"`);

const recordings: Recording[] = [];
for (const dir of await findScenes(resolve(values.data))) recordings.push(await Recording.open(dir));
let phase = '';
const { text, ...rest } = await evaluateHistoryRecall({
  recordings,
  pack: values.pack,
  k,
  onProgress: (p) => {
    if (p !== phase) process.stderr.write(`history-recall: ${(phase = p)}\n`);
  },
});
for (const [cls, t] of Object.entries(text)) console.log(JSON.stringify({ class: cls, ...t }));
console.log(JSON.stringify(rest));
