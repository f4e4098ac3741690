/**
 * The agent's MQTT API on top of the connection: request/response (device and group topics, MQTT 5
 * response topic + correlation data), the retained label set and per-label ON/OFF states, the
 * per-label Home Assistant event feed, periodic health, and Home Assistant discovery.
 */
import type { Logger } from 'pino';
import type { HomeAssistantConfig } from '../config/schema.js';
import { deviceTarget, groupTarget, type RequestTarget } from './signing.js';
import type { HealthState } from '../sensors/types.js';
import {
  clipImageDiscoveryMessage,
  clipImageRemovalMessage,
  discoveryMessages,
  removalMessages,
  sensorDiscoveryMessages,
  sensorRemovalMessages,
  type DiscoveryOptions,
} from './discovery.js';
import {
  transactionOf,
  type HealthPayload,
  type LabelEventMessage,
  type LabelsPayload,
  type RequestCounts,
  type RequestOp,
  type ResponsePayload,
} from './payloads.js';
import type { MqttPublisher } from './publisher.js';
import {
  responseTopicProblem,
  type DeviceTopics,
  type LabelState,
  type ResponseTopicRules,
} from './topics.js';

export interface RequestHandler {
  /** `arrivedOn`: the device or group whose request topic the request came on. */
  handle(op: string, payload: Buffer, arrivedOn: RequestTarget): Promise<Omit<ResponsePayload, 'deviceId'>>;
  current(): LabelsPayload;
}

export interface MqttApiDeps {
  publisher: MqttPublisher;
  topics: DeviceTopics;
  labels: RequestHandler;
  /** Answer requests (remote.enabled). */
  remote: boolean;
  groups: readonly string[];
  /** Seconds between health messages (0 = none) and where the numbers come from. */
  healthIntervalS: number;
  health: () => Omit<HealthPayload, 'deviceId' | 'timestamp' | 'uptimeS'>;
  homeAssistant?: HomeAssistantConfig;
  /** Sensor ids for Home Assistant's connectivity entities: announced (enabled) or removed. */
  sensors?: { enabled: readonly string[]; disabled: readonly string[] };
  /**
   * Event clips are kept (clips.enabled, issue #18): with discovery on, Home Assistant gets the
   * image entity of the last clip's picture; false removes it and its retained picture; absent
   * leaves both alone.
   */
  clips?: boolean;
  swVersion: string;
  logger: Logger;
  /** Response topics allowed besides `<base>/<deviceId>/response/…` (responseTopicProblem). */
  responseTopics?: ResponseTopicRules;
}

/** Delay of a health message after a sensor state change; coalesces changes that come together. */
export const HEALTH_SOON_MS = 200;
/** Least time between two such messages. */
export const HEALTH_MIN_GAP_MS = 1000;

/** Only `<base>/<deviceId>/response/…` is allowed as a response topic. */
const NO_EXTRA_RESPONSE_TOPICS: ResponseTopicRules = { prefixes: [], reserved: [] };

export class MqttApi {
  /** Requests refused since start because of their response topic (each is also logged). */
  refusedResponseTopics = 0;
  /** Requests answered since start: ok, and refused by code (on `health` as `requests`). */
  private readonly requests: RequestCounts = { answered: 0, ok: 0, refused: {} };
  private readonly states = new Map<string, LabelState>();
  private healthTimer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private lastSoonMs = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private readonly startedMs = Date.now();
  private readonly discovery: DiscoveryOptions | undefined;
  /** Discovery configs as last published, by topic: a label change sends only what differs. */
  private readonly announced = new Map<string, string>();
  /** Sensor states as last published on `sensors/<id>/state`. */
  private readonly sensorStates = new Map<string, HealthState>();
  /** The last clip picture published, sent again on a connect (a broker without persistence). */
  private picture: Buffer | undefined;

