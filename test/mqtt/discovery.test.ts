/**
 * Home Assistant MQTT discovery: payloads checked against Home Assistant's documented required
 * fields, then live against Mosquitto: announced retained, re-announced on HA's birth message,
 * removed (empty retained config) when a label is removed, without re-sending the other labels'
 * configs; connectivity entities read a retained per-sensor state.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HA_BINARY_SENSOR_CLASSES, LabelSchema } from '../../src/config/schema.js';
import {
  DEVICE_CLASS_WORDS,
  discoveryMessages,
  EVENT_TYPES,
  labelDeviceClass,
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
const TOPIC = /^homeassistant\/(binary_sensor|event|sensor)\/([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_-]+)\/config$/;
const REQUIRED: Record<string, string[]> = {
  binary_sensor: ['state_topic'],
  event: ['state_topic', 'event_types'],
  sensor: ['state_topic'],
};
/** From /integrations/binary_sensor/#device-class (the classes a binary_sensor accepts). */
const HA_CLASSES = new Set(HA_BINARY_SENSOR_CLASSES);

function checkDiscovery(topic: string, payload: Record<string, unknown>): void {
  const m = TOPIC.exec(topic);
  assert.ok(m, `discovery topic ${topic} is <prefix>/<component>/<node_id>/<object_id>/config`);
  const component = m[1]!;
  for (const key of REQUIRED[component]!) assert.ok(key in payload, `${component} needs ${key}`);
  assert.equal(typeof payload.state_topic, 'string');
  assert.ok(!/[+#]/.test(payload.state_topic as string), 'state_topic has no wildcards');
  if (component === 'event') {
    assert.ok(Array.isArray(payload.event_types) && payload.event_types.length > 0);
  } else if (component === 'sensor') {
    assert.equal(typeof payload.value_template, 'string');
  } else {
    if ('device_class' in payload) assert.ok(HA_CLASSES.has(payload.device_class as never));
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
  const msgs = discoveryMessages(opts, [{ name: 'dog_barking' }, { name: 'alarm' }]);
  assert.equal(msgs.length, 6);
  const ids = new Set<string>();
  for (const m of msgs) {
    const payload = JSON.parse(m.payload) as Record<string, unknown>;
    checkDiscovery(m.topic, payload);
    ids.add(payload.unique_id as string);
  }
  assert.equal(ids.size, 6, 'unique ids are unique');
  const event = JSON.parse(msgs[1]!.payload) as { event_types: string[]; state_topic: string };
  assert.deepEqual(event.event_types, [...EVENT_TYPES]);
  assert.equal(event.state_topic, 'edgebind/kitchen-1/labels/dog_barking/event');
  const score = JSON.parse(msgs[2]!.payload) as Record<string, unknown>;
  assert.equal(msgs[2]!.topic, 'homeassistant/sensor/edgebind_kitchen-1/_score_dog_barking/config');
  assert.equal(score.state_topic, 'edgebind/kitchen-1/labels/dog_barking/event');
  assert.equal(score.value_template, '{{ value_json.score }}');
  assert.equal(score.state_class, 'measurement');
  const removal = removalMessages(opts, 'alarm');
  assert.deepEqual(
    removal.map((m) => m.payload),
    ['', '', ''],
  );
  assert.deepEqual(
    removal.map((m) => m.topic),
    msgs.slice(3).map((m) => m.topic),
    'removal clears exactly the label entities',
  );
});

test('device class: explicit setting first, then the documented words, then audio-only = sound', () => {
  const label = (input: Record<string, unknown>) => LabelSchema.parse({ prompts: ['x'], ...input });
  assert.equal(labelDeviceClass(label({ name: 'fire_alarm' })), 'smoke');
  assert.equal(labelDeviceClass(label({ name: 'people-walking' })), 'occupancy');
  assert.equal(labelDeviceClass(label({ name: 'glass_breaking' })), 'tamper');
  assert.equal(labelDeviceClass(label({ name: 'person_fall' })), 'safety', 'first match in table order');
  // The demo's own labels (examples/demo.yaml): a fall is a safety event, not occupancy.
  assert.equal(labelDeviceClass(label({ name: 'person_falling' })), 'safety');
  assert.equal(labelDeviceClass(label({ name: 'device_tampering' })), 'tamper');
  assert.equal(labelDeviceClass(label({ name: 'washing_machine' })), undefined, 'whole words only');
  assert.equal(labelDeviceClass(label({ name: 'dog_barking', modalities: ['audio'] })), 'sound');
  assert.equal(labelDeviceClass(label({ name: 'dog_barking', modalities: ['audio', 'imu'] })), undefined);
  assert.equal(
    labelDeviceClass(label({ name: 'fire', homeAssistant: { deviceClass: 'heat' } })),
    'heat',
    'the config wins',
  );
  assert.equal(labelDeviceClass(label({ name: 'fire', homeAssistant: { deviceClass: 'none' } })), undefined);
  assert.ok(
    !LabelSchema.safeParse({ name: 'x', prompts: ['x'], homeAssistant: { deviceClass: 'fire' } }).success,
  );
  for (const [cls] of DEVICE_CLASS_WORDS) assert.ok(HA_CLASSES.has(cls), `${cls} is a Home Assistant class`);
  const [binary] = discoveryMessages(
    { prefix: 'homeassistant', topics: deviceTopics('edgebind', 'k'), swVersion: '1' },
    [label({ name: 'smoke' }), label({ name: 'cat' })],
  );
  assert.equal((JSON.parse(binary!.payload) as { device_class?: string }).device_class, 'smoke');
});

test('a connectivity entity per sensor reads its retained state and never collides with a label', () => {
  const topics = deviceTopics('edgebind', 'kitchen-1');
  const opts = { prefix: 'homeassistant', topics, swVersion: '1.2.3' };
  const [msg, ...rest] = sensorDiscoveryMessages(opts, ['thermal-1']);
  assert.equal(rest.length, 0);
  assert.equal(msg!.topic, 'homeassistant/binary_sensor/edgebind_kitchen-1/_sensor_thermal-1/config');
  const payload = JSON.parse(msg!.payload) as Record<string, unknown>;
  checkDiscovery(msg!.topic, payload);
  assert.equal(payload.device_class, 'connectivity');
  assert.equal(payload.entity_category, 'diagnostic');
  assert.equal(payload.state_topic, 'edgebind/kitchen-1/sensors/thermal-1/state');
  assert.equal(payload.value_template, "{{ 'ON' if value in ('ok', 'degraded') else 'OFF' }}");
  // Label names start with [a-z0-9]: no label's object id can be `_sensor_…`.
  assert.ok(!LabelSchema.safeParse({ name: '_sensor_thermal-1', prompts: ['x'] }).success);
  const labelIds = discoveryMessages(opts, [{ name: 'sensor_thermal-1' }]).map(
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

    // Everything retained has arrived once the birth's re-announcement has (one publisher, in order).
    await sub.waitFor(
      (m) => m.topic === 'homeassistant/sensor/edgebind_ha-dev/_score_cat/config' && !m.retain,
    );
    sub.clear();
    const r = await requester.request(h.topics.request('labels/patch'), { remove: ['cat'] });
    assert.equal(r.status, 'ok');
    // A later change is the barrier: its configs come after anything the removal sent.
    const r2 = await requester.request(h.topics.request('labels/patch'), {
      add: [{ name: 'smoke', prompts: ['smoke'] }],
    });
    assert.equal(r2.status, 'ok');
    await sub.waitFor((m) => m.topic === 'homeassistant/sensor/edgebind_ha-dev/_score_smoke/config');
    assert.deepEqual(
      sub.messages.map((m) => [
        m.topic.replace('homeassistant/', '').replace('/edgebind_ha-dev/', ' '),
        m.text === '',
      ]),
      [
        ['binary_sensor cat/config', true],
        ['event cat_event/config', true],
        ['sensor _score_cat/config', true],
        ['binary_sensor smoke/config', false],
        ['event smoke_event/config', false],
        ['sensor _score_smoke/config', false],
      ],
      "only the removed label's configs are emptied, only the new label's sent; dog's are not re-sent",
    );
    const smoke = sub.messages[3]!.json as Record<string, unknown>;
    checkDiscovery(sub.messages[3]!.topic, smoke);
    assert.equal(smoke.device_class, 'smoke');
  } finally {
    await requester.close();
    await sub.close();
    await h.stop();
  }
});

test('connectivity entities read a retained per-sensor state that follows the sensor', async () => {
  const states: Record<string, 'ok' | 'degraded' | 'down'> = { 'imu-1': 'down' };
  const h = await startHarness({
    url: broker.url,
    deviceId: 'ha-sensors',
    stateDir: tempDir('ha-sensors'),
    homeAssistant: { enabled: true, discoveryPrefix: 'homeassistant', statusTopic: 'homeassistant/status' },
    sensors: { states, disabled: ['old-1'] },
  });
  const stateTopic = h.topics.sensorState('imu-1');
  try {
    states['imu-1'] = 'ok';
    h.api.sensorStatesChanged();
    const live = await startCollector({ url: broker.url, filter: h.topics.sensorState('+') });
    try {
      await live.waitFor((m) => m.topic === stateTopic && m.text === 'ok');
      states['imu-1'] = 'down';
      h.api.sensorStatesChanged();
      h.api.sensorStatesChanged(); // no change: nothing more is sent
      states['imu-1'] = 'degraded';
      h.api.sensorStatesChanged();
      await live.waitFor((m) => m.topic === stateTopic && m.text === 'degraded');
      assert.deepEqual(
        live.messages.filter((m) => m.topic === stateTopic && !m.retain).map((m) => m.text),
        ['down', 'degraded'],
      );
    } finally {
      await live.close();
    }
    // Home Assistant, restarted, subscribes afresh: the retained state is there at once.
    const late = await startCollector({ url: broker.url, filter: stateTopic });
    try {
      const m = await late.waitFor((x) => x.topic === stateTopic);
      assert.equal(m.retain, true);
      assert.equal(m.text, 'degraded');
    } finally {
      await late.close();
    }
    const config = await startCollector({
      url: broker.url,
      filter: 'homeassistant/binary_sensor/edgebind_ha-sensors/_sensor_imu-1/config',
    });
    try {
      const c = await config.waitFor(() => true);
      assert.equal((c.json as { state_topic: string }).state_topic, stateTopic);
    } finally {
      await config.close();
    }
  } finally {
    await h.stop();
  }
});
