/** train/wordhash.py must tokenize exactly like the agent's word-hash tokenizer. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { WordHashTokenizer } from '../../src/encoders/text/word-hash.js';
import { PARAPHRASES, SYNONYMS } from '../../src/sim/prompts.js';

const TRAIN = fileURLToPath(new URL('../../train', import.meta.url));
const PYTHON = process.env.EDGEBIND_PYTHON ?? '/usr/bin/python3';

test('Python and TypeScript word-hash ids agree on every prompt', () => {
  const texts = [
    ...Object.values(SYNONYMS).flat(),
    ...Object.values(PARAPHRASES).flat(),
    'The sound of a Fire.',
    'Ünïcode  wörds\tand    spaces',
    'word '.repeat(100),
  ];
  const script =
    'import json, sys\nsys.path.insert(0, sys.argv[1])\nfrom wordhash import encode\n' +
    'print(json.dumps([encode(t, 8192) for t in json.load(sys.stdin)]))';
  const out = execFileSync(PYTHON, ['-c', script, TRAIN], { input: JSON.stringify(texts), encoding: 'utf8' });
  const py = JSON.parse(out) as number[][];
  const ts = new WordHashTokenizer({ vocabSize: 8192 });
  assert.equal(py.length, texts.length);
  texts.forEach((t, i) => assert.deepEqual(py[i], Array.from(ts.encode(t)), t));
});