  constructor(private readonly deps: MqttApiDeps) {
    const ha = deps.homeAssistant;
    this.discovery = ha?.enabled
      ? {
          prefix: ha.discoveryPrefix,
          topics: deps.topics,
          swVersion: deps.swVersion,
          ...(ha.deviceName !== undefined ? { deviceName: ha.deviceName } : {}),
        }
      : undefined;
    for (const l of deps.labels.current().labels) this.states.set(l.name, 'OFF');
  }

  start(): void {
    const { publisher, topics } = this.deps;
    if (this.deps.remote) {
      publisher.subscribe(topics.requestFilter);
      for (const g of this.deps.groups) publisher.subscribe(topics.groupRequestFilter(g));
    }
    const ha = this.deps.homeAssistant;
    if (this.discovery && ha) publisher.subscribe(ha.statusTopic);
    publisher.onMessage((topic, payload, props) => {
      if (ha?.enabled && topic === ha.statusTopic) {
        if (payload.toString() === 'online') {
          this.deps.logger.info('Home Assistant came online: re-announcing discovery');
          this.announce(true);
          this.announceSensors();
          this.announceClipImage(false);
        }
        return;
      }
      const op = topics.opOf(topic);
      if (op === undefined || !this.deps.remote) return;
      const arrivedOn = this.targetOf(topic, op);
      if (arrivedOn === undefined) {
        // E.g. a group left in a persistent broker session after it was removed from remote.groups.
        this.deps.logger.warn(
          { topic: topic.slice(0, 200) },
          `request on ${topic.slice(0, 200)} ignored: neither this device's topic nor one of remote.groups`,
        );
        return;
      }
      void this.answer(op, payload, props, arrivedOn);
    });
    publisher.onConnect(() => {
      this.announce(true);
      this.announceSensors();
      this.announceClipImage(true);
      this.healthSoon();
    });
    if (this.deps.healthIntervalS > 0) {
      this.healthTimer = setInterval(() => void this.publishHealth(), this.deps.healthIntervalS * 1000);
      this.healthTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.healthTimer);
    clearTimeout(this.soonTimer);
  }

