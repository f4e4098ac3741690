/**
 * Issue 14 items 2 and 3 at the label-building and scoring level: non-finite vectors are refused at
 * every entry and can never blank other labels; the text-embedding caches stay within their
 * documented bounds.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LabelSchema, ScoringSchema } from '../../src/config/schema.js';
import type { EncoderSet, TextEncoder } from '../../src/encoders/types.js';
import { EncoderError } from '../../src/errors.js';
import {
  buildLabelSet,
  clearLabelMemoryCache,
  LABEL_CACHE_LIMITS,
  labelMemoryCacheSize,
  pruneLabelCache,
} from '../../src/labels/build.js';
import type { LabelSet } from '../../src/fusion/label-set.js';
import { decodePrototype, encodePrototype, prototypeFromFiles } from '../../src/fusion/prototype.js';
import { Scorer } from '../../src/fusion/scoring.js';
import { float32ToBase64 } from '../../src/util/vectors.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { tempDir } from '../helpers/agent-config.js';

const DIM = 8;

/** A text encoder that hashes each text to a unit vector (and to NaN for texts containing "NaN"). */
function hashText(calls: { n: number } = { n: 0 }): TextEncoder {
  return {
    provider: 'cpu',
    embed: (texts) => {
      calls.n += texts.length;
      return Promise.resolve(
        texts.map((t) => {
          const v = new Float32Array(DIM);
          for (let i = 0; i < t.length; i++) v[(t.charCodeAt(i) + i) % DIM]! += 1;
          if (t.includes('NaN')) v.fill(NaN);
          const n = Math.hypot(...v);
          return v.map((x) => x / n);
        }),
      );
    },
  };
}

const scoring = ScoringSchema.parse({});

test('a NaN or infinite label vector never reaches the scorer, and the scorer scores each label alone', async () => {
  const text = hashText();
  const good = LabelSchema.parse({ name: 'dog', prompts: ['a dog barking'] });
  for (const base64 of [
    float32ToBase64(new Float32Array(DIM).fill(NaN)),
    float32ToBase64(new Float32Array(DIM).fill(Infinity)),
  ]) {
    await assert.rejects(
      buildLabelSet({
        labels: [good, { ...good, name: 'bad', prompts: [], examples: [{ base64, weight: 1 }] }],
        scoring,
        modalities: ['audio'],
        text,
      }),
      (err: Error) => /labels\[1\]\.examples\[0\]\.base64: value 0 is (NaN|Infinity)/.test(err.message),
    );
  }
  // A text encoder that embeds a prompt to NaN: refused with the text, nothing cached.
  await assert.rejects(
    buildLabelSet({
      labels: [good, LabelSchema.parse({ name: 'odd', prompts: ['NaN maker'] })],
      scoring,
      modalities: ['audio'],
      text,
    }),
    /text encoder embedded "NaN maker" to NaN/,
  );

  // Even handed a set with a poisoned vector (built elsewhere), the scorer keeps the others.
  const built = await buildLabelSet({ labels: [good], scoring, modalities: ['audio'], text });
  const poisoned: LabelSet = {
    ...built,
    labels: [
      ...built.labels,
      { ...built.labels[0]!, name: 'poison', vectors: new Map([['audio', new Float32Array(DIM).fill(NaN)]]) },
    ],
  };
  const embedding = built.labels[0]!.vectors.get('audio')!;
  const s = new Scorer(poisoned, { temperature: 100 }).score('audio', embedding);
  assert.ok(Number.isFinite(s.scores[0]!) && s.scores[0]! > 0.5, `dog still scores: ${s.scores[0]}`);
  assert.ok(Number.isNaN(s.scores[1]!), 'the poisoned label counts as not applying');
  assert.ok(Number.isFinite(s.background));
  const fused = new Scorer(poisoned, { temperature: 100 }).scoreFused(embedding, new Map([['audio', 1]]));
  assert.ok(Number.isFinite(fused.scores[0]!));
});

test('prototype files with NaN, Infinity or all zeros are refused naming the file', () => {
  const proto = (v: Float32Array) =>
    encodePrototype({
      modality: 'audio',
      pack: { id: 'p', version: '1' },
      sources: [{ file: 'x.wav', windows: 1 }],
      vector: v,
    });
  assert.throws(
    () => decodePrototype(proto(new Float32Array(4).fill(NaN)), 'nan.json'),
    /nan\.json: vector value 0 is NaN/,
  );
  assert.throws(
    () => decodePrototype(proto(new Float32Array([1, -Infinity])), 'inf.json'),
    /inf\.json: vector value 1 is -Infinity/,
  );
  assert.throws(
    () => decodePrototype(proto(new Float32Array(4)), 'zero.json'),
    /zero\.json: vector is all zeros/,
  );
});

