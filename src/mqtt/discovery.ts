/**
 * Home Assistant MQTT discovery: one device, and per label a `binary_sensor` (ON while an event is
 * open, from `labels/<slug>/state`) and an `event` entity (`start`/`update`/`end`, from
 * `labels/<slug>/event`). Configs are retained at
 * `<prefix>/<component>/<nodeId>/<objectId>/config`; an empty retained config removes an entity.
 * Both follow the agent's availability (`status`). Per sensor a diagnostic `binary_sensor` with
 * device class `connectivity`, read from `sensors.<id>.state` on `health`: OFF while it is down.
 */
import type { DeviceTopics } from './topics.js';

export interface DiscoveryOptions {
  prefix: string;
  topics: DeviceTopics;
  deviceName?: string;
  swVersion: string;
}

export interface RetainedMessage {
  topic: string;
  payload: string;
}

export const EVENT_TYPES = ['start', 'update', 'end'] as const;

export function nodeId(deviceId: string): string {
  return `edgebind_${deviceId}`.replace(/[^A-Za-z0-9_-]/g, '_');
}

function configTopic(o: DiscoveryOptions, component: string, objectId: string): string {
  return `${o.prefix}/${component}/${nodeId(o.topics.deviceId)}/${objectId}/config`;
}

function common(o: DiscoveryOptions) {
  const id = nodeId(o.topics.deviceId);
  return {
    availability_topic: o.topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    device: {
      identifiers: [id],
      name: o.deviceName ?? `edgebind ${o.topics.deviceId}`,
      manufacturer: 'edgebind',
      model: 'edgebind agent',
      sw_version: o.swVersion,
    },
    origin: { name: 'edgebind', sw_version: o.swVersion },
  };
}

/** Discovery configs for every label. */
export function discoveryMessages(o: DiscoveryOptions, labels: readonly string[]): RetainedMessage[] {
  const id = nodeId(o.topics.deviceId);
  const out: RetainedMessage[] = [];
  for (const label of labels) {
    out.push({
      topic: configTopic(o, 'binary_sensor', label),
      payload: JSON.stringify({
        name: label.replace(/[_-]/g, ' '),
        unique_id: `${id}_${label}`,
        state_topic: o.topics.labelState(label),
        payload_on: 'ON',
        payload_off: 'OFF',
        ...common(o),
      }),
    });
    out.push({
      topic: configTopic(o, 'event', `${label}_event`),
      payload: JSON.stringify({
        name: `${label.replace(/[_-]/g, ' ')} event`,
        unique_id: `${id}_${label}_event`,
        state_topic: o.topics.labelEvent(label),
        event_types: [...EVENT_TYPES],
        ...common(o),
      }),
    });
  }
  return out;
}

/** Empty retained configs that remove a label's entities. */
export function removalMessages(o: DiscoveryOptions, label: string): RetainedMessage[] {
  return [
    { topic: configTopic(o, 'binary_sensor', label), payload: '' },
    { topic: configTopic(o, 'event', `${label}_event`), payload: '' },
  ];
}

/**
 * A sensor's entity id. Label names start with a lower-case letter or digit, so the leading `_`
 * keeps sensor entities from ever colliding with a label's.
 */
function sensorObjectId(sensorId: string): string {
  return `_sensor_${sensorId}`;
}

/**
 * Discovery configs of one connectivity `binary_sensor` per sensor. Health is not retained: the
 * entity is unknown until the next health message (one follows every connect and HA birth).
 */
export function sensorDiscoveryMessages(
  o: DiscoveryOptions,
  sensorIds: readonly string[],
): RetainedMessage[] {
  const id = nodeId(o.topics.deviceId);
  return sensorIds.map((sensorId) => ({
    topic: configTopic(o, 'binary_sensor', sensorObjectId(sensorId)),
    payload: JSON.stringify({
      name: `${sensorId} sensor`,
      unique_id: `${id}_${sensorObjectId(sensorId)}`,
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: o.topics.health,
      // A sensor missing from the payload (removed from the config) reads as disconnected.
      value_template: `{{ 'OFF' if ((value_json.sensors | default({})).get(${JSON.stringify(sensorId)}) or {}).get('state', 'down') == 'down' else 'ON' }}`,
      payload_on: 'ON',
      payload_off: 'OFF',
      ...common(o),
    }),
  }));
}

/** Empty retained configs that remove sensors' connectivity entities (e.g. a disabled sensor). */
export function sensorRemovalMessages(o: DiscoveryOptions, sensorIds: readonly string[]): RetainedMessage[] {
  return sensorIds.map((sensorId) => ({
    topic: configTopic(o, 'binary_sensor', sensorObjectId(sensorId)),
    payload: '',
  }));
}
