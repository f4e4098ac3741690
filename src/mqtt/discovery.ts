/**
 * Home Assistant MQTT discovery: one device, and per label a `binary_sensor` (ON while an event is
 * open, from `labels/<slug>/state`, with a device class where one fits), an `event` entity
 * (`start`/`update`/`end`, from `labels/<slug>/event`) and a diagnostic score `sensor` (the score
 * of the label's latest event, from the same feed). Configs are retained at
 * `<prefix>/<component>/<nodeId>/<objectId>/config`; an empty retained config removes an entity.
 * All follow the agent's availability (`status`). Per sensor a diagnostic `binary_sensor` with
 * device class `connectivity`, read from the retained `sensors/<id>/state`: OFF while it is down.
 * With clips on (issue #18), an `image` entity showing the last event's thermal or depth picture.
 */
import type { HaBinarySensorClass, LabelConfig } from '../config/schema.js';
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

/** What discovery needs of a label (the config's LabelSchema). */
export type DiscoveryLabel = Pick<LabelConfig, 'name' | 'modalities' | 'homeAssistant'>;

/**
 * The default device class by words of the label's name (split at `_` and `-`), first match in
 * this order (docs/mqtt.md lists it). A label with none of these words that listens to audio only
 * is a `sound`; any other has no device class. `homeAssistant.deviceClass` overrides all of it.
 */
export const DEVICE_CLASS_WORDS: readonly (readonly [HaBinarySensorClass, readonly string[]])[] = [
  ['smoke', ['fire', 'smoke']],
  ['gas', ['gas']],
  ['moisture', ['leak', 'water', 'flood']],
  ['safety', ['fall', 'fallen', 'falling', 'falls']],
  ['tamper', ['tamper', 'tampering', 'glass']],
  ['occupancy', ['person', 'people', 'walking', 'footsteps', 'occupancy']],
  ['motion', ['motion']],
  ['vibration', ['vibration', 'knock', 'knocking']],
  ['heat', ['heat']],
];

/** The label's binary_sensor device class, or undefined for none. */
export function labelDeviceClass(label: DiscoveryLabel): HaBinarySensorClass | undefined {
  const explicit = label.homeAssistant?.deviceClass;
  if (explicit !== undefined) return explicit === 'none' ? undefined : explicit;
  const words = new Set(label.name.split(/[_-]/));
  for (const [cls, names] of DEVICE_CLASS_WORDS) if (names.some((w) => words.has(w))) return cls;
  const m = label.modalities;
  return m !== undefined && m.length > 0 && m.every((x) => x === 'audio') ? 'sound' : undefined;
}

/**
 * The score sensor's object id. Label names start with a lower-case letter or digit, so the
 * leading `_` keeps it from colliding with any label's entity (as `_sensor_` does for sensors).
 */
function scoreObjectId(label: string): string {
  return `_score_${label}`;
}

/** Discovery configs of one label: its binary_sensor, event entity and score sensor. */
export function labelDiscoveryMessages(o: DiscoveryOptions, label: DiscoveryLabel): RetainedMessage[] {
  const id = nodeId(o.topics.deviceId);
  const name = label.name;
  const shown = name.replace(/[_-]/g, ' ');
  const deviceClass = labelDeviceClass(label);
  return [
    {
      topic: configTopic(o, 'binary_sensor', name),
      payload: JSON.stringify({
        name: shown,
        unique_id: `${id}_${name}`,
        ...(deviceClass !== undefined ? { device_class: deviceClass } : {}),
        state_topic: o.topics.labelState(name),
        payload_on: 'ON',
        payload_off: 'OFF',
        ...common(o),
      }),
    },
    {
      topic: configTopic(o, 'event', `${name}_event`),
      payload: JSON.stringify({
        name: `${shown} event`,
        unique_id: `${id}_${name}_event`,
        state_topic: o.topics.labelEvent(name),
        event_types: [...EVENT_TYPES],
        ...common(o),
      }),
    },
    {
      topic: configTopic(o, 'sensor', scoreObjectId(name)),
      payload: JSON.stringify({
        name: `${shown} score`,
        unique_id: `${id}_${scoreObjectId(name)}`,
        entity_category: 'diagnostic',
        state_topic: o.topics.labelEvent(name),
        value_template: '{{ value_json.score }}',
        state_class: 'measurement',
        suggested_display_precision: 2,
        ...common(o),
      }),
    },
  ];
}

/** Discovery configs for every label. */
export function discoveryMessages(o: DiscoveryOptions, labels: readonly DiscoveryLabel[]): RetainedMessage[] {
  return labels.flatMap((l) => labelDiscoveryMessages(o, l));
}

/** Empty retained configs that remove a label's entities. */
export function removalMessages(o: DiscoveryOptions, label: string): RetainedMessage[] {
  return [
    { topic: configTopic(o, 'binary_sensor', label), payload: '' },
    { topic: configTopic(o, 'event', `${label}_event`), payload: '' },
    { topic: configTopic(o, 'sensor', scoreObjectId(label)), payload: '' },
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
 * Discovery configs of one connectivity `binary_sensor` per sensor, read from the sensor's
 * retained state topic, so Home Assistant knows it at once after a restart (issue 17 item 12:
 * health, which it read before, is not retained). `degraded` counts as connected;
 * anything else (`down`, empty) as not.
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
      state_topic: o.topics.sensorState(sensorId),
      value_template: "{{ 'ON' if value in ('ok', 'degraded') else 'OFF' }}",
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

/** The clip picture's entity id (the leading `_` keeps it apart from labels', as for sensors). */
const CLIP_IMAGE_OBJECT_ID = '_clip_image';

/**
 * Discovery config of the `image` entity that shows the last event clip's picture (issue #18):
 * raw PNG bytes from the retained `clips/last/image`.
 */
export function clipImageDiscoveryMessage(o: DiscoveryOptions): RetainedMessage {
  const id = nodeId(o.topics.deviceId);
  return {
    topic: configTopic(o, 'image', CLIP_IMAGE_OBJECT_ID),
    payload: JSON.stringify({
      name: 'last event picture',
      unique_id: `${id}_${CLIP_IMAGE_OBJECT_ID}`,
      image_topic: o.topics.clipImage,
      content_type: 'image/png',
      ...common(o),
    }),
  };
}

/** The empty retained config that removes the clip picture entity (clips turned off). */
export function clipImageRemovalMessage(o: DiscoveryOptions): RetainedMessage {
  return { topic: configTopic(o, 'image', CLIP_IMAGE_OBJECT_ID), payload: '' };
}
