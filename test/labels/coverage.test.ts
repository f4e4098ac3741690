/**
 * Label coverage and short recordings (issue #13 items 4–5), as a user meets them with the
 * default pack (models/mini, closed word-hash vocabulary): the baby/cat labels are warned about —
 * unknown words named, nearest known concepts given, the pair reported as indistinguishable — in
 * `classify`, `config check`, `doctor`, the agent's log and the labels/test, labels/set and
 * labels/patch responses; a label the pack knows gets no warning anywhere. A recording shorter
 * than one window gives one window, not an empty result.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { loadPack } from '../../src/encoders/pack.js';
import { PackError } from '../../src/errors.js';
import { startAgent } from '../../src/main.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { REPO, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { captureLogger } from '../helpers/log-capture.js';
import { brokerWithRequester, REPLY_PREFIX } from '../mqtt/fixtures/api-harness.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const PACK = join(REPO, 'models/mini');
const dir = tempDir('coverage');

function cli(args: string[]): { code: number | null; stdout: string; out: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: dir,
  });
  return { code: r.status, stdout: r.stdout, out: `${r.stdout}${r.stderr}` };
}

interface WireWarning {
  code: string;
  label: string;
  message: string;
  unknownWords?: string[];
  nearest?: { concept: string; similarity: number }[];
  sameAs?: string;
  cosine?: number;
}

/** What the issue asks of the baby/cat/dog warnings, wherever they appear. */
function assertBabyCat(warnings: readonly WireWarning[], names: { baby: string; cat: string; dog: string }) {
  const unknown = (label: string) =>
    warnings.find((w) => w.code === 'LABEL_UNKNOWN_WORDS' && w.label === label);
  for (const [label, words] of [
    [names.baby, ['baby', 'crying']],
    [names.cat, ['cat', 'meowing']],
  ] as const) {
    const w = unknown(label);
    assert.ok(w, `${label} has an unknown-words warning: ${JSON.stringify(warnings)}`);
    assert.deepEqual([...w.unknownWords!].sort(), [...words].sort());
    for (const word of words) assert.ok(w.message.includes(`"${word}"`), w.message);
    assert.ok(w.nearest && w.nearest.length > 0, 'names the nearest known concepts');
    for (const n of w.nearest) {
      assert.ok(w.message.includes(n.concept), `message names ${n.concept}: ${w.message}`);
      assert.ok(n.similarity >= -1 && n.similarity <= 1);
    }
    assert.match(w.message, /label from-example/, 'points to few-shot examples');
  }
  const pair = warnings.find((w) => w.code === 'LABELS_INDISTINGUISHABLE');
  assert.ok(pair, 'the pair is reported as indistinguishable');
  assert.deepEqual([pair.label, pair.sameAs].sort(), [names.baby, names.cat].sort());
  assert.ok(pair.cosine! >= 0.99);
  assert.ok(
    warnings.every((w) => w.label !== names.dog && w.sameAs !== names.dog),
    'a label the pack knows gets no warning',
  );
}

/** `edgebind classify` of room-audio.wav (or `file`) with the models/mini pack. */
const classify = (labels: string, extra: string[] = [], file = join(SAMPLES, 'room-audio.wav')) =>
  cli(['classify', '--pack', PACK, '-m', 'audio', file, '--labels', labels, ...extra]);

test('classify: the baby/cat labels are warned about in JSON and as text; a known label is not', () => {
  const labels = 'a baby crying,a cat meowing,a dog barking';
  const json = classify(labels, ['--json']);
  assert.equal(json.code, 0, json.out);
  const result = JSON.parse(json.stdout) as { windows: unknown[]; warnings: WireWarning[] };
  assert.ok(result.windows.length > 0);
  assertBabyCat(result.warnings, { baby: 'a_baby_crying', cat: 'a_cat_meowing', dog: 'a_dog_barking' });

  const text = classify(labels);
  assert.equal(text.code, 0, text.out);
  const lines = text.out.split('\n').filter((l) => l.startsWith('warning: '));
  assert.equal(lines.length, 3, text.out);
  assert.ok(lines.some((l) => l.includes('"baby", "crying"')));
  assert.ok(lines.some((l) => /indistinguishable/.test(l)));

  const known = classify('a dog barking,an alarm beeping', ['--json']);
  assert.equal(known.code, 0, known.out);
  const ok = JSON.parse(known.stdout) as { warnings?: WireWarning[] };
  assert.deepEqual(ok.warnings ?? [], []);
  assert.doesNotMatch(known.out, /^warning: /m);
});

