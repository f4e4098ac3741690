/**
 * Prometheus metrics on loopback (default http://127.0.0.1:9464/metrics) with prom-client, on a
 * registry of our own (never the global one, so tests and several agents do not collide).
 *
 * The agent drives it through a few calls, so wiring stays a few lines:
 *   metrics.setBuildInfo({version, packId, packVersion})  once, when the pack is loaded
 *   metrics.setLabels(names)                        at start and after every label change
 *   metrics.observeEncode(modality, provider, ms)   after each encoder batch
 *   metrics.observeEvent(label, type, score)        for each published event
 *   metrics.setSensorHealth(sensorId, healthy)      when a sensor fails or recovers
 *   metrics.setStats(agent.stats())                 on a timer (e.g. every 5 s)
 * Per label, `edgebind_label_active` and `edgebind_label_score` are the gauges to alert on
 * (issue 17 item 12), e.g. `edgebind_label_active{label="smoke"} == 1`.
 * `summary()` is the same data as one JSON-friendly object for the MQTT health topic.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const DEFAULT_METRICS_PORT = 9464;

/** The cumulative counters `Agent.stats()` returns (only the fields metrics use). */
export interface StatsInput {
  windows: Record<string, { pushed: number; dropped: number; depth: number }>;
  mqtt: {
    connected: boolean;
    outboxDepth: number;
    published: number;
    dropped: number;
    /** `degraded` while the state disk refuses writes (issue #14). */
    outboxState?: 'ok' | 'degraded';
    outboxUnwritten?: number;
  };
  /** The embedding history and the event clips (issue #18), when enabled. */
  history?: { state: 'ok' | 'degraded'; written: number; dropped: number; bytes: number };
  clips?: { state: 'ok' | 'degraded'; written: number; failed: number; dropped: number; bytes: number };
  /** Requests answered since start: ok, and error answers by code (mqtt/payloads.ts RequestCounts). */
  requests?: { ok: number; refused: Partial<Record<string, number>> };
}

/** What the pipeline reports as it runs; `Metrics` implements it, tests can pass a recorder. */
export interface AgentMetrics {
  observeEncode(modality: string, provider: string, ms: number): void;
  /** `score`: the event's score; it sets the label's active and score gauges. */
  observeEvent(label: string, type?: string, score?: number): void;
  setSensorHealth(sensorId: string, healthy: boolean): void;
  /** The active label names: each gets its gauges at 0, removed ones lose theirs. */
  setLabels?(names: readonly string[]): void;
  setBuildInfo?(info: BuildInfo): void;
}

/** What `edgebind_build_info` carries as labels. */
export interface BuildInfo {
  /** edgebind's package version. */
  version: string;
  packId: string;
  packVersion: string;
}

export interface MetricsOptions {
  /** TCP port; 0 picks a free one (tests). Default 9464. */
  port?: number;
  /** Default `127.0.0.1`: metrics stay on the device unless you proxy them. */
  host?: string;
  logger?: Logger;
  /** Node process metrics (memory, event-loop lag, GC). Default true. */
  processMetrics?: boolean;
  /** Monotonic ms, for rates. Default `performance.now()`. */
  nowMs?: () => number;
}

export interface SensorSummary {
  windowsPerSecond: number;
  windowsTotal: number;
  droppedTotal: number;
  queueDepth: number;
  healthy: boolean;
}

export interface MetricsSummary {
  sensors: Record<string, SensorSummary>;
  encoders: Record<string, { provider: string; batches: number; meanMs: number; maxMs: number }>;
  events: Record<string, number>;
  mqtt: { connected: boolean; outboxDepth: number; published: number; dropped: number };
}

