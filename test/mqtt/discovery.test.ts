/**
 * Home Assistant MQTT discovery: payloads checked against Home Assistant's documented required
 * fields, then live against Mosquitto: announced retained, re-announced on HA's birth message,
 * removed (empty retained config) when a label is removed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LabelSchema } from '../../src/config/schema.js';
import {
  discoveryMessages,
  EVENT_TYPES,
  removalMessages,
  sensorDiscoveryMessages,
  sensorRemovalMessages,
} from '../../src/mqtt/discovery.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { tempDir } from '../helpers/agent-config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';
import { Requester, startHarness } from './fixtures/api-harness.js';

/**
 * From https://www.home-assistant.io/integrations/mqtt/ (discovery topic format, `device`,
 * `origin`), /integrations/binary_sensor.mqtt/ and /integrations/event.mqtt/ (required options).
 */
const TOPIC = /^homeassistant\/(binary_sensor|event)\/([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_-]+)\/config$/;
const REQUIRED: Record<string, string[]> = {
  binary_sensor: ['state_topic'],
  event: ['state_topic', 'event_types'],
};

function checkDiscovery(topic: string, payload: Record<string, unknown>): void {
  const m = TOPIC.exec(topic);
  assert.ok(m, `discovery topic ${topic} is <prefix>/<component>/<node_id>/<object_id>/config`);
  const component = m[1]!;
  for (const key of REQUIRED[component]!) assert.ok(key in payload, `${component} needs ${key}`);
  assert.equal(typeof payload.state_topic, 'string');
  assert.ok(!/[+#]/.test(payload.state_topic as string), 'state_topic has no wildcards');
  if (component === 'event') {
    assert.ok(Array.isArray(payload.event_types) && payload.event_types.length > 0);
  } else {
    assert.equal(payload.payload_on, 'ON');
    assert.equal(payload.payload_off, 'OFF');
  }
  // Entities attached to a device need a unique_id; a device needs identifiers or connections.
  assert.equal(typeof payload.unique_id, 'string');
  const device = payload.device as { identifiers?: unknown; connections?: unknown; name?: unknown };
  assert.ok(
    (Array.isArray(device.identifiers) && device.identifiers.length > 0) || Array.isArray(device.connections),
  );
  assert.equal(typeof device.name, 'string');
  const origin = payload.origin as { name?: unknown } | undefined;
  if (origin) assert.equal(typeof origin.name, 'string', 'origin needs a name');
  assert.equal(typeof payload.availability_topic, 'string');
}

test('discovery payloads carry the fields Home Assistant requires', () => {
  const topics = deviceTopics('edgebind', 'kitchen-1');
  const opts = { prefix: 'homeassistant', topics, swVersion: '1.2.3' };
  const msgs = discoveryMessages(opts, ['dog_barking', 'alarm']);
  assert.equal(msgs.length, 4);
  const ids = new Set<string>();
  for (const m of msgs) {
    const payload = JSON.parse(m.payload) as Record<string, unknown>;
    checkDiscovery(m.topic, payload);
    ids.add(payload.unique_id as string);
  }
  assert.equal(ids.size, 4, 'unique ids are unique');
  const event = JSON.parse(msgs[1]!.payload) as { event_types: string[]; state_topic: string };
  assert.deepEqual(event.event_types, [...EVENT_TYPES]);
  assert.equal(event.state_topic, 'edgebind/kitchen-1/labels/dog_barking/event');
  assert.deepEqual(
    removalMessages(opts, 'alarm').map((m) => m.payload),
    ['', ''],
  );
});

test('a connectivity entity per sensor reads its state from health and never collides with a label', () => {
  const topics = deviceTopics('edgebind', 'kitchen-1');
  const opts = { prefix: 'homeassistant', topics, swVersion: '1.2.3' };
  const [msg, ...rest] = sensorDiscoveryMessages(opts, ['thermal-1']);
  assert.equal(rest.length, 0);
  assert.equal(msg!.topic, 'homeassistant/binary_sensor/edgebind_kitchen-1/_sensor_thermal-1/config');
  const payload = JSON.parse(msg!.payload) as Record<string, unknown>;
  checkDiscovery(msg!.topic, payload);
  assert.equal(payload.device_class, 'connectivity');
  assert.equal(payload.entity_category, 'diagnostic');
  assert.equal(payload.state_topic, topics.health);
  assert.match(String(payload.value_template), /value_json\.sensors/);
  assert.match(String(payload.value_template), /"thermal-1"/);
  // Label names start with [a-z0-9]: no label's object id can be `_sensor_…`.
  assert.ok(!LabelSchema.safeParse({ name: '_sensor_thermal-1', prompts: ['x'] }).success);
  const labelIds = discoveryMessages(opts, ['sensor_thermal-1']).map(
    (m) => (JSON.parse(m.payload) as { unique_id: string }).unique_id,
  );
  assert.ok(!labelIds.includes(payload.unique_id as string));
  assert.deepEqual(sensorRemovalMessages(opts, ['thermal-1']), [{ topic: msg!.topic, payload: '' }]);
});

let broker: Mosquitto;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test('announced retained, re-announced on HA birth, removed with the label', async () => {
  const ha = {
    enabled: true,
    discoveryPrefix: 'homeassistant',
    statusTopic: 'homeassistant/status',
  };
  const h = await startHarness({
    url: broker.url,
    deviceId: 'ha-dev',
    stateDir: tempDir('ha'),
    configLabels: [
      LabelSchema.parse({ name: 'dog', prompts: ['a dog'] }),
      LabelSchema.parse({ name: 'cat', prompts: ['a cat'] }),
    ],
    homeAssistant: ha,
  });
  const sub = await startCollector({ url: broker.url, filter: 'homeassistant/+/+/+/config' });
  const requester = await Requester.connect(broker.url);
  try {
    const dogConfig = 'homeassistant/binary_sensor/edgebind_ha-dev/dog/config';
    const first = await sub.waitFor((m) => m.topic === dogConfig && m.text.length > 0);
    assert.equal(first.retain, true, 'a new subscriber gets the retained config');
    for (const m of sub.messages) checkDiscovery(m.topic, m.json as Record<string, unknown>);
    const count = () => sub.messages.filter((m) => m.topic === dogConfig).length;
    const before = count();
    await requester.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await sub.waitFor(() => count() > before);

    const r = await requester.request(h.topics.request('labels/patch'), { remove: ['cat'] });
    assert.equal(r.status, 'ok');
    await sub.waitFor(
      (m) => m.topic === 'homeassistant/binary_sensor/edgebind_ha-dev/cat/config' && m.text === '',
    );
    await sub.waitFor(
      (m) => m.topic === 'homeassistant/event/edgebind_ha-dev/cat_event/config' && m.text === '',
    );
  } finally {
    await requester.close();
    await sub.close();
    await h.stop();
  }
});
