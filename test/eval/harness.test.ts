import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { readTruth, runEval } from '../../src/eval/harness.js';
import { evaluate, formatMetrics } from '../../src/eval/metrics.js';
import type { ScoreInspection } from '../../src/fusion/fusion.js';
import { prototypeFromFiles } from '../../src/fusion/prototype.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { REPO, sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { renderSound, spectralEncoders } from '../fusion/helpers/spectral-encoder.js';

const dir = tempDir('eval');

test('metrics: one-to-one matching by overlap, precision, recall and signed timing errors', () => {
  const m = evaluate(
    [
      { id: '1', label: 'dog', startMs: 900, endMs: 3200 },
      { id: '2', label: 'dog', startMs: 3300, endMs: 3900 }, // same interval again: a false positive
      { id: '3', label: 'dog', startMs: 20_000, endMs: 21_000 },
      { id: '4', label: 'alarm', startMs: 5500, endMs: 9000 },
    ],
    [
      { label: 'dog', startMs: 1000, endMs: 3000 },
      { label: 'dog', startMs: 10_000, endMs: 12_000 },
      { label: 'alarm', startMs: 5000, endMs: 9500 },
      { label: 'person', startMs: 0, endMs: 1000 },
    ],
    { toleranceMs: 500 },
  );
  const dog = m.labels.find((r) => r.label === 'dog')!;
  assert.deepEqual([dog.truePositives, dog.falsePositives, dog.falseNegatives], [1, 2, 1]);
  assert.equal(dog.precision, 1 / 3);
  assert.equal(dog.recall, 1 / 2);
  assert.deepEqual(dog.startError, { meanMs: -100, meanAbsMs: 100, maxAbsMs: 100 });
  assert.deepEqual(dog.endError, { meanMs: 200, meanAbsMs: 200, maxAbsMs: 200 });
  const person = m.labels.find((r) => r.label === 'person')!;
  assert.equal(person.precision, null, 'no events: precision undefined, printed as -');
  assert.equal(person.recall, 0);
  assert.equal(m.total.truePositives, 2);
  assert.equal(m.total.truth, 4);
  const table = formatMetrics(m);
  assert.match(table, /^label\s+truth\s+events\s+TP\s+FP\s+FN\s+precision\s+recall/);
  assert.equal(table.split('\n').length, 2 + 3 + 2);
});

test('harness on two microphones: one stops mid-event, the event keeps flowing from the other', async () => {
  const wav = (name: string, x: Float32Array) => {
    const file = join(dir, name);
    writeFileSync(file, encodeWav16({ sampleRateHz: 16000, channels: [x] }));
    return file;
  };
  const encoders = spectralEncoders(11);
  const example = wav('example.wav', renderSound({ seconds: 3, sound: { kind: 'whistle' }, seed: 5 }));
  const protoFile = join(dir, 'whistle.json');
  writeFileSync(
    protoFile,
    JSON.stringify(await prototypeFromFiles({ encoders, modality: 'audio', files: [example] })),
  );
  const scene = { seconds: 14, sound: { kind: 'whistle' as const, pitchHz: 2450 }, fromS: 4, toS: 10 };
  const near = wav('near.wav', renderSound({ ...scene, seed: 1 }));
  // The second microphone dies at 6 s (its recording ends there).
  const far = wav('far.wav', renderSound({ ...scene, seed: 2 }).subarray(0, 6 * 16000));
  const truthFile = join(dir, 'truth.json');
  writeFileSync(truthFile, JSON.stringify([{ label: 'whistle', startMs: 4000, endMs: 10_000 }]));
  const replay = { driver: 'replay' as const, modality: 'audio' as const, speed: 0, loop: false };
  const cfg: ConfigInput = {
    deviceId: 'eval-two-mics',
    stateDir: join(dir, 'state'),
    sensors: [
      { id: 'near', file: near, ...replay },
      { id: 'far', file: far, ...replay },
    ],
    labels: [{ name: 'whistle', examples: [{ file: protoFile }], minCosine: 0.6 }],
    fusion: { mode: 'score', toleranceMs: 1500 },
    events: { minWindows: 2, endWindows: 2, updateIntervalMs: 1000, cooldownMs: 0 },
  };
  const file = join(dir, 'two-mics.yaml');
  writeFileSync(file, stringify(cfg));
  const report = await runEval({
    config: await loadConfig(file),
    encoders,
    truth: await readTruth(truthFile),
  });
  console.log(`two microphones, one lost at 6 s:\n${report.table}`);
  const row = report.metrics.labels[0]!;
  assert.deepEqual([row.truePositives, row.falsePositives, row.falseNegatives], [1, 0, 0]);
  assert.ok(row.endError!.meanAbsMs <= 2000, 'the event ends with the sound, not with the lost microphone');
  const updates = report.events.filter((e) => e.type === 'update');
  const sensorsOf = (e: (typeof updates)[number]) => e.contributions.map((c) => c.sensorId);
  assert.ok(updates.length >= 3);
  assert.deepEqual(sensorsOf(report.events.find((e) => e.type === 'start')!), ['far', 'near']);
  const last = report.events.find((e) => e.type === 'end')!;
  assert.equal(last.contributions.find((c) => c.sensorId === 'far')!.modality, 'audio');
});

