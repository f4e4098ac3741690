/**
 * The agent's MQTT side behind one call, so that main.ts stays small: connection, durable outbox,
 * the request API (answered by the label service that labels/runtime.ts wires), discovery and
 * health.
 */
import { readClipFile, type ClipInfo } from '../clips/store.js';
import type { HistoryOps } from '../history/service.js';
import type { ClipStats } from '../clips/recorder.js';
import type { HistoryStats } from '../history/writer.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { deviceStateDir, type ResolvedConfig } from '../config/load.js';
import { brokerSecrets } from '../config/secrets.js';
import { packageVersion } from '../util/package-version.js';
import type { LabelOps } from '../labels/service.js';
import { MqttApi } from './api.js';
import { clipPicture, ClipRequestService } from './clips.js';
import { DurableOutbox } from './outbox.js';
import type { LabelsPayload, RequestCounts, SensorHealthPayload } from './payloads.js';
import { MqttPublisher } from './publisher.js';
import { RequestRouter } from './requests.js';
import { deviceTopics } from './topics.js';

export interface AgentMqttOptions {
  config: ResolvedConfig;
  brokerUrl: string;
  logger: Logger;
  /** Answers labels/* requests once the envelope checks pass; its current set goes on health. */
  labels: LabelOps;
  /** Answers history/search (issue #18); absent when history.enabled is false. */
  history?: HistoryOps;
  /** Event clips (issue #18): where they are (clipsDir); absent when clips.enabled is false. */
  clips?: { dir: string };
  stats(): {
    sensors: Record<string, SensorHealthPayload>;
    windows: Record<string, { pushed: number; dropped: number; depth: number }>;
    events: number;
    history?: HistoryStats;
    clips?: ClipStats;
  };
  /** More figures for the health topic (the Prometheus summary when metrics are on). */
  extraHealth?: () => unknown;
}

export interface AgentMqtt {
  readonly publisher: MqttPublisher;
  /** Durably queues an event (it gets its `seq`), publishes it, and updates label states. */
  publishEvent<T extends { type: 'start' | 'update' | 'end'; label: string; id: string; score: number }>(
    payload: T,
  ): T & { seq: number };
  /** The label set changed: publish the retained list and label states, update discovery. */
  labelsChanged(current: LabelsPayload, removed: readonly string[]): void;
  /**
   * A sensor changed state (ok, degraded, down): its retained `sensors/<id>/state` goes out now
   * and health soon (MqttApi.healthSoon) instead of at the next interval, so Home Assistant and
   * fleet tools see an unplug at once.
   */
  sensorStateChanged(): void;
  /**
   * A clip is on disk (AgentDeps.onClip): its thermal or depth picture goes to Home Assistant's
   * image entity, read asynchronously; a picture over mqtt.maxClipMessageBytes is left out.
   * Never throws; failures are logged.
   */
  clipWritten(info: ClipInfo, dir: string): void;
  /** Requests answered since start (on `health`); undefined when remote requests are off. */
  requestCounts(): RequestCounts | undefined;
  stop(): Promise<void>;
}