const babyCatDog = [
  { name: 'baby', prompts: ['a baby crying'] },
  { name: 'cat', prompts: ['a cat meowing'] },
  { name: 'dog', prompts: ['a dog barking'] },
];

function configFile(name: string, labels: ConfigInput['labels'], extra: Partial<ConfigInput> = {}): string {
  const file = join(dir, `${name}.yaml`);
  const cfg: ConfigInput = {
    deviceId: `coverage-${name}`,
    stateDir: join(dir, `state-${name}`),
    encoders: { pack: PACK, providers: ['cpu'] },
    sensors: [{ id: 'mic', driver: 'replay', modality: 'audio', file: join(SAMPLES, 'room-audio.wav') }],
    labels,
    ...extra,
  };
  writeFileSync(file, toYaml(cfg));
  return file;
}

test('config check: warnings name labels[i] and the unknown words, exit 0; known labels print none', () => {
  const file = configFile('baby-cat', babyCatDog);
  const r = cli(['config', 'check', file]);
  assert.equal(r.code, 0, `warnings do not fail the check: ${r.out}`);
  const warnings = r.out.split('\n').filter((l) => l.startsWith('warning: '));
  assert.ok(
    warnings.some((l) => l.startsWith('warning: labels[0]: ') && l.includes('"baby", "crying"')),
    r.out,
  );
  assert.ok(
    warnings.some((l) => l.startsWith('warning: labels[1]: ') && l.includes('"cat", "meowing"')),
    r.out,
  );
  assert.ok(
    warnings.some((l) => /"baby" and "cat" are indistinguishable/.test(l)),
    r.out,
  );
  assert.ok(!warnings.some((l) => l.startsWith('warning: labels[2]')), r.out);

  const good = cli(['config', 'check', configFile('known', [babyCatDog[2]!])]);
  assert.equal(good.code, 0, good.out);
  assert.doesNotMatch(good.out, /warning/);
  assert.match(good.out, /OK/);
});

test('doctor: the labels check warns with the same messages; known labels are ok', () => {
  const row = (out: string) => out.split('\n').find((l) => /^\s+\S+\s+labels\s/.test(l)) ?? '';
  const r = cli(['doctor', '--config', configFile('doctor-baby-cat', babyCatDog), '--broker-timeout', '500']);
  const line = row(r.out);
  assert.match(line, /WARN\s+labels\s+3 label\(s\) \(\S+doctor-baby-cat\.yaml\), 3 warning\(s\): /, r.out);
  assert.ok(line.includes('"baby", "crying"') && line.includes('indistinguishable'), line);

  const good = cli([
    'doctor',
    '--config',
    configFile('doctor-known', [babyCatDog[2]!]),
    '--broker-timeout',
    '500',
  ]);
  assert.match(
    row(good.out),
    /ok\s+labels\s+1 label\(s\) \(\S+doctor-known\.yaml\): every word known to edgebind-mini@/,
    good.out,
  );
});

test('a vocabulary file that differs from the manifest is PACK_CHECKSUM', async () => {
  const copy = join(dir, 'pack-copy');
  cpSync(PACK, copy, { recursive: true });
  appendFileSync(join(copy, 'vocab.json'), ' ');
  await assert.rejects(loadPack(copy, { providers: ['cpu'], modalities: ['text'] }), (e: unknown) => {
    assert.ok(e instanceof PackError, String(e));
    assert.equal(e.code, 'PACK_CHECKSUM');
    assert.ok(e.message.includes(join(copy, 'vocab.json')), e.message);
    return true;
  });
});

