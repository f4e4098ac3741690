/**
 * ImageBind's own zero-shot scores (issue 20 item 4): `scoring.mode: imagebind` and `classify
 * --imagebind-scores`. The CLI is checked against softmax(audio @ text.T) computed here from the
 * pack's sessions run on ImageBind's own features of golden files.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { ClassifyResult } from '../../src/cli/commands/classify.js';
import { LabelSchema, ScoringSchema } from '../../src/config/schema.js';
import { loadPack } from '../../src/encoders/pack.js';
import { ensureTestPack, TEST_PACK_NAME } from '../../src/encoders/registry.js';
import { createTokenizer } from '../../src/encoders/text/create-tokenizer.js';
import { encodeBatchInt64 } from '../../src/encoders/text/tokenizer.js';
import { imageBindScores, Scorer, topK } from '../../src/fusion/scoring.js';
import { buildLabelSet } from '../../src/labels/build.js';
import { dot } from '../../src/util/vectors.js';
import { tempDir } from '../helpers/agent-config.js';
import { runCli } from '../helpers/cli.js';
import { goldenAudioDir, readF32 } from '../helpers/golden.js';
import { spectralEncoders } from './helpers/spectral-encoder.js';

const dir = tempDir('imagebind-scores');
const STATE = join(dir, 'state');
const PACK = join(STATE, 'packs', TEST_PACK_NAME);
const GOLDEN = goldenAudioDir();

before(() => ensureTestPack(PACK));
after(() => rm(dir, { recursive: true, force: true }));

test('imageBindScores is softmax(embedding · text) over the labels, no background', () => {
  const a = Float32Array.from([3, 4, 0]);
  const t = [Float32Array.from([1, 0, 0]), Float32Array.from([0, 2, 0]), Float32Array.from([0, 0, 5])];
  const s = imageBindScores(a, t);
  const e = [Math.exp(3), Math.exp(8), Math.exp(0)];
  const z = e[0]! + e[1]! + e[2]!;
  e.forEach((v, i) => assert.ok(Math.abs(s.scores[i]! - v / z) < 1e-7, `score ${i}`));
  assert.deepEqual(
    [...s.cosines].map((c) => Math.round(c * 1e6) / 1e6),
    [0.6, 0.8, 0],
  );
  assert.ok(Number.isNaN(s.background));
  assert.deepEqual(
    topK([{ name: 'x' }, { name: 'y' }, { name: 'z' }], s, 10).map((r) => r.label),
    ['y', 'x', 'z'],
  );
});

test('scoring.mode imagebind: prompts as written, no background, temperature = text × modality logit scale', async () => {
  const enc = spectralEncoders();
  const scoring = ScoringSchema.parse({ mode: 'imagebind' });
  const set = await buildLabelSet({
    labels: [
      LabelSchema.parse({ name: 'dog', prompts: ['a dog barking'] }),
      LabelSchema.parse({ name: 'alarm', prompts: ['an alarm beeping'] }),
    ],
    scoring,
    modalities: ['audio', 'imu'],
    text: enc.text,
    pack: { id: 'p', version: '1', logitScales: { text: 14.29, audio: 20, imu: 5 } },
  });
  assert.deepEqual([...set.background.values()].flat(), []);
  assert.deepEqual(
    [...set.temperatures!],
    [
      ['audio', 14.29 * 20],
      ['imu', 14.29 * 5],
    ],
  );
  const [dogText] = await enc.text.embed(['a dog barking']);
  assert.deepEqual(set.labels[0]!.vectors.get('audio'), dogText, 'the prompt as written, no template');
  // The scorer uses the set's temperature, not its own option (50).
  const scorer = new Scorer(set, { temperature: 50 });
  const v = set.labels[1]!.vectors.get('audio')!;
  const s = scorer.score('audio', v);
  const cos = set.labels.map((l) => dot(v, l.vectors.get('audio')!));
  const e = cos.map((c) => Math.exp(14.29 * 20 * (c - Math.max(...cos))));
  assert.ok(Math.abs(s.scores[1]! - e[1]! / (e[0]! + e[1]!)) < 1e-6);
  assert.equal(s.background, 0);
});

test('scoring.mode imagebind rejects labels it cannot score as ImageBind does, naming each path', async () => {
  const enc = spectralEncoders();
  await assert.rejects(
    buildLabelSet({
      labels: [
        LabelSchema.parse({ name: 'two', prompts: ['a', 'b'] }),
        LabelSchema.parse({ name: 'tpl', prompts: ['c'], templates: { audio: ['the sound of {}.'] } }),
        LabelSchema.parse({
          name: 'ex',
          examples: [{ base64: Buffer.from(new Float32Array(4).fill(1).buffer).toString('base64') }],
        }),
      ],
      scoring: ScoringSchema.parse({ mode: 'imagebind' }),
      modalities: ['audio'],
      text: enc.text,
    }),
    (err: Error & { problems?: { path: string }[] }) => {
      assert.equal(err.name, 'ConfigError');
      assert.deepEqual(
        err.problems!.map((p) => p.path),
        ['labels[0].prompts', 'labels[1].templates', 'labels[2].prompts', 'labels[2].examples'],
      );
      assert.match(
        err.message,
        /labels\[0\]\.prompts: label two: scoring.mode imagebind takes exactly one prompt per label, got 2/,
      );
      return true;
    },
  );
});

const edgebind = (args: string[]) => runCli(args, { cwd: dir });

test('classify --imagebind-scores --whole = softmax(audio @ text.T) of the pack on ImageBind’s own features, to 1e-4', async () => {
  const labels = ['a square wave', 'a dog barking', 'white noise', 'a pure tone'];
  const pack = await loadPack(PACK, {
    providers: ['cpu'],
    intraOpThreads: 1,
    interOpThreads: 1,
    logger: pino({ level: 'silent' }),
    modalities: ['text', 'audio'],
  });
  const want = new Map<string, number[]>();
  const cosines = new Map<string, number[]>();
  try {
    const tokenizer = createTokenizer(pack.manifest.tokenizer, PACK);
    const t = await pack.session('text').run(encodeBatchInt64(tokenizer, labels), labels.length);
    const texts = labels.map((_, i) => t.slice(i * 1024, (i + 1) * 1024));
    for (const name of ['square_5s', 'noise_2s', 'chirp_2s']) {
      const a = await pack.session('audio').run(readF32(`${GOLDEN}${name}.f32`), 1);
      const logits = texts.map((x) => dot(a, x));
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const z = e.reduce((p, q) => p + q, 0);
      want.set(
        name,
        e.map((v) => v / z),
      );
      // The test pack's scales (text 100 × audio 20) saturate these scores to 0 and 1, so the
      // cosines of the raw outputs are checked as well.
      cosines.set(
        name,
        texts.map((x, i) => logits[i]! / Math.sqrt(dot(a, a) * dot(x, x))),
      );
    }
  } finally {
    await pack.close();
  }
  let worst = 0;
  let worstCos = 0;
  for (const [name, scores] of want) {
    const r = await edgebind([
      'classify',
      '--state-dir',
      STATE,
      '--pack',
      'test',
      '-m',
      'audio',
      '--whole',
      '--imagebind-scores',
      '--labels',
      labels.join(','),
      '--json',
      `${GOLDEN}${name}.wav`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const got = JSON.parse(r.stdout) as ClassifyResult;
    assert.equal(got.windows.length, 1);
    assert.ok(!got.overall.some((x) => x.label === '(background)'), 'no background');
    labels.forEach((l, i) => {
      const row = got.overall.find((x) => x.label === l.replace(/ /g, '_'))!;
      const d = Math.abs(row.score - scores[i]!);
      worst = Math.max(worst, d);
      assert.ok(d <= 1e-4, `${name} ${l}: ${row.score} vs ImageBind ${scores[i]}`);
      const c = cosines.get(name)![i]!;
      worstCos = Math.max(worstCos, Math.abs(row.cosine! - c));
      assert.ok(Math.abs(row.cosine! - c) <= 1e-5, `${name} ${l}: cosine ${row.cosine} vs ${c}`);
    });
  }
  console.log(
    `classify --imagebind-scores vs softmax(audio @ text.T): worst |Δscore| ${worst}, |Δcosine| ${worstCos}`,
  );
});

test('--imagebind-scores with --temperature is a clear error', async () => {
  const r = await edgebind([
    'classify',
    '--state-dir',
    STATE,
    '--pack',
    'test',
    '-m',
    'audio',
    '--imagebind-scores',
    '--temperature',
    '10',
    '--labels',
    'a',
    `${GOLDEN}noise_2s.wav`,
  ]);
  assert.equal(r.code, 2); // a usage error (README: exit status 2)
  assert.equal(
    r.stderr,
    "edgebind: --temperature cannot be combined with --imagebind-scores: the pack's logit scales set ImageBind's temperature (run with --help for usage)\n",
  );
});