export class Metrics implements AgentMetrics {
  readonly registry = new Registry();
  private server: Server | undefined;
  private readonly nowMs: () => number;
  private readonly windows: Counter<'sensor'>;
  private readonly dropped: Counter<'sensor'>;
  private readonly rate: Gauge<'sensor'>;
  private readonly depth: Gauge<'sensor'>;
  private readonly health: Gauge<'sensor'>;
  private readonly encode: Histogram<'modality' | 'provider'>;
  private readonly events: Counter<'label' | 'type'>;
  private readonly labelActive: Gauge<'label'>;
  private readonly labelScore: Gauge<'label'>;
  private readonly buildInfo: Gauge<'version' | 'pack_id' | 'pack_version'>;
  private labelNames = new Set<string>();
  private readonly outbox: Gauge;
  private readonly outboxDegraded: Gauge;
  private readonly outboxUnwritten: Gauge;
  private readonly connected: Gauge;
  private readonly published: Counter;
  private readonly publishDropped: Counter;
  /** History and clips (issue #18): written/lost counters, degraded and bytes gauges, by store. */
  private readonly storeWritten: Counter<'store'>;
  private readonly storeLost: Counter<'store'>;
  private readonly storeDegraded: Gauge<'store'>;
  private readonly storeBytes: Gauge<'store'>;
  private readonly requests: Counter<'result'>;
  private last: { atMs: number; stats: StatsInput } | undefined;
  private readonly sensors = new Map<string, SensorSummary>();
  private readonly encoders = new Map<
    string,
    { provider: string; batches: number; totalMs: number; maxMs: number }
  >();
  private readonly eventCounts = new Map<string, number>();
  private mqtt: MetricsSummary['mqtt'] = { connected: false, outboxDepth: 0, published: 0, dropped: 0 };

