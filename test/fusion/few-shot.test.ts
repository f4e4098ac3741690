/**
 * Few-shot labels end to end: example recordings → `edgebind label from-example`'s prototype →
 * a label made of that example → the real agent (replay, windows, fusion, tracker, MQTT on an
 * embedded broker) with a deterministic spectral test encoder, scored by the evaluation harness.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { runEval } from '../../src/eval/harness.js';
import { decodePrototype, prototypeFromFiles } from '../../src/fusion/prototype.js';
import { dot } from '../../src/util/vectors.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { tempDir } from '../helpers/agent-config.js';
import { renderSound, spectralEncoders, type SoundSpec } from './helpers/spectral-encoder.js';

const dir = tempDir('few-shot');
const wav = (name: string, x: Float32Array) => {
  const file = join(dir, name);
  writeFileSync(file, encodeWav16({ sampleRateHz: 16000, channels: [x] }));
  return file;
};

// Examples: three short whistles at slightly different pitches and noise.
const examples = [2400, 2500, 2600].map((pitchHz, i) =>
  wav(`example-${i}.wav`, renderSound({ seconds: 3, sound: { kind: 'whistle', pitchHz }, seed: 10 + i })),
);
// Held out: 12 s, the sound between 4 and 9 s.
const scene = (name: string, sound: SoundSpec, seed: number) =>
  wav(name, renderSound({ seconds: 12, sound, fromS: 4, toS: 9, seed }));
const heldOut = scene('held-out-whistle.wav', { kind: 'whistle', pitchHz: 2550 }, 99);
const different = scene('hum.wav', { kind: 'hum', pitchHz: 120 }, 98);

async function config(recording: string, protoFile: string) {
  const cfg: ConfigInput = {
    deviceId: 'few-shot',
    stateDir: join(dir, 'state'),
    sensors: [{ id: 'mic', modality: 'audio', driver: 'replay', file: recording, speed: 0, loop: false }],
    labels: [{ name: 'whistle', examples: [{ file: protoFile }], minCosine: 0.6 }],
    scoring: { threshold: 0.5 },
    events: { minWindows: 2, endWindows: 2, updateIntervalMs: 0, cooldownMs: 0 },
  };
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(cfg));
  return loadConfig(file);
}

test('a label built from example recordings fires on a held-out recording of the same sound, not on a different one', async () => {
  const encoders = spectralEncoders();
  const proto = await prototypeFromFiles({ encoders, modality: 'audio', files: examples });
  assert.equal(proto.sources.length, 3);
  assert.ok(proto.windows >= 3, 'every example contributes windows');
  const protoFile = join(dir, 'whistle.proto.json');
  writeFileSync(protoFile, JSON.stringify(proto));

  // The known embeddings: the held-out whistle is close to the prototype, the hum is not.
  const v = decodePrototype(proto, 'proto').vector;
  const [whistleProto, humProto] = await Promise.all(
    [heldOut, different].map(async (f) =>
      decodePrototype(await prototypeFromFiles({ encoders, modality: 'audio', files: [f] }), f),
    ),
  );
  assert.ok(dot(v, whistleProto!.vector) > dot(v, humProto!.vector) + 0.3);

  const truth = [{ label: 'whistle', startMs: 4000, endMs: 9000 }];
  const same = await runEval({ config: await config(heldOut, protoFile), encoders, truth });
  console.log(`held-out whistle:\n${same.table}`);
  const row = same.metrics.labels.find((r) => r.label === 'whistle')!;
  assert.equal(row.truePositives, 1, 'the held-out whistle is detected');
  assert.equal(row.falsePositives, 0);
  assert.equal(row.recall, 1);
  assert.ok(row.startError!.meanAbsMs <= 2000 && row.endError!.meanAbsMs <= 2000, 'timing within a window');
  const start = same.events.find((e) => e.type === 'start')!;
  assert.deepEqual(
    start.contributions.map((c) => [c.sensorId, c.modality]),
    [['mic', 'audio']],
  );

  const other = await runEval({ config: await config(different, protoFile), encoders, truth: [] });
  console.log(`hum (different sound):\n${other.table}`);
  assert.equal(other.detected.length, 0, 'the hum does not fire the whistle label');
});