export function startAgentMqtt(o: AgentMqttOptions): AgentMqtt {
  const { config } = o;
  const log = (component: string) => o.logger.child({ component });
  const topics = deviceTopics(config.mqtt.baseTopic, config.deviceId);
  const secrets = brokerSecrets(config);
  const dir = deviceStateDir(config);
  const outbox = new DurableOutbox({
    dir: join(dir, 'outbox'),
    maxBytes: config.mqtt.outboxMaxBytes,
    maxRecords: config.mqtt.outboxMax,
    maxAgeMs: config.mqtt.outboxMaxAgeS * 1000,
    commitDelayMs: config.mqtt.outboxCommitDelayMs,
    logger: log('outbox'),
  });
  const replayed = outbox.stats().depth;
  if (replayed > 0)
    log('mqtt').info(
      { pending: replayed },
      `mqtt: ${replayed} events from the previous run are in the outbox and will be sent`,
    );
  const publisher = new MqttPublisher({
    url: o.brokerUrl,
    clientId: config.mqtt.clientId ?? `edgebind-${config.deviceId}`,
    topics,
    outbox,
    ...(config.mqtt.username !== undefined ? { username: config.mqtt.username } : {}),
    ...(secrets.password !== undefined ? { password: secrets.password } : {}),
    tls: secrets.tls,
    keepaliveS: config.mqtt.keepaliveS,
    reconnectMinMs: config.mqtt.reconnectMinMs,
    reconnectMaxMs: config.mqtt.reconnectMaxMs,
    protocolVersion: config.mqtt.protocolVersion,
    persistentSession: config.mqtt.persistentSession,
    sessionExpiryS: config.mqtt.sessionExpiryS,
    messageExpiryS: config.mqtt.messageExpiryS,
    maxInflight: config.mqtt.maxInflight,
    logger: log('mqtt'),
  });
  const service = o.labels;
  const requests = new RequestRouter({
    labels: service,
    ...(o.history ? { history: o.history } : {}),
    ...(o.clips
      ? {
          clips: new ClipRequestService({
            dir: o.clips.dir,
            maxMessageBytes: config.mqtt.maxClipMessageBytes,
            logger: log('clips'),
          }),
        }
      : {}),
    limits: config.remote,
    nonceFile: join(config.stateDir, 'replay-nonces.log'),
    logger: log('labels'),
  });
  const api = new MqttApi({
    publisher,
    topics,
    labels: requests,
    remote: config.remote.enabled,
    groups: config.remote.groups,
    healthIntervalS: config.mqtt.healthIntervalS,
    health: () => {
      const s = o.stats();
      const m = publisher.stats();
      const current = service.current();
      return {
        sensors: s.sensors,
        windows: s.windows,
        events: s.events,
        labels: { version: current.version, count: current.labels.length },
        mqtt: {
          connected: m.connected,
          outboxDepth: m.outboxDepth,
          outboxBytes: m.outboxBytes,
          published: m.published,
          dropped: m.dropped,
          droppedUnconfirmed: m.droppedUnconfirmed,
          reconnects: m.reconnects,
          outboxState: m.outboxState,
          ...(m.outboxReason !== undefined ? { outboxReason: m.outboxReason } : {}),
          outboxUnwritten: m.outboxUnwritten,
        },
        ...(s.history ? { history: s.history } : {}),
        ...(s.clips ? { clips: s.clips } : {}),
        ...(o.extraHealth ? { metrics: o.extraHealth() } : {}),
      };
    },
    homeAssistant: config.homeAssistant,
    clips: o.clips !== undefined,
    sensors: {
      enabled: config.sensors.filter((s) => s.enabled).map((s) => s.id),
      disabled: config.sensors.filter((s) => !s.enabled).map((s) => s.id),
    },
    swVersion: packageVersion(),
    logger: log('api'),
    responseTopics: {
      prefixes: config.remote.responseTopicPrefixes,
      // Home Assistant reads these trees: a response must never land in them.
      reserved: [config.homeAssistant.discoveryPrefix, config.homeAssistant.statusTopic],
    },
  });
  api.start();

  publisher.start();
  return {
    publisher,
    publishEvent: (payload) => {
      const msg = publisher.publishEvent(payload);
      api.onEvent(msg);
      return msg;
    },
    labelsChanged: (current, removed) => api.labelsChanged(current, removed),
    sensorStateChanged: () => api.sensorStatesChanged(),
    requestCounts: () => api.requestCounts(),
    clipWritten: (info, clipDir) => {
      if (!config.homeAssistant.enabled) return;
      const picture = clipPicture(info, config.mqtt.maxClipMessageBytes);
      if (!picture) {
        log('clips').debug(
          { eventId: info.eventId },
          `clip ${info.eventId}: no PNG of at most ${config.mqtt.maxClipMessageBytes} bytes to show`,
        );
        return;
      }
      readClipFile(clipDir, info.eventId, picture.name).then(
        (png) => api.clipPicture(png),
        (err: unknown) =>
          log('clips').warn(
            { eventId: info.eventId, file: picture.name },
            `clip ${info.eventId}: cannot read ${picture.name} for Home Assistant: ${(err as Error).message}`,
          ),
      );
    },
    stop: async () => {
      api.stop();
      await publisher.stop();
    },
  };
}