test('the memory cache holds at most LABEL_CACHE_LIMITS.memoryEntries embeddings, least recently used out first', async () => {
  clearLabelMemoryCache();
  const calls = { n: 0 };
  const text = hashText(calls);
  const templates = { audio: ['{}'] };
  const batch = (k: number) => Array.from({ length: 32 }, (_, j) => `sound ${k} ${j}`);
  const build = (prompts: string[]) =>
    buildLabelSet({
      labels: [LabelSchema.parse({ name: 'l', prompts })],
      scoring: { ...scoring, backgroundPrompts: [], templates: { ...scoring.templates, ...templates } },
      modalities: ['audio'],
      text,
    });
  const first = batch(0);
  await build(first);
  const rounds = Math.ceil(LABEL_CACHE_LIMITS.memoryEntries / 32) + 10;
  for (let k = 1; k <= rounds; k++) await build(batch(k));
  const size = labelMemoryCacheSize();
  assert.ok(size.entries <= LABEL_CACHE_LIMITS.memoryEntries, `${size.entries} entries`);
  assert.ok(size.bytes <= LABEL_CACHE_LIMITS.memoryBytes);
  // The last set is still cached; the first was evicted and is embedded again.
  const before = calls.n;
  await build(batch(rounds));
  assert.equal(calls.n, before, 'recent texts come from memory');
  await build(first);
  assert.equal(calls.n, before + 32, 'the oldest texts were evicted');
  clearLabelMemoryCache();
});

test('the disk cache is pruned to its file and byte bounds, least recently used first, and stale temp files go', async () => {
  const dir = tempDir('label-cache');
  mkdirSync(dir, { recursive: true });
  const now = Date.now();
  for (let i = 0; i < 6; i++) {
    const f = join(dir, `f${i}.json`);
    writeFileSync(f, 'x'.repeat(100));
    utimesSync(f, (now - (10 - i) * 1000) / 1000, (now - (10 - i) * 1000) / 1000);
  }
  const tmp = join(dir, 'f9.json.tmp-1-abc');
  writeFileSync(tmp, 'partial');
  utimesSync(tmp, (now - 120_000) / 1000, (now - 120_000) / 1000);
  await pruneLabelCache(dir, {
    keep: join(dir, 'f0.json'),
    limits: { diskFiles: 3, diskBytes: 1000 },
    nowMs: now,
  });
  assert.deepEqual(readdirSync(dir).sort(), ['f0.json', 'f4.json', 'f5.json'], 'the kept one and the newest');
  await pruneLabelCache(dir, { limits: { diskFiles: 10, diskBytes: 250 }, nowMs: now });
  assert.deepEqual(readdirSync(dir).sort(), ['f4.json', 'f5.json'], 'bytes bound');
});

test('label from-example leaves out windows embedded to NaN, counts them, and refuses a file with no finite window', async () => {
  const dir = tempDir('from-example');
  const file = join(dir, 'example.wav');
  const samples = new Float32Array(16000 * 6).map((_, i) => Math.sin(i / 10) * 0.3);
  writeFileSync(file, encodeWav16({ sampleRateHz: 16000, channels: [samples] }));
  let calls = 0;
  const encoders = (nanEvery: number): EncoderSet => ({
    pack: { id: 'p', version: '1' },
    text: hashText(),
    windows: new Map([
      [
        'audio',
        {
          modality: 'audio',
          provider: 'cpu',
          embed: (ws) =>
            Promise.resolve(
              ws.map(() => {
                const v = new Float32Array(DIM).fill(0.5);
                return calls++ % nanEvery === 0 ? v.fill(NaN) : v;
              }),
            ),
        },
      ],
    ]),
    close: () => Promise.resolve(),
  });
  const dropped: number[] = [];
  const proto = await prototypeFromFiles({
    encoders: encoders(2),
    modality: 'audio',
    files: [file],
    onNonFinite: (_f, n) => dropped.push(n),
  });
  assert.ok(dropped[0]! > 0, 'counted');
  const decoded = decodePrototype(proto, 'proto.json');
  assert.ok(decoded.vector.every(Number.isFinite));
  calls = 0;
  await assert.rejects(
    prototypeFromFiles({ encoders: encoders(1), modality: 'audio', files: [file] }),
    (err: Error) =>
      err instanceof EncoderError && err.message.includes(file) && /NaN or infinite/.test(err.message),
  );
});