test('a recording shorter than one window: classify, embed and label from-example give one window', () => {
  const rate = 16_000;
  const samples = new Float32Array(Math.round(0.6 * rate));
  for (let i = 0; i < samples.length; i++) samples[i] = 0.3 * Math.sin((2 * Math.PI * 1000 * i) / rate);
  const wav = join(dir, 'short.wav');
  writeFileSync(wav, encodeWav16({ sampleRateHz: rate, channels: [samples] }));

  const classified = classify('an alarm beeping,a dog barking', ['--json'], wav);
  assert.equal(classified.code, 0, classified.out);
  const c = JSON.parse(classified.stdout) as { windows: { startMs: number; endMs: number }[] };
  assert.equal(c.windows.length, 1, 'one window');
  assert.equal(c.windows[0]!.startMs, 0);
  assert.ok(c.windows[0]!.endMs > 0 && c.windows[0]!.endMs <= 600, JSON.stringify(c.windows[0]));

  const embedded = cli(['embed', '--pack', PACK, '-m', 'audio', wav]);
  assert.equal(embedded.code, 0, embedded.out);
  const e = JSON.parse(embedded.stdout) as { embedding: number[] }[];
  assert.equal(e.length, 1);
  assert.equal(e[0]!.embedding.length, 128);
  assert.ok(e[0]!.embedding.every(Number.isFinite));

  const proto = cli(['label', 'from-example', '--pack', PACK, '-m', 'audio', wav]);
  assert.equal(proto.code, 0, proto.out);
  const p = JSON.parse(proto.stdout) as { windows: number; sources: { windows: number }[]; vector: string };
  assert.equal(p.windows, 1);
  assert.equal(p.sources[0]!.windows, 1);
  assert.equal(Buffer.from(p.vector, 'base64').length, 128 * 4);
});

const mq = brokerWithRequester();

test('the running agent logs the warnings at start and returns them in labels/test, set and patch', async () => {
  const file = configFile('agent', babyCatDog, {
    deviceId: 'coverage-agent',
    mqtt: { broker: mq.broker.url, protocolVersion: 5 },
    remote: { responseTopicPrefixes: [REPLY_PREFIX] },
  });
  const { logger, lines } = captureLogger('info');
  const agent = await startAgent({ config: await loadConfig(file), logger });
  const topic = (op: string) => `edgebind/coverage-agent/request/${op}`;
  try {
    const started = lines
      .map((l) => JSON.parse(l) as { level: number | string; msg: string; code?: string; label?: string })
      .filter((l) => /does not know|indistinguishable/.test(l.msg));
    assert.equal(started.length, 3, JSON.stringify(started));
    assert.ok(started.some((l) => l.code === 'LABEL_UNKNOWN_WORDS' && l.label === 'baby'));

    // Generous bounds: a loaded machine (issue #24) only makes answers later, never wrong.
    const connectBy = Date.now() + 120_000;
    while (!agent.stats().mqtt.connected && Date.now() < connectBy)
      await new Promise((r) => setTimeout(r, 50));
    const ask = async (op: string, body: object) => {
      // The request subscription follows CONNACK: retry until the agent answers.
      const deadline = Date.now() + 180_000;
      for (;;) {
        const r = await mq.requester.request(topic(op), body, 20_000).catch(() => undefined);
        if (r) return r as { status: string; warnings?: WireWarning[] };
        // Say what the agent was doing: a missing answer under load must be diagnosable (#24).
        assert.ok(
          Date.now() < deadline,
          `no answer to ${op}; mqtt ${JSON.stringify(agent.stats().mqtt)}; agent log tail:\n${lines.slice(-15).join('\n')}`,
        );
      }
    };
    const names = { baby: 'baby', cat: 'cat', dog: 'dog' };

    const tested = await ask('labels/test', { labels: babyCatDog });
    assert.equal(tested.status, 'ok', JSON.stringify(tested));
    assertBabyCat(tested.warnings ?? [], names);

    const set = await ask('labels/set', { labels: [babyCatDog[0], babyCatDog[2]] });
    assert.equal(set.status, 'ok', JSON.stringify(set));
    const setWarnings = set.warnings ?? [];
    assert.deepEqual(
      setWarnings.map((w) => [w.code, w.label]),
      [['LABEL_UNKNOWN_WORDS', 'baby']],
    );

    const patched = await ask('labels/patch', { add: [babyCatDog[1]] });
    assert.equal(patched.status, 'ok', JSON.stringify(patched));
    assertBabyCat(patched.warnings ?? [], names);

    const clean = await ask('labels/set', { labels: [babyCatDog[2]] });
    assert.equal(clean.status, 'ok', JSON.stringify(clean));
    assert.equal(clean.warnings, undefined, 'no warnings array when there is nothing to say');
  } finally {
    await agent.stop();
  }
});

// The vocabulary the tests rely on is the pack's own, shipped beside it.
test('models/mini carries its vocabulary with a sha256 in the manifest', () => {
  const manifest = JSON.parse(readFileSync(join(PACK, 'manifest.json'), 'utf8')) as {
    tokenizer: { kind: string; vocab?: string; sha256?: string };
  };
  assert.equal(manifest.tokenizer.vocab, 'vocab.json');
  assert.match(manifest.tokenizer.sha256 ?? '', /^[0-9a-f]{64}$/);
});