  /**
   * Health within HEALTH_SOON_MS instead of at the next interval (a sensor changed state, a
   * connect, Home Assistant's birth). Bursts give one message; a flapping sensor at most one per
   * HEALTH_MIN_GAP_MS. healthIntervalS 0 = no health at all.
   */
  healthSoon(): void {
    if (this.stopped || this.deps.healthIntervalS === 0 || this.soonTimer !== undefined) return;
    const delayMs = Math.max(HEALTH_SOON_MS, this.lastSoonMs + HEALTH_MIN_GAP_MS - Date.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      this.lastSoonMs = Date.now();
      void this.publishHealth();
    }, delayMs);
    this.soonTimer.unref();
  }

  /** Follows events: `start`/`update` → ON, `end` → OFF; feeds the HA event entity. */
  onEvent(ev: {
    type: 'start' | 'update' | 'end';
    label: string;
    id: string;
    score: number;
    seq: number;
  }): void {
    const { publisher, topics } = this.deps;
    const next: LabelState = ev.type === 'end' ? 'OFF' : 'ON';
    if (this.states.get(ev.label) !== next) {
      this.states.set(ev.label, next);
      void publisher.publish(topics.labelState(ev.label), next, { retain: true });
    }
    if (this.discovery) {
      const msg: LabelEventMessage = { event_type: ev.type, id: ev.id, score: ev.score, seq: ev.seq };
      void publisher.publish(topics.labelEvent(ev.label), JSON.stringify(msg), { qos: 0 });
    }
  }

  /**
   * After a label change: the retained set, the states of new labels (removed ones cleared), and
   * only the discovery configs that changed: removing one label sends that label's empty configs
   * and nothing for the others (issue 17 item 12).
   */
  labelsChanged(current: LabelsPayload, removed: readonly string[]): void {
    const { publisher, topics } = this.deps;
    for (const name of removed) {
      this.states.delete(name);
      void publisher.publish(topics.labelState(name), '', { retain: true });
      if (this.discovery)
        for (const m of removalMessages(this.discovery, name)) {
          this.announced.delete(m.topic);
          void publisher.publish(m.topic, m.payload, { retain: true });
        }
    }
    for (const l of current.labels)
      if (!this.states.has(l.name)) {
        this.states.set(l.name, 'OFF');
        void publisher.publish(topics.labelState(l.name), 'OFF', { retain: true });
      }
    this.announce(false);
  }

  /**
   * A sensor changed state: each sensor whose state differs from the one last published on its
   * retained `sensors/<id>/state` gets the new one, and health goes out soon.
   */
  sensorStatesChanged(): void {
    this.publishSensorStates(false);
    this.healthSoon();
  }

  /**
   * The picture of a clip just written (a PNG of at most mqtt.maxClipMessageBytes): retained on
   * `clips/last/image` for Home Assistant's image entity. Only while discovery and clips are on:
   * these are pictures of the room, published for the entity that shows them.
   */
  clipPicture(png: Buffer): void {
    if (!this.discovery || this.deps.clips !== true) return;
    this.picture = png;
    void this.deps.publisher.publish(this.deps.topics.clipImage, png, { qos: 1, retain: true });
  }

  /** Requests answered since start (a copy), or undefined when remote requests are off. */
  requestCounts(): RequestCounts | undefined {
    return this.deps.remote ? { ...this.requests, refused: { ...this.requests.refused } } : undefined;
  }

  async publishHealth(): Promise<void> {
    const payload: HealthPayload = {
      deviceId: this.deps.topics.deviceId,
      timestamp: new Date().toISOString(),
      uptimeS: Math.round((Date.now() - this.startedMs) / 1000),
      ...this.deps.health(),
    };
    const requests = this.requestCounts();
    if (requests) payload.requests = requests;
    await this.deps.publisher.publish(this.deps.topics.health, JSON.stringify(payload), { qos: 0 });
  }

  /**
   * Retained label set and discovery configs. `all` (a connect, Home Assistant's birth): every
   * label state and every config; otherwise only configs that differ from the last published.
   */
  private announce(all: boolean): void {
    const { publisher, topics } = this.deps;
    const current = this.deps.labels.current();
    void publisher.publish(topics.labels, JSON.stringify(current), { retain: true });
    if (all)
      for (const [name, state] of this.states)
        void publisher.publish(topics.labelState(name), state, { retain: true });
    if (this.discovery) {
      for (const m of discoveryMessages(this.discovery, current.labels)) {
        if (!all && this.announced.get(m.topic) === m.payload) continue;
        this.announced.set(m.topic, m.payload);
        void publisher.publish(m.topic, m.payload, { retain: true });
      }
    }
  }

  /**
   * Every sensor's retained state, and Home Assistant's connectivity entities: one per enabled
   * sensor; disabled sensors' entities and states removed.
   */
  private announceSensors(): void {
    this.publishSensorStates(true);
    const sensors = this.deps.sensors;
    if (!sensors) return;
    for (const id of sensors.disabled)
      void this.deps.publisher.publish(this.deps.topics.sensorState(id), '', { retain: true });
    if (!this.discovery) return;
    for (const m of [
      ...sensorDiscoveryMessages(this.discovery, sensors.enabled),
      ...sensorRemovalMessages(this.discovery, sensors.disabled),
    ])
      void this.deps.publisher.publish(m.topic, m.payload, { retain: true });
  }

  /**
   * The clip picture's image entity (clips on) or its removal with the retained picture (clips
   * off). `picture`: on a connect, the last picture again, in case the broker lost it.
   */
  private announceClipImage(picture: boolean): void {
    const { clips, publisher, topics } = this.deps;
    if (!this.discovery || clips === undefined) return;
    if (clips) {
      const m = clipImageDiscoveryMessage(this.discovery);
      void publisher.publish(m.topic, m.payload, { retain: true });
      if (picture && this.picture)
        void publisher.publish(topics.clipImage, this.picture, { qos: 1, retain: true });
    } else {
      const m = clipImageRemovalMessage(this.discovery);
      void publisher.publish(m.topic, m.payload, { retain: true });
      void publisher.publish(topics.clipImage, '', { retain: true });
    }
  }

  /** Retained `sensors/<id>/state` of each sensor on health: all, or those that changed. */
  private publishSensorStates(all: boolean): void {
    const sensors = this.deps.health().sensors;
    for (const [id, s] of Object.entries(sensors)) {
      if (!all && this.sensorStates.get(id) === s.state) continue;
      this.sensorStates.set(id, s.state);
      void this.deps.publisher.publish(this.deps.topics.sensorState(id), s.state, { retain: true });
    }
  }

  /** `device:<id>` or `group:<group>` for a request topic of this device or of one of its groups. */
  private targetOf(topic: string, op: string): RequestTarget | undefined {
    const { topics, groups } = this.deps;
    // An unknown op still gets a target, so that its UNKNOWN_OP answer goes out.
    if (topic === topics.request(op as RequestOp)) return deviceTarget(topics.deviceId);
    const group = groups.find((g) => topic === topics.groupRequest(g, op as RequestOp));
    return group === undefined ? undefined : groupTarget(group);
  }

  /**
   * Answers on `<base>/<deviceId>/response/<op>`, and on the request's MQTT 5 response topic when
   * that is allowed (responseTopicProblem). A request naming a refused response topic is not
   * handled at all: it is answered RESPONSE_TOPIC_INVALID on the default response topic only, and
   * counted (`refusedResponseTopics`).
   */
  private async answer(
    op: string,
    payload: Buffer,
    props: { responseTopic?: string; correlationData?: Buffer },
    arrivedOn: RequestTarget,
  ): Promise<void> {
    const { publisher, topics } = this.deps;
    const { responseTopic } = props;
    const problem =
      responseTopic === undefined
        ? undefined
        : responseTopicProblem(responseTopic, topics, this.deps.responseTopics ?? NO_EXTRA_RESPONSE_TOPICS);
    let reply: Omit<ResponsePayload, 'deviceId'>;
    if (problem === undefined) reply = await this.deps.labels.handle(op, payload, arrivedOn);
    else {
      this.refusedResponseTopics++;
      const shown = JSON.stringify(responseTopic!.slice(0, 100));
      this.deps.logger.warn(
        {
          op: op.slice(0, 100),
          responseTopic: responseTopic!.slice(0, 100),
          refused: this.refusedResponseTopics,
        },
        `request ${op.slice(0, 100)} refused: response topic ${shown} ${problem}`,
      );
      const transaction = transactionOf(payload, 1024 * 1024);
      reply = {
        status: 'error',
        data: {},
        error: `response topic ${shown} refused: ${problem}`,
        code: 'RESPONSE_TOPIC_INVALID',
        problems: [{ path: 'responseTopic (MQTT 5 property)', message: problem }],
        ...(transaction !== undefined ? { transaction } : {}),
      };
    }
    this.requests.answered++;
    if (reply.status === 'ok') this.requests.ok++;
    else if (reply.code) this.requests.refused[reply.code] = (this.requests.refused[reply.code] ?? 0) + 1;
    const body = JSON.stringify({ ...reply, deviceId: topics.deviceId } satisfies ResponsePayload);
    const safeOp = /^[A-Za-z0-9_/-]{1,64}$/.test(op) ? op : 'invalid';
    await publisher.publish(topics.response(safeOp), body, { qos: 1 });
    if (responseTopic !== undefined && problem === undefined) {
      await publisher.publish(responseTopic, body, {
        qos: 1,
        properties: props.correlationData ? { correlationData: props.correlationData } : {},
      });
    }
  }
}
