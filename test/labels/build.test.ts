import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { LabelSchema, ScoringSchema, type ConfigInput } from '../../src/config/schema.js';
import { FusionStage } from '../../src/fusion/fusion.js';
import { applyTemplate, buildLabelSet, labelTexts } from '../../src/labels/build.js';
import { dot, float32ToBase64 } from '../../src/util/vectors.js';
import { startAgent } from '../../src/main.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { tempDir } from '../helpers/agent-config.js';
import { randomUnit, renderSound, spectralEncoders } from '../fusion/helpers/spectral-encoder.js';

const dir = tempDir('labels');
const scoring = ScoringSchema.parse({});

test('templates: every prompt in every template of the modality, defaults CLIP-style per modality', () => {
  assert.equal(applyTemplate('the sound of {}.', 'a dog barking'), 'the sound of a dog barking.');
  assert.deepEqual(labelTexts(['a', 'b'], ['{}', 'x {}']), ['a', 'x a', 'b', 'x b']);
  assert.ok(scoring.templates.audio.includes('the sound of {}.'));
  assert.ok(scoring.templates.thermal.includes('a thermal image of {}.'));
  assert.throws(() => LabelSchema.parse({ name: 'x', prompts: ['p'], templates: { audio: ['no slot'] } }));
  assert.throws(() => LabelSchema.parse({ name: 'x' }), /at least one prompt or example/);
});

test('label vectors: per-modality prompt ensembles; examples mixed by weight, including subtraction', async () => {
  const { text } = spectralEncoders();
  const ex = randomUnit(12345);
  const set = await buildLabelSet({
    labels: [
      LabelSchema.parse({
        name: 'dog',
        prompts: ['a dog barking'],
        templates: { audio: ['{}', 'the sound of {}.'] },
      }),
      LabelSchema.parse({ name: 'proto', examples: [{ base64: float32ToBase64(ex), modality: 'audio' }] }),
      LabelSchema.parse({
        name: 'minus',
        prompts: ['a dog barking'],
        textWeight: -1,
        examples: [{ base64: float32ToBase64(ex), modality: 'audio', weight: 2 }],
      }),
    ],
    scoring,
    modalities: ['audio', 'thermal'],
    text,
  });
  const [dog, proto, minus] = set.labels;
  const [plain, sound, thermal] = await text.embed([
    'a dog barking',
    'the sound of a dog barking.',
    'a thermal image of a dog barking.',
  ]);
  assert.ok(dot(dog!.vectors.get('audio')!, plain!) > 0.5 && dot(dog!.vectors.get('audio')!, sound!) > 0.5);
  assert.ok(dot(dog!.vectors.get('thermal')!, thermal!) > 0.4, 'thermal uses the thermal templates');
  assert.deepEqual([...proto!.modalities], ['audio'], 'an audio example applies to audio only');
  assert.ok(dot(proto!.vectors.get('audio')!, ex) > 0.999);
  const m = minus!.vectors.get('audio')!;
  assert.ok(
    dot(m, ex) > 0.5 && dot(m, dog!.vectors.get('audio')!) < 0,
    'example minus text points away from the text',
  );
  assert.equal(set.background.get('audio')!.length, scoring.backgroundPrompts.length);
});

test('label embeddings are cached on disk: a second agent start does not call the text encoder', async () => {
  const wav = join(dir, 'short.wav');
  writeFileSync(
    wav,
    encodeWav16({ sampleRateHz: 16000, channels: [renderSound({ seconds: 3, sound: { kind: 'hum' } })] }),
  );
  const cfg: ConfigInput = {
    deviceId: 'cache-test',
    stateDir: join(dir, 'state'),
    mqtt: { broker: 'embedded', embeddedPort: 1 },
    sensors: [{ id: 'mic', modality: 'audio', driver: 'replay', file: wav, speed: 0, loop: false }],
    labels: [{ name: 'hum', prompts: ['a mains hum', 'an electrical hum'] }],
  };
  const file = join(dir, 'cache.yaml');
  writeFileSync(file, JSON.stringify(cfg));
  const loaded = await loadConfig(file);
  const config = { ...loaded, mqtt: { ...loaded.mqtt, embeddedPort: 0 } };
  const start = async () => {
    const encoders = spectralEncoders();
    const agent = await startAgent({ config, logger: pino({ level: 'silent' }), encoders });
    await agent.done;
    await agent.stop();
    return encoders.text.calls;
  };
  assert.equal(await start(), 1, 'first start embeds the label texts once');
  assert.equal(await start(), 0, 'second start reads them from stateDir/label-cache');
});

test('changing one label re-embeds only its texts', async () => {
  const { text } = spectralEncoders();
  const build = (labels: ConfigInput['labels']) =>
    buildLabelSet({
      labels: (labels ?? []).map((l) => LabelSchema.parse(l)),
      scoring: { ...scoring, backgroundPrompts: [] },
      modalities: ['audio'],
      text,
      pack: { id: 'x', version: '1' },
      cacheDir: join(dir, 'incremental'),
    });
  await build([{ name: 'a', prompts: ['a'] }]);
  const before = text.texts;
  assert.equal(before, scoring.templates.audio.length);
  const set = await build([
    { name: 'a', prompts: ['a'] },
    { name: 'b', prompts: ['b'] },
  ]);
  assert.equal(text.texts - before, scoring.templates.audio.length, 'only the new label was embedded');
  assert.equal(set.labels.length, 2);
});

test("a label swap through FusionStage.retarget embeds only the added label's texts; kept labels' smoothing goes on", async () => {
  const { text } = spectralEncoders();
  const build = (labels: ConfigInput['labels']) =>
    buildLabelSet({
      labels: (labels ?? []).map((l) => LabelSchema.parse(l)),
      scoring,
      modalities: ['audio', 'thermal'],
      text,
    });
  const kept = [
    { name: 'hum', prompts: ['a mains hum'] },
    { name: 'buzz', prompts: ['a buzzing fly'] },
  ];
  const before = await build(kept);
  const calls = text.calls;
  const texts = text.texts;
  // Added: a thermal-only label, so the kept labels' audio scores are the same under both sets.
  const after = await build([...kept, { name: 'glow', prompts: ['a warm glow'], modalities: ['thermal'] }]);
  assert.equal(text.calls - calls, 1, 'one text-encoder call for the swap');
  assert.equal(
    text.texts - texts,
    labelTexts(['a warm glow'], scoring.templates.thermal).length,
    'only the added label was embedded',
  );
  for (const name of ['hum', 'buzz']) {
    const [b, a] = [before, after].map((s) => s.labels.find((l) => l.name === name)!.vectors.get('audio')!);
    assert.deepEqual(a, b, `${name}: the same vector from the cache`);
  }

  const opts = { temperature: 10, toleranceMs: 1500, smoothingWindows: 3 };
  const swapped = new FusionStage(before, opts);
  const reference = new FusionStage(before, opts);
  const hum = before.labels[0]!.vectors.get('audio')!;
  const buzz = before.labels[1]!.vectors.get('audio')!;
  [hum, buzz, hum, buzz, hum].forEach((v, i) => {
    if (i === 3) swapped.retarget(after);
    const w = { sensorId: 'mic', modality: 'audio' as const, startMs: i * 1000, endMs: (i + 1) * 1000 };
    const got = swapped.add(w, v).observations;
    const want = reference.add(w, v).observations;
    assert.deepEqual(
      got.map((o) => o.label),
      want.map((o) => o.label),
    );
    got.forEach((o, k) => assert.ok(Math.abs(o.score - want[k]!.score) < 1e-9, `${o.label} at window ${i}`));
  });
});
