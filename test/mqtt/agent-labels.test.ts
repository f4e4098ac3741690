/**
 * Remote labels on the whole agent (startAgent with the test pack, replayed samples, Mosquitto):
 * labels/test scores against recent windows, labels/set swaps the running set (events of removed
 * labels get their end, those of kept labels go on), and after a restart the persisted set is used
 * instead of the config file's.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { startAgent } from '../../src/main.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { captureLogger } from '../helpers/log-capture.js';
import { labelsHeardBy, sampleConfig, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { brokerWithRequester, REPLY_PREFIX } from './fixtures/api-harness.js';

const mq = brokerWithRequester();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('labels/test and labels/set on a running agent; the persisted set survives a restart', async () => {
  const dir = tempDir('agent-labels');
  const file = join(dir, 'agent.yaml');
  const cfg = sampleConfig({
    stateDir: join(dir, 'state'),
    deviceId: 'agent-labels',
    mqtt: { broker: mq.broker.url, protocolVersion: 5 },
    // The test requester's MQTT 5 response topics (test/replies/<uuid>).
    remote: { responseTopicPrefixes: [REPLY_PREFIX] },
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
  cfg.labels = labelsHeardBy(cfg);
  writeFileSync(file, toYaml(cfg));
  const config = await loadConfig(file);
  const { logger, lines } = captureLogger('info');
  const events: EventPayload[] = [];
  const agent = await startAgent({ config, logger, onEvent: (e) => events.push(e) });
  const topic = (op: string) => `edgebind/agent-labels/request/${op}`;
  const online = async (a: { stats(): { mqtt: { connected: boolean } } }) => {
    const deadline = Date.now() + 10_000;
    while (!a.stats().mqtt.connected && Date.now() < deadline) await sleep(50);
    await sleep(200); // the request subscription follows CONNACK
  };
  try {
    await online(agent);
    let tested:
      { windows: number; labels: { name: string; windows: number; maxScore: number }[] } | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await mq.requester.request(topic('labels/test'), {
        labels: [{ name: 'kettle', prompts: ['a kettle whistling'] }],
      });
      assert.equal(r.status, 'ok', JSON.stringify(r));
      tested = (r.data as { result: typeof tested }).result;
      if (tested && tested.windows >= 3) break;
      await sleep(200);
    }
    assert.ok(tested && tested.windows >= 3, 'labels/test scores recent windows');
    assert.equal(tested.labels[0]!.name, 'kettle');
    assert.ok(tested.labels[0]!.windows >= 3 && tested.labels[0]!.maxScore > 0);

    const kettle = {
      name: 'kettle',
      prompts: ['a kettle whistling'],
      modalities: ['audio'],
      threshold: 0.01,
    };
    const r = await mq.requester.request(topic('labels/set'), { transaction: 'swap', labels: [kettle] });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const swapAt = events.length;
    const until = Date.now() + 20_000;
    while (!events.slice(swapAt).some((e) => e.label === 'kettle') && Date.now() < until) await sleep(100);
    const later = events.slice(swapAt);
    assert.ok(
      later.some((e) => e.label === 'kettle'),
      'the new label fires',
    );
    const opened = new Set(
      events
        .slice(0, swapAt)
        .filter((e) => e.type === 'start')
        .map((e) => e.id),
    );
    const ended = new Set(events.filter((e) => e.type === 'end').map((e) => e.id));
    for (const id of opened) assert.ok(ended.has(id), `event ${id} opened before the swap got its end`);
    assert.ok(
      later.filter((e) => e.type === 'start').every((e) => e.label === 'kettle'),
      'removed labels start no events',
    );

    // Adding an unrelated label leaves the open kettle event (threshold 0.01: always on) running.
    const ends = new Set(events.filter((e) => e.type === 'end').map((e) => e.id));
    const open = events.filter((e) => e.label === 'kettle' && e.type === 'start' && !ends.has(e.id)).at(-1);
    assert.ok(open, 'a kettle event is open');
    const addAt = events.length;
    const r2 = await mq.requester.request(topic('labels/set'), {
      labels: [kettle, { name: 'doorbell', prompts: ['a doorbell ringing'], modalities: ['audio'] }],
    });
    assert.equal(r2.status, 'ok', JSON.stringify(r2));
    const swapped = events.length; // ends made by the swap are emitted before the response
    const updated = () => events.slice(swapped).some((e) => e.id === open.id && e.type === 'update');
    const updateBy = Date.now() + 20_000;
    while (!updated() && Date.now() < updateBy) await sleep(100);
    const sameId = events.slice(addAt).filter((e) => e.id === open.id);
    assert.ok(
      updated() && sameId.every((e) => e.type === 'update'),
      `the kept label's event goes on after the swap: ${sameId.map((e) => e.type).join(', ')}`,
    );
  } catch (err) {
    console.error(lines.join(''));
    throw err;
  } finally {
    await agent.stop();
  }
  const seqs = events.map((e) => e.seq);
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => seqs[0]! + i),
    'seq grows by one per event',
  );

  lines.length = 0;
  const again = await startAgent({ config, logger });
  try {
    await online(again);
    assert.ok(lines.some((l) => l.includes("override the config file's labels")));
    const got = await mq.requester.request(topic('labels/get'), {});
    assert.deepEqual(
      (got.data as { labels: { name: string }[] }).labels.map((l) => l.name),
      ['kettle', 'doorbell'],
    );
    assert.equal((got.data as { version: number }).version, 2);
  } finally {
    await again.stop();
  }
});
