import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import {
  classifyFile,
  formatClassify,
  labelName,
  openPackEncoders,
} from '../../src/cli/commands/classify.js';
import { decodePrototype } from '../../src/fusion/prototype.js';
import { recordingWindows } from '../../src/sensors/replay/recording.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { renderSound, spectralEncoders } from './helpers/spectral-encoder.js';

const dir = tempDir('classify');
const state = join(dir, 'state');

test('classify a WAV: every window cut as the agent cuts it, labels ranked by score, plus the mean', async () => {
  const file = join(dir, 'hum.wav');
  writeFileSync(
    file,
    encodeWav16({ sampleRateHz: 16000, channels: [renderSound({ seconds: 6, sound: { kind: 'hum' } })] }),
  );
  const r = await classifyFile({
    encoders: spectralEncoders(),
    modality: 'audio',
    file,
    labels: ['a mains hum', 'a dog barking', 'Smoke Alarm!'],
    stateDir: state,
  });
  const ws = await recordingWindows({ file, modality: 'audio' });
  assert.equal(r.windows.length, ws.length);
  assert.deepEqual(
    r.windows.map((w) => [w.startMs, w.endMs]),
    ws.map((w) => [w.startMs, w.endMs]),
  );
  for (const w of [...r.windows.map((x) => x.top), r.overall]) {
    assert.equal(w.length, 4, 'three labels and the background');
    assert.ok(
      w.every((x, i) => i === 0 || x.score <= w[i - 1]!.score),
      'ranked best first',
    );
    assert.ok(Math.abs(w.reduce((a, x) => a + x.score, 0) - 1) < 1e-4, 'softmax over labels + background');
  }
  assert.ok(r.overall.some((x) => x.label === 'smoke_alarm'));
  assert.equal(labelName('Smoke Alarm!'), 'smoke_alarm');
  const table = formatClassify(r);
  assert.match(table, /window 0\.00-2\.00 s\n #\s+label\s+score\s+cosine/);
  assert.match(table, /mean over \d+ windows/);
});

test('classify an .ebf recording with the test pack (thermal)', async () => {
  const encoders = await openPackEncoders({
    pack: 'test',
    modality: 'thermal',
    stateDir: state,
    logger: pino({ level: 'silent' }),
  });
  try {
    const r = await classifyFile({
      encoders,
      modality: 'thermal',
      file: join(SAMPLES, 'room-thermal.ebf'),
      labels: ['a person', 'an empty room'],
      top: 2,
      stateDir: state,
    });
    assert.ok(r.windows.length > 5);
    assert.ok(r.windows.every((w) => w.top.length === 2));
  } finally {
    await encoders.close();
  }
});

test('`edgebind label from-example` writes a prototype a label can use', async () => {
  const out = join(dir, 'proto.json');
  await promisify(execFile)(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(REPO, 'src/cli/index.ts'),
      'label',
      'from-example',
      '--pack',
      'test',
      '-m',
      'audio',
      '--state-dir',
      state,
      '-o',
      out,
      join(SAMPLES, 'room-audio.wav'),
    ],
    { cwd: dir },
  );
  const json: unknown = JSON.parse(readFileSync(out, 'utf8'));
  const p = decodePrototype(json, out);
  assert.equal(p.modality, 'audio');
  assert.equal(p.pack.id, 'edgebind-test');
  let norm = 0;
  for (const x of p.vector) norm += x * x;
  assert.ok(Math.abs(norm - 1) < 1e-4, 'a unit vector');
});
