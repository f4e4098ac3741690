/**
 * Issue 17 item 10, the remote label API's rough edges, on the whole agent (startAgent with the
 * test pack, a replayed microphone, Mosquitto), each request sent as a client sends it:
 *  - labels/get with an empty payload answers the set;
 *  - a bad `add[0]` is reported at `$.add[0]…`, a path into the request;
 *  - a patch with two problems reports both, worded as every op is, shape and names together;
 *  - a `label from-example` prototype file goes into `examples[].prototype` as it is;
 *  - labels/test says which span of windows it scored.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startAgent } from '../../src/main.js';
import { captureLogger } from '../helpers/log-capture.js';
import { labelsHeardBy, REPO, sampleConfig, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { brokerWithRequester, REPLY_PREFIX } from './fixtures/api-harness.js';

const mq = brokerWithRequester();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');

test('the label API on a running agent: empty get, request paths, every problem, prototypes as they are, the scored span', async () => {
  const dir = tempDir('label-rough-edges');
  const stateDir = join(dir, 'state');
  const file = join(dir, 'agent.yaml');
  const cfg = sampleConfig({
    stateDir,
    deviceId: 'rough',
    mqtt: { broker: mq.broker.url, protocolVersion: 5 },
    remote: { responseTopicPrefixes: [REPLY_PREFIX], testWindows: 8 },
  });
  cfg.sensors = [
    {
      id: 'mic',
      modality: 'audio',
      file: join(SAMPLES, 'room-audio.wav'),
      driver: 'replay',
      speed: 4,
      loop: true,
    },
  ];
  const labels = labelsHeardBy(cfg) ?? [];
  cfg.labels = labels;
  writeFileSync(file, toYaml(cfg));

  // The prototype a user makes, with the pack the agent runs (the generated test pack).
  const protoFile = join(dir, 'room.json');
  const made = spawnSync(
    process.execPath,
    [
      '--import',
      TSX,
      CLI,
      'label',
      'from-example',
      '--pack',
      'test',
      '-m',
      'audio',
      '--state-dir',
      stateDir,
      '-o',
      protoFile,
      join(SAMPLES, 'room-audio.wav'),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(made.status, 0, made.stderr);
  assert.match(made.stderr, /over MQTT: examples: \[\{ prototype: <the file's content> \}\]/);
  const prototype = JSON.parse(readFileSync(protoFile, 'utf8')) as Record<string, unknown>;

  const config = await loadConfig(file);
  const { logger } = captureLogger('info');
  const startedAt = Date.now();
  const agent = await startAgent({ config, logger });
  const topic = (op: string) => `edgebind/rough/request/${op}`;
  try {
    const deadline = Date.now() + 10_000;
    while (!agent.stats().mqtt.connected && Date.now() < deadline) await sleep(50);
    await sleep(200); // the request subscription follows CONNACK

    // labels/get with an empty payload (mosquitto_pub -n).
    const get = await mq.requester.request(topic('labels/get'), Buffer.alloc(0));
    assert.equal(get.status, 'ok', JSON.stringify(get));
    const names = (get.data as { labels: { name: string }[] }).labels.map((l) => l.name);
    assert.deepEqual(
      names,
      labels.map((l) => l.name),
    );

    // A bad add[0]: its path is in the request, not in the merged set.
    const bad = await mq.requester.request(topic('labels/patch'), {
      add: [{ name: 'Bad Name', prompts: ['x'] }],
    });
    assert.equal(bad.code, 'REQUEST_INVALID');
    assert.deepEqual(
      bad.problems?.map((p) => p.path),
      ['$.add[0].name'],
    );

    // Two problems in one patch: both, in the wording of every op.
    const two = await mq.requester.request(topic('labels/patch'), {
      remove: ['ghost'],
      add: [{ name: 'ok_name', prompts: ['a kettle'], threshold: 0.3, offThreshold: 0.6 }],
    });
    assert.equal(two.code, 'REQUEST_INVALID');
    assert.equal(two.error, 'invalid labels/patch request: 2 problem(s)');
    assert.deepEqual(
      two.problems?.map((p) => p.path),
      ['$.remove[0]', '$.add[0].offThreshold'],
    );

    // A wrong shape beside unknown names: all three at once, the shape's first (the walk-through
    // of issue 17 item 10 got the threshold alone).
    const mixed = await mq.requester.request(topic('labels/patch'), {
      remove: ['missing'],
      replace: [{ name: 'ghost', prompts: ['a ghost'], threshold: 5 }],
    });
    assert.equal(mixed.code, 'REQUEST_INVALID');
    assert.equal(mixed.error, 'invalid labels/patch request: 3 problem(s)');
    assert.deepEqual(
      mixed.problems?.map((p) => [p.path, p.message.startsWith('no label') ? p.message : 'shape']),
      [
        ['$.replace[0].threshold', 'shape'],
        ['$.remove[0]', 'no label "missing"'],
        ['$.replace[0].name', 'no label "ghost"'],
      ],
    );

    // A local file is refused remotely, and the message says what to send instead.
    const byFile = await mq.requester.request(topic('labels/patch'), {
      add: [{ name: 'room', examples: [{ file: protoFile }] }],
    });
    assert.equal(byFile.code, 'REQUEST_INVALID');
    assert.match(byFile.problems![0]!.message, /send the prototype file's content as `prototype`/);

    // The prototype file's content, as it is.
    const added = await mq.requester.request(topic('labels/patch'), {
      transaction: 'proto',
      add: [{ name: 'room', examples: [{ prototype }] }],
    });
    assert.equal(added.status, 'ok', JSON.stringify(added));
    assert.deepEqual((added.data as { added: string[] }).added, ['room']);
    const after = await mq.requester.request(topic('labels/get'), Buffer.alloc(0));
    const room = (
      after.data as { labels: { name: string; examples: { prototype?: unknown }[] }[] }
    ).labels.find((l) => l.name === 'room');
    assert.deepEqual(room?.examples[0]?.prototype, prototype, 'kept as sent');

    // A prototype whose vector is broken is refused at its path in the request.
    const broken = await mq.requester.request(topic('labels/patch'), {
      add: [{ name: 'room2', examples: [{ prototype: { ...prototype, vector: 'AAAAAA==' } }] }],
    });
    assert.equal(broken.code, 'REQUEST_INVALID');
    assert.equal(broken.problems![0]!.path, '$.add[0].examples[0].prototype.vector');

    // labels/test says which windows it scored: when, and from which sensors.
    let result:
      | {
          windows: number;
          span: {
            from: string;
            to: string;
            sensors: { sensorId: string; modality: string; windows: number }[];
          } | null;
          labels: { name: string; windows: number; maxScore: number }[];
        }
      | undefined;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const r = await mq.requester.request(topic('labels/test'), {
        labels: [{ name: 'room', examples: [{ prototype }] }],
      });
      assert.equal(r.status, 'ok', JSON.stringify(r));
      result = (r.data as { result: typeof result }).result;
      if (result && result.windows >= 8) break;
      await sleep(200);
    }
    assert.ok(result && result.windows === 8, 'the ring holds remote.testWindows windows');
    const span = result.span!;
    assert.deepEqual(span.sensors, [{ sensorId: 'mic', modality: 'audio', windows: 8 }]);
    const from = Date.parse(span.from);
    const to = Date.parse(span.to);
    assert.ok(from >= startedAt - 1000 && from < to && to <= Date.now() + 1000, `${span.from} … ${span.to}`);
    assert.equal(result.labels[0]!.windows, 8);
    assert.ok(result.labels[0]!.maxScore > 0);
  } finally {
    await agent.stop();
  }
});
