/**
 * MQTT 5 response topics over a real Mosquitto (issue 14 item 4): a request can only have its
 * answer published below `<base>/<deviceId>/response/` or a configured prefix, never into the
 * agent's own data topics, Home Assistant's trees or another device's request topic. A request
 * naming a refused response topic is not handled; it is answered RESPONSE_TOPIC_INVALID on the
 * default response topic.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { parseConfig } from '../../src/config/load.js';
import { LabelSchema } from '../../src/config/schema.js';
import type { ResponsePayload } from '../../src/mqtt/payloads.js';
import { tempDir } from '../helpers/agent-config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';
import { startHarness } from './fixtures/api-harness.js';

let broker: Mosquitto;
let client: MqttClient;
before(async () => {
  broker = await startMosquitto();
  client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
});
after(async () => {
  await client.endAsync(true);
  await broker.close();
});

const HA = {
  enabled: true,
  discoveryPrefix: 'homeassistant',
  statusTopic: 'homeassistant/status',
} as const;

test('a response topic outside <base>/<id>/response/ and the configured prefixes is refused; nothing is published there', async () => {
  const id = 'rt-dev';
  const h = await startHarness({
    url: broker.url,
    deviceId: id,
    stateDir: tempDir('rt'),
    configLabels: [LabelSchema.parse({ name: 'dog', prompts: ['a dog barking'] })],
    limits: { requireSigned: true },
    responseTopicPrefixes: ['apps/replies/'],
    homeAssistant: HA,
  });
  const all = await startCollector({ url: broker.url, filter: ['#'] });
  try {
    const hostile = [
      `edgebind/${id}/events`,
      `edgebind/${id}/status`,
      `edgebind/${id}/labels`,
      `edgebind/${id}/health`,
      `edgebind/${id}/labels/dog/state`,
      `edgebind/other-device/request/labels/set`,
      `edgebind/groups/kitchen/request/labels/set`,
      `edgebind/other-device/response/labels/get`,
      `edgebind/${id}/response/`,
      'homeassistant/event/edgebind_rt-dev/dog/config',
      'homeassistant/status',
      'elsewhere/topic',
      'apps/replies/',
      `apps/replies/${'x'.repeat(300)}`,
    ];
    for (const [i, topic] of hostile.entries()) {
      // Unsigned, although requireSigned: its error must still not land on the hostile topic.
      client.publish(
        `edgebind/${id}/request/labels/set`,
        JSON.stringify({ transaction: `bad-${i}`, labels: [] }),
        { qos: 1, properties: { responseTopic: topic, correlationData: Buffer.from(`c${i}`) } },
      );
      const answer = await all.waitFor(
        (m) =>
          m.topic === `edgebind/${id}/response/labels/set` &&
          (m.json as ResponsePayload | undefined)?.transaction === `bad-${i}`,
      );
      const r = answer.json as ResponsePayload;
      assert.equal(r.status, 'error', topic);
      assert.equal(r.code, 'RESPONSE_TOPIC_INVALID', topic);
      assert.match(r.error!, /response topic .* refused/);
      assert.equal(r.problems?.[0]?.path, 'responseTopic (MQTT 5 property)');
    }
    assert.equal(h.api.refusedResponseTopics, hostile.length);
    assert.equal(h.service.current().version, 0, 'nothing was applied');

    // Allowed: below the device's own response tree, and below a configured prefix. A request
    // there is handled (here refused for its missing signature, as requireSigned says).
    const allowed = [`edgebind/${id}/response/app-1/${randomUUID()}`, `apps/replies/${randomUUID()}`];
    for (const topic of allowed) {
      client.publish(`edgebind/${id}/request/labels/get`, JSON.stringify({ transaction: topic }), {
        qos: 1,
        properties: { responseTopic: topic, correlationData: Buffer.from('ok') },
      });
      const m = await all.waitFor((x) => x.topic === topic);
      const r = m.json as ResponsePayload;
      assert.equal(r.code, 'SIGNATURE_REQUIRED');
      assert.equal(r.transaction, topic);
    }
    // Messages from one client arrive in order: every refused request was answered before these,
    // so whatever reached a hostile topic has arrived by now.
    for (const topic of hostile) {
      const leaked = all.messages.filter((m) => m.topic === topic && !m.retain);
      assert.deepEqual(
        leaked.map((m) => m.text.slice(0, 80)),
        [],
        `nothing may be published on ${topic.slice(0, 60)}`,
      );
    }
    // The event stream holds no message without seq (the symptom the issue reports).
    for (const m of all.messages.filter((x) => x.topic === `edgebind/${id}/events`))
      assert.equal(typeof (m.json as { seq?: unknown }).seq, 'number');
  } finally {
    await all.close();
    await h.stop();
  }
});

test('a configured prefix below mqtt.baseTopic is a config error naming its key path', () => {
  const dir = tempDir('rt-config');
  const rec = join(dir, 'a.wav');
  writeFileSync(rec, '');
  assert.throws(
    () =>
      parseConfig(
        [
          'sensors: [{ id: mic, driver: replay, modality: audio, file: a.wav }]',
          'remote: { responseTopicPrefixes: ["edgebind/replies/"] }',
        ].join('\n'),
        join(dir, 'c.yaml'),
      ),
    (err: Error) => /remote\.responseTopicPrefixes\[0\]: is below mqtt\.baseTopic/.test(err.message),
  );
});
