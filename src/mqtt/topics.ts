/**
 * Every topic edgebind uses and the payload type on each, in one place (docs/mqtt.md and
 * docs/asyncapi.yaml document them). Names are built here only; nothing else concatenates topics.
 */
import type { HealthState } from '../sensors/types.js';
import type {
  EventPayload,
  HealthPayload,
  LabelEventMessage,
  LabelsPayload,
  RequestOp,
  ResponsePayload,
} from './payloads.js';

/** Label state payloads, retained. */
export type LabelState = 'ON' | 'OFF';

export interface DeviceTopics {
  readonly base: string;
  readonly deviceId: string;
  /** `<base>/<deviceId>`. */
  readonly root: string;
  /** Retained `online` / `offline`; `offline` is also the last will. */
  readonly status: string;
  /** Label events as JSON, QoS 1, not retained, each with a per-device `seq`. */
  readonly events: string;
  /** Periodic statistics (JSON), not retained. */
  readonly health: string;
  /** Retained current label set with its version and hash. */
  readonly labels: string;
  /** Retained `ON`/`OFF` per label. */
  labelState(slug: string): string;
  /** Per-label Home Assistant event entity feed (`{event_type, …}`), not retained. */
  labelEvent(slug: string): string;
  /** Retained `ok`/`degraded`/`down` per sensor (Home Assistant's connectivity entities read it). */
  sensorState(sensorId: string): string;
  /**
   * Retained PNG of the last event clip's thermal or depth picture (issue #18), raw bytes, which
   * Home Assistant's image entity shows.
   */
  readonly clipImage: string;
  request(op: RequestOp): string;
  /** Responses; `op` may be an unknown op a request named (its error response goes there). */
  response(op: string): string;
  /** Subscription filter for this device's requests. */
  readonly requestFilter: string;
  /** Subscription filter for one group's requests. */
  groupRequestFilter(group: string): string;
  groupRequest(group: string, op: RequestOp): string;
  /** The op of a request topic (device or group), or undefined when the topic is not one. */
  opOf(topic: string): string | undefined;
}

export function deviceTopics(baseTopic: string, deviceId: string): DeviceTopics {
  if (/[+#]/.test(baseTopic) || /[+#/]/.test(deviceId))
    throw new TypeError('topic names must not contain wildcards');
  const root = `${baseTopic}/${deviceId}`;
  const requestPrefix = `${root}/request/`;
  const groupPrefix = `${baseTopic}/groups/`;
  return {
    base: baseTopic,
    deviceId,
    root,
    status: `${root}/status`,
    events: `${root}/events`,
    health: `${root}/health`,
    labels: `${root}/labels`,
    labelState: (slug) => `${root}/labels/${slug}/state`,
    labelEvent: (slug) => `${root}/labels/${slug}/event`,
    sensorState: (sensorId) => `${root}/sensors/${sensorId}/state`,
    clipImage: `${root}/clips/last/image`,
    request: (op) => `${requestPrefix}${op}`,
    response: (op) => `${root}/response/${op}`,
    requestFilter: `${requestPrefix}#`,
    groupRequestFilter: (group) => `${groupPrefix}${group}/request/#`,
    groupRequest: (group, op) => `${groupPrefix}${group}/request/${op}`,
    opOf: (topic) => {
      if (topic.startsWith(requestPrefix)) return topic.slice(requestPrefix.length);
      if (topic.startsWith(groupPrefix)) {
        const rest = topic.slice(groupPrefix.length);
        const i = rest.indexOf('/request/');
        if (i > 0) return rest.slice(i + '/request/'.length);
      }
      return undefined;
    },
  };
}

/** Longest MQTT 5 response topic a request may name, characters. */
export const MAX_RESPONSE_TOPIC_CHARS = 256;

export interface ResponseTopicRules {
  /** Extra prefixes (each ending in `/`) allowed outside `<base>/` (remote.responseTopicPrefixes). */
  prefixes: readonly string[];
  /** Topic trees the agent publishes to outside `<base>/` (Home Assistant discovery), never allowed. */
  reserved: readonly string[];
}

/**
 * Why the MQTT 5 response topic a request names is refused, or undefined when it is allowed
 * (issue 14: a response topic used to let anyone publish into the agent's own `events`,
 * `status`, `labels` or another device's request topic). Allowed: below
 * `<base>/<deviceId>/response/`, or below one of `rules.prefixes` as long as that is outside
 * `<base>/` and the reserved trees. Never a wildcard, a `$` topic, a NUL or a topic over
 * MAX_RESPONSE_TOPIC_CHARS.
 */
export function responseTopicProblem(
  topic: string,
  topics: Pick<DeviceTopics, 'base' | 'root'>,
  rules: ResponseTopicRules,
): string | undefined {
  if (topic.length > MAX_RESPONSE_TOPIC_CHARS) return `longer than ${MAX_RESPONSE_TOPIC_CHARS} characters`;
  if (/[+#]/.test(topic) || topic.includes('\u0000')) return 'must not contain wildcards (+, #) or NUL';
  if (topic.startsWith('$')) return 'must not be a $ (broker) topic';
  const own = `${topics.root}/response/`;
  if (topic.startsWith(own) && topic.length > own.length) return undefined;
  const allowed = [own, ...rules.prefixes].map((p) => `"${p}…"`).join(' or ');
  const under = (tree: string) => topic === tree || topic.startsWith(`${tree}/`);
  if (under(topics.base) || rules.reserved.some(under))
    return `must be below ${allowed}; it would publish into the agent's own or another device's topics`;
  if (rules.prefixes.some((p) => topic.startsWith(p) && topic.length > p.length)) return undefined;
  return `must be below ${allowed} (remote.responseTopicPrefixes)`;
}

/** What is published on each topic (the `topics.ts` type map; `<…>` stands for a path level). */
export interface TopicMap {
  status: 'online' | 'offline';
  events: EventPayload;
  health: HealthPayload;
  labels: LabelsPayload;
  'labels/<slug>/state': LabelState;
  'labels/<slug>/event': LabelEventMessage;
  'sensors/<sensorId>/state': HealthState;
  /** PNG bytes, not JSON. */
  'clips/last/image': Buffer;
  'response/<op>': ResponsePayload;
  'request/<op>': unknown;
}
