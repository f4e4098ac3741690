/**
 * Everything MQTT- and remote-label-related the composition root needs, behind two calls so that
 * main.ts stays small: `openLabelState` (persisted labels override the config's) before the label
 * set is built, then `startAgentMqtt` (connection, durable outbox, API, discovery, health).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import type { LabelConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { LabelSet } from '../fusion/labels.js';
import { Scorer } from '../fusion/scoring.js';
import { initialLabels, LabelService } from '../labels/service.js';
import { LabelStore } from '../labels/store.js';
import type { SensorModality } from '../pipeline/types.js';
import { MqttApi } from './api.js';
import { DurableOutbox } from './outbox.js';
import type { SensorHealthPayload } from './payloads.js';
import { MqttPublisher, type TlsFiles } from './publisher.js';
import { deviceTopics } from './topics.js';

/** Where one device keeps its state: `<stateDir>/devices/<deviceId>/`. */
export function deviceStateDir(config: Pick<ResolvedConfig, 'stateDir' | 'deviceId'>): string {
  return join(config.stateDir, 'devices', config.deviceId);
}

export interface LabelState {
  store: LabelStore;
  initial: ReturnType<typeof initialLabels>;
}

/** Reads the persisted label set; it overrides the config file's labels (and says so in the log). */
export function openLabelState(config: ResolvedConfig, logger: Logger): LabelState {
  const store = new LabelStore(deviceStateDir(config));
  return { store, initial: initialLabels(store, config.labels, logger) };
}

/** A small ring of recent window embeddings, for labels/test. */
export class EmbeddingRing {
  private readonly items: { sensorId: string; modality: SensorModality; embedding: Float32Array }[] = [];
  constructor(private readonly size: number) {}
  push(sensorId: string, modality: SensorModality, embedding: Float32Array): void {
    this.items.push({ sensorId, modality, embedding: Float32Array.from(embedding) });
    if (this.items.length > this.size) this.items.shift();
  }
  all(): readonly { sensorId: string; modality: SensorModality; embedding: Float32Array }[] {
    return this.items;
  }
}

export interface LabelTestResult {
  windows: number;
  labels: { name: string; windows: number; maxScore: number; meanScore: number; matches: number }[];
}

/** Scores a candidate label set against recent embeddings (labels/test). */
export function evaluateLabels(set: LabelSet, ring: EmbeddingRing, temperature: number): LabelTestResult {
  const scorer = new Scorer(set, { temperature });
  const acc = set.labels.map((l) => ({
    name: l.name,
    windows: 0,
    maxScore: 0,
    sum: 0,
    matches: 0,
    on: l.onThreshold,
  }));
  for (const r of ring.all()) {
    const { scores } = scorer.score(r.modality, r.embedding);
    acc.forEach((a, i) => {
      const s = scores[i]!;
      if (Number.isNaN(s)) return;
      a.windows++;
      a.sum += s;
      a.maxScore = Math.max(a.maxScore, s);
      if (s >= a.on) a.matches++;
    });
  }
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  return {
    windows: ring.all().length,
    labels: acc.map((a) => ({
      name: a.name,
      windows: a.windows,
      maxScore: r4(a.maxScore),
      meanScore: a.windows > 0 ? r4(a.sum / a.windows) : 0,
      matches: a.matches,
    })),
  };
}