test('harness on the bundled recordings with the test pack is deterministic across all four sensors (time-ordered merge)', async () => {
  const file = join(dir, 'samples.yaml');
  writeFileSync(file, toYaml(sampleConfig({ stateDir: join(dir, 'state'), deviceId: 'eval-samples' })));
  const config = await loadConfig(file);
  const truth = [
    { label: 'alarm_beeping', startMs: 4000, endMs: 10_000 },
    { label: 'person', startMs: 8000, endMs: 20_000 },
  ];
  const strip = (r: Awaited<ReturnType<typeof runEval>>) =>
    r.events.map(({ id, seq: _seq, clip, ...rest }: { id: string; seq?: number; clip?: string }) => {
      // Ids are UUIDv7s (new each run); an event's clip is named by its id.
      assert.equal(clip, id);
      return rest;
    });
  const run = async () => {
    const scores: ScoreInspection[] = [];
    const report = await runEval({ config, truth, onScores: (s) => scores.push(s) });
    return { report, scores };
  };
  const first = await run();
  const second = await run();
  console.log(`bundled samples, random-weight test pack:\n${first.report.table}`);
  assert.ok(first.report.events.length > 0, 'the samples produce events');
  assert.deepEqual(strip(second.report), strip(first.report), 'same events, same scores, same times');
  // Every window of every sensor, scored in one time order, the same on every run.
  assert.deepEqual(second.scores, first.scores);
  assert.deepEqual([...new Set(first.scores.map((s) => s.sensorId))].sort(), [
    'depth',
    'imu',
    'mic',
    'thermal',
  ]);
  assert.ok(
    first.scores.every((s, i) => i === 0 || s.endMs >= first.scores[i - 1]!.endMs),
    'time-ordered merge',
  );
  const first_ = first.report;
  assert.deepEqual(
    first_.metrics.labels.map((r) => r.label),
    ['alarm_beeping', 'dog_barking', 'machine_vibration', 'person'],
  );
});

test('harness: a broken recording fails the run instead of hanging on retries', async () => {
  const bad = join(dir, 'broken.wav');
  writeFileSync(bad, 'not a wav file at all');
  const cfg: ConfigInput = {
    deviceId: 'eval-broken',
    stateDir: join(dir, 'state'),
    sensors: [{ id: 'mic', modality: 'audio', driver: 'replay', file: bad, speed: 0, loop: false }],
    labels: [{ name: 'x', prompts: ['x'] }],
  };
  const file = join(dir, 'broken.yaml');
  writeFileSync(file, stringify(cfg));
  await assert.rejects(
    runEval({ config: await loadConfig(file), encoders: spectralEncoders(), truth: [] }),
    /broken\.wav/,
  );
});

test('`edgebind eval-events` prints the table for a config and a truth file', async () => {
  const file = join(dir, 'cli.yaml');
  writeFileSync(file, toYaml(sampleConfig({ stateDir: join(dir, 'state'), deviceId: 'eval-cli' })));
  const truth = join(dir, 'cli-truth.json');
  writeFileSync(truth, JSON.stringify([{ label: 'alarm_beeping', startMs: 4000, endMs: 10_000 }]));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(REPO, 'src/cli/index.ts'),
      'eval-events',
      '-c',
      file,
      '-t',
      truth,
    ],
    { cwd: dir },
  );
  assert.match(stdout, /^label\s+truth\s+events\s+TP\s+FP\s+FN\s+precision\s+recall/);
  assert.match(stdout, /\nalarm_beeping\s+1\s/);
  assert.match(stdout, /\nall\s+1\s/);
});