  constructor(private readonly opts: MetricsOptions = {}) {
    this.nowMs = opts.nowMs ?? (() => performance.now());
    const registers = [this.registry];
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'edgebind_' });
    this.windows = new Counter({
      name: 'edgebind_windows_total',
      help: 'Windows cut from each sensor stream.',
      labelNames: ['sensor'],
      registers,
    });
    this.dropped = new Counter({
      name: 'edgebind_windows_dropped_total',
      help: 'Windows dropped because the encoder queue was full (oldest first).',
      labelNames: ['sensor'],
      registers,
    });
    this.rate = new Gauge({
      name: 'edgebind_windows_per_second',
      help: 'Windows per second per sensor over the last stats interval.',
      labelNames: ['sensor'],
      registers,
    });
    this.depth = new Gauge({
      name: 'edgebind_window_queue_depth',
      help: 'Windows waiting for the encoder.',
      labelNames: ['sensor'],
      registers,
    });
    this.health = new Gauge({
      name: 'edgebind_sensor_up',
      help: '1 while the sensor delivers frames, 0 while it is failing or restarting.',
      labelNames: ['sensor'],
      registers,
    });
    this.encode = new Histogram({
      name: 'edgebind_encode_seconds',
      help: 'Encoder latency per batch, by modality and execution provider.',
      labelNames: ['modality', 'provider'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.events = new Counter({
      name: 'edgebind_events_total',
      help: 'Label events published, by label and type (start, update, end).',
      labelNames: ['label', 'type'],
      registers,
    });
    this.labelActive = new Gauge({
      name: 'edgebind_label_active',
      help: '1 while an event of the label is open, else 0.',
      labelNames: ['label'],
      registers,
    });
    this.labelScore = new Gauge({
      name: 'edgebind_label_score',
      help: "Score of the label's open event (its latest start or update), 0 while none is open.",
      labelNames: ['label'],
      registers,
    });
    this.buildInfo = new Gauge({
      name: 'edgebind_build_info',
      help: 'Always 1; the labels say which edgebind and which model pack run.',
      labelNames: ['version', 'pack_id', 'pack_version'],
      registers,
    });
    this.outbox = new Gauge({
      name: 'edgebind_mqtt_outbox_depth',
      help: 'Events waiting for the broker.',
      registers,
    });
    this.outboxDegraded = new Gauge({
      name: 'edgebind_mqtt_outbox_degraded',
      help: '1 while the state disk refuses writes and events are held in memory.',
      registers,
    });
    this.outboxUnwritten = new Gauge({
      name: 'edgebind_mqtt_outbox_unwritten',
      help: 'Pending events held only in memory because the state disk refused them.',
      registers,
    });
    this.connected = new Gauge({
      name: 'edgebind_mqtt_connected',
      help: '1 while connected to the broker.',
      registers,
    });
    this.published = new Counter({
      name: 'edgebind_mqtt_published_total',
      help: 'Events the broker acknowledged.',
      registers,
    });
    this.publishDropped = new Counter({
      name: 'edgebind_mqtt_dropped_total',
      help: 'Events dropped by an outbox bound before they were ever sent (the gaps in seq).',
      registers,
    });
    this.requests = new Counter({
      name: 'edgebind_requests_total',
      help: 'Requests on request/<op> answered: result="ok", or the error code (REQUEST_BUSY, SIGNATURE_INVALID, …).',
      labelNames: ['result'],
      registers,
    });
    this.storeWritten = new Counter({
      name: 'edgebind_store_written_total',
      help: 'Written to disk: windows (store="history"), clips (store="clips").',
      labelNames: ['store'],
      registers,
    });
    this.storeLost = new Counter({
      name: 'edgebind_store_lost_total',
      help: 'Lost: history windows dropped (ring full, disk stalled); clips failed or dropped.',
      labelNames: ['store'],
      registers,
    });
    this.storeDegraded = new Gauge({
      name: 'edgebind_store_degraded',
      help: '1 while the store cannot write (e.g. a full disk); detection goes on.',
      labelNames: ['store'],
      registers,
    });
    this.storeBytes = new Gauge({
      name: 'edgebind_store_bytes',
      help: 'Bytes of the store on disk, as of its last retention pass.',
      labelNames: ['store'],
      registers,
    });
  }

  observeEncode(modality: string, provider: string, ms: number): void {
    this.encode.observe({ modality, provider }, ms / 1000);
    const e = this.encoders.get(modality) ?? { provider, batches: 0, totalMs: 0, maxMs: 0 };
    e.provider = provider;
    e.batches++;
    e.totalMs += ms;
    e.maxMs = Math.max(e.maxMs, ms);
    this.encoders.set(modality, e);
  }

  observeEvent(label: string, type = 'start', score?: number): void {
    this.events.inc({ label, type });
    this.eventCounts.set(label, (this.eventCounts.get(label) ?? 0) + 1);
    const open = type !== 'end';
    this.labelActive.set({ label }, open ? 1 : 0);
    if (!open) this.labelScore.set({ label }, 0);
    else if (score !== undefined && Number.isFinite(score)) this.labelScore.set({ label }, score);
  }

  setLabels(names: readonly string[]): void {
    const next = new Set(names);
    for (const name of this.labelNames)
      if (!next.has(name)) {
        this.labelActive.remove({ label: name });
        this.labelScore.remove({ label: name });
      }
    for (const name of next)
      if (!this.labelNames.has(name)) {
        this.labelActive.set({ label: name }, 0);
        this.labelScore.set({ label: name }, 0);
      }
    this.labelNames = next;
  }

  setBuildInfo(info: BuildInfo): void {
    this.buildInfo.reset();
    this.buildInfo.set({ version: info.version, pack_id: info.packId, pack_version: info.packVersion }, 1);
  }

  setSensorHealth(sensorId: string, healthy: boolean): void {
    this.health.set({ sensor: sensorId }, healthy ? 1 : 0);
    this.sensor(sensorId).healthy = healthy;
  }

  /** Takes cumulative agent stats; counters advance by the difference since the last call. */
  setStats(stats: StatsInput): void {
    const atMs = this.nowMs();
    const prev = this.last;
    for (const [id, w] of Object.entries(stats.windows)) {
      const before = prev?.stats.windows[id];
      const dPushed = Math.max(0, w.pushed - (before?.pushed ?? 0));
      const dDropped = Math.max(0, w.dropped - (before?.dropped ?? 0));
      this.windows.inc({ sensor: id }, dPushed);
      this.dropped.inc({ sensor: id }, dDropped);
      this.depth.set({ sensor: id }, w.depth);
      const s = this.sensor(id);
      if (prev && atMs > prev.atMs) {
        s.windowsPerSecond = round((dPushed * 1000) / (atMs - prev.atMs));
        this.rate.set({ sensor: id }, s.windowsPerSecond);
      }
      s.windowsTotal = w.pushed;
      s.droppedTotal = w.dropped;
      s.queueDepth = w.depth;
    }
    const m = stats.mqtt;
    this.outbox.set(m.outboxDepth);
    this.outboxDegraded.set(m.outboxState === 'degraded' ? 1 : 0);
    this.outboxUnwritten.set(m.outboxUnwritten ?? 0);
    this.connected.set(m.connected ? 1 : 0);
    this.published.inc(Math.max(0, m.published - (prev?.stats.mqtt.published ?? 0)));
    this.publishDropped.inc(Math.max(0, m.dropped - (prev?.stats.mqtt.dropped ?? 0)));
    const h = stats.history;
    const hb = prev?.stats.history;
    if (h) this.setStore('history', h, h.dropped, hb && { written: hb.written, lost: hb.dropped });
    const c = stats.clips;
    const cb = prev?.stats.clips;
    if (c)
      this.setStore(
        'clips',
        c,
        c.failed + c.dropped,
        cb && { written: cb.written, lost: cb.failed + cb.dropped },
      );
    const r = stats.requests;
    if (r) {
      const rb = prev?.stats.requests;
      this.requests.inc({ result: 'ok' }, Math.max(0, r.ok - (rb?.ok ?? 0)));
      for (const [code, n] of Object.entries(r.refused))
        this.requests.inc({ result: code }, Math.max(0, (n ?? 0) - (rb?.refused[code] ?? 0)));
    }
    this.mqtt = {
      connected: m.connected,
      outboxDepth: m.outboxDepth,
      published: m.published,
      dropped: m.dropped,
    };
    this.last = {
      atMs,
      stats: {
        windows: structuredClone(stats.windows),
        mqtt: { ...stats.mqtt },
        ...(stats.history ? { history: { ...stats.history } } : {}),
        ...(stats.clips ? { clips: { ...stats.clips } } : {}),
        ...(stats.requests
          ? { requests: { ok: stats.requests.ok, refused: { ...stats.requests.refused } } }
          : {}),
      },
    };
  }

  private setStore(
    store: 'history' | 'clips',
    now: { state: 'ok' | 'degraded'; written: number; bytes: number },
    lost: number,
    before: { written: number; lost: number } | undefined,
  ): void {
    this.storeWritten.inc({ store }, Math.max(0, now.written - (before?.written ?? 0)));
    this.storeLost.inc({ store }, Math.max(0, lost - (before?.lost ?? 0)));
    this.storeDegraded.set({ store }, now.state === 'degraded' ? 1 : 0);
    this.storeBytes.set({ store }, now.bytes);
  }

  summary(): MetricsSummary {
    return {
      sensors: Object.fromEntries([...this.sensors].map(([id, s]) => [id, { ...s }])),
      encoders: Object.fromEntries(
        [...this.encoders].map(([m, e]) => [
          m,
          {
            provider: e.provider,
            batches: e.batches,
            meanMs: round(e.totalMs / e.batches),
            maxMs: round(e.maxMs),
          },
        ]),
      ),
      events: Object.fromEntries(this.eventCounts),
      mqtt: { ...this.mqtt },
    };
  }

  /** The text a scrape returns. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serves GET /metrics; resolves with the URL once listening. */
  async listen(): Promise<string> {
    const host = this.opts.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: this.opts.port ?? DEFAULT_METRICS_PORT }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
    this.opts.logger?.child({ component: 'metrics' }).info(`metrics on ${url}`);
    return url;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private sensor(id: string): SensorSummary {
    let s = this.sensors.get(id);
    if (!s) {
      s = { windowsPerSecond: 0, windowsTotal: 0, droppedTotal: 0, queueDepth: 0, healthy: true };
      this.sensors.set(id, s);
      this.health.set({ sensor: id }, 1);
    }
    return s;
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