/** Password (env or file) and TLS files from the config; missing files are config errors. */
export function connectionSecrets(config: ResolvedConfig): { password?: string; tls: TlsFiles } {
  const m = config.mqtt;
  const base = dirname(config.source);
  const read = (key: string, file: string) => {
    const path = isAbsolute(file) ? file : resolve(base, file);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError('CONFIG_INVALID', `${config.source}: mqtt.${key}: cannot read ${path}`, {
        file: config.source,
        problems: [{ path: `mqtt.${key}`, message: `cannot read ${path}: ${(err as Error).message}` }],
        cause: err,
      });
    }
  };
  if (m.passwordEnv !== undefined && m.passwordFile !== undefined) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${config.source}: mqtt: give passwordEnv or passwordFile, not both`,
      {
        file: config.source,
        problems: [{ path: 'mqtt.passwordFile', message: 'not together with passwordEnv' }],
      },
    );
  }
  let password: string | undefined;
  if (m.passwordEnv !== undefined) password = process.env[m.passwordEnv];
  if (m.passwordFile !== undefined)
    password = read('passwordFile', m.passwordFile).toString('utf8').split(/\r?\n/)[0];
  const tls: TlsFiles = { rejectUnauthorized: m.rejectUnauthorized };
  if (m.caFile !== undefined) tls.ca = read('caFile', m.caFile);
  if (m.certFile !== undefined) tls.cert = read('certFile', m.certFile);
  if (m.keyFile !== undefined) tls.key = read('keyFile', m.keyFile);
  return { ...(password !== undefined ? { password } : {}), tls };
}

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export interface AgentMqttOptions {
  config: ResolvedConfig;
  brokerUrl: string;
  logger: Logger;
  labels: LabelState;
  /** Hash of the running label set. */
  initialHash: string;
  build(labels: readonly LabelConfig[], opts?: { persist?: boolean }): Promise<LabelSet>;
  /** Swap a built set into the pipeline: kept labels go on, removed labels' open events end. */
  apply(set: LabelSet, labels: readonly LabelConfig[], removed: readonly string[]): void;
  stats(): {
    sensors: Record<string, SensorHealthPayload>;
    windows: Record<string, { pushed: number; dropped: number; depth: number }>;
    events: number;
  };
  /** More figures for the health topic (the Prometheus summary when metrics are on). */
  extraHealth?: () => unknown;
}

export interface AgentMqtt {
  readonly publisher: MqttPublisher;
  readonly recent: EmbeddingRing;
  /** Durably queues an event (it gets its `seq`), publishes it, and updates label states. */
  publishEvent<T extends { type: 'start' | 'update' | 'end'; label: string; id: string; score: number }>(
    payload: T,
  ): T & { seq: number };
  currentLabels(): { version: number; count: number };
  /**
   * A sensor changed state (ok, degraded, down): health goes out soon (MqttApi.healthSoon) instead
   * of at the next interval, so Home Assistant and fleet tools see an unplug at once.
   */
  sensorStateChanged(): void;
  stop(): Promise<void>;
}

export function startAgentMqtt(o: AgentMqttOptions): AgentMqtt {
  const { config } = o;
  const log = (component: string) => o.logger.child({ component });
  const topics = deviceTopics(config.mqtt.baseTopic, config.deviceId);
  const secrets = connectionSecrets(config);
  const dir = deviceStateDir(config);
  const outbox = new DurableOutbox({
    dir: join(dir, 'outbox'),
    maxBytes: config.mqtt.outboxMaxBytes,
    maxRecords: config.mqtt.outboxMax,
    maxAgeMs: config.mqtt.outboxMaxAgeS * 1000,
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
  const recent = new EmbeddingRing(config.remote.testWindows);
  // eslint-disable-next-line prefer-const -- assigned after the service that calls back into it
  let api: MqttApi | undefined;
  const service = new LabelService<LabelSet>({
    store: o.labels.store,
    limits: config.remote,
    build: (labels, opts) => o.build(labels, opts),
    apply: (set, labels, removed) => o.apply(set, labels, removed),
    evaluate: (set) => evaluateLabels(set, recent, config.scoring.temperature),
    initial: { ...o.labels.initial, hash: o.initialHash },
    onChange: (current, removed) => api?.labelsChanged(current, removed),
    nonceFile: join(config.stateDir, 'replay-nonces.log'),
    logger: log('labels'),
  });
  api = new MqttApi({
    publisher,
    topics,
    labels: service,
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
        ...(o.extraHealth ? { metrics: o.extraHealth() } : {}),
      };
    },
    homeAssistant: config.homeAssistant,
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
  const theApi = api;

  publisher.start();
  return {
    publisher,
    recent,
    publishEvent: (payload) => {
      const msg = publisher.publishEvent(payload);
      theApi.onEvent(msg);
      return msg;
    },
    currentLabels: () => {
      const c = service.current();
      return { version: c.version, count: c.labels.length };
    },
    sensorStateChanged: () => theApi.healthSoon(),
    stop: async () => {
      theApi.stop();
      await publisher.stop();
    },
  };
}
