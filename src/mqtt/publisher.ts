/**
 * The agent's MQTT connection (mqtt.js): retained availability with a last will, events at QoS 1
 * from the durable outbox (removed only on PUBACK), other publishes, request subscriptions.
 *
 * mqtt.js retries at a fixed period; we reconnect ourselves with exponential backoff and log one
 * clear line per distinct failure (refused, bad password, untrusted certificate…), not one per try.
 */
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { sleep } from '../pipeline/clock.js';
import type { DurableOutbox } from './outbox.js';
import type { DeviceTopics } from './topics.js';

export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Default true: the broker's certificate must chain to `ca` (or the system store). */
  rejectUnauthorized?: boolean;
}

export interface PublisherOptions {
  url: string;
  clientId: string;
  topics: DeviceTopics;
  outbox: DurableOutbox;
  username?: string;
  password?: string;
  keepaliveS: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. Default 4. */
  protocolVersion?: 4 | 5;
  /** Persistent session (clean = false). Default false. */
  persistentSession?: boolean;
  /** MQTT 5 session expiry for a persistent session, seconds. */
  sessionExpiryS?: number;
  /** MQTT 5 message expiry of events, seconds (0 = none). */
  messageExpiryS?: number;
  /** Events in flight (awaiting PUBACK) at once. Default 32. */
  maxInflight?: number;
  tls?: TlsFiles;
  logger: Logger;
}

export interface PublisherStats {
  connected: boolean;
  outboxDepth: number;
  outboxBytes: number;
  published: number;
  /** Events lost to an outbox bound before they were ever sent: the gaps in `seq`. */
  dropped: number;
  /** Events dropped by a bound after being sent without a PUBACK (the broker most likely has them). */
  droppedUnconfirmed: number;
  reconnects: number;
  /** `degraded` while the state disk refuses writes (events are then held in memory). */
  outboxState: 'ok' | 'degraded';
  /** Why the outbox is degraded. */
  outboxReason?: string;
  /** Pending events held only in memory (not on disk) because the state disk refused them. */
  outboxUnwritten: number;
}

export type MessageHandler = (
  topic: string,
  payload: Buffer,
  props: { responseTopic?: string; correlationData?: Buffer },
) => void;

export class MqttPublisher {
  private client: MqttClient | undefined;
  private connected = false;
  private stopping = false;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private lastFailure = '';
  private published = 0;
  private reconnects = 0;
  private connects = 0;
  private generation = 0;
  private inflight = 0;
  private sentThrough = 0;
  private reportedDrops = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly connectHooks: (() => void)[] = [];
  private readonly messageHandlers: MessageHandler[] = [];
  private readonly subscriptions = new Set<string>();

  constructor(private readonly opts: PublisherOptions) {
    this.backoffMs = opts.reconnectMinMs;
    // Group commit (issue #19): events go out once an fdatasync covered them.
    opts.outbox.onCommit(() => this.drain());
  }

  get protocolVersion(): 4 | 5 {
    return this.opts.protocolVersion ?? 4;
  }

  /** Starts connecting; never throws for an unreachable broker (it keeps retrying). */
  start(): void {
    const { opts } = this;
    const v5 = this.protocolVersion === 5;
    const options: IClientOptions = {
      clientId: opts.clientId,
      keepalive: opts.keepaliveS,
      protocolVersion: this.protocolVersion,
      reconnectPeriod: 0, // we schedule reconnects with backoff
      connectTimeout: 10_000,
      clean: !opts.persistentSession,
      resubscribe: false, // we subscribe on every connect ourselves
      queueQoSZero: false,
      will: { topic: opts.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(v5 && opts.persistentSession && opts.sessionExpiryS !== undefined
        ? { properties: { sessionExpiryInterval: opts.sessionExpiryS } }
        : {}),
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
      ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}),
      ...(opts.tls?.cert ? { cert: opts.tls.cert } : {}),
      ...(opts.tls?.key ? { key: opts.tls.key } : {}),
      rejectUnauthorized: opts.tls?.rejectUnauthorized ?? true,
    };
    const client = mqtt.connect(opts.url, options);
    this.client = client;
    // Every append is committed within mqtt.outboxCommitDelayMs (group commit), connected or not;
    // this retries, once a second, what a failed disk made the outbox hold in memory.
    this.syncTimer = setInterval(() => opts.outbox.sync(), 1000);
    this.syncTimer.unref();
    client.on('connect', () => {
      this.connected = true;
      this.generation++;
      this.inflight = 0;
      this.sentThrough = 0;
      if (this.connects++ > 0) this.reconnects++;
      this.backoffMs = opts.reconnectMinMs;
      this.lastFailure = '';
      opts.logger.info({ url: opts.url }, `mqtt: connected to ${opts.url}`);
      client.publish(opts.topics.status, 'online', { qos: 1, retain: true });
      if (this.subscriptions.size > 0) {
        client.subscribe([...this.subscriptions], { qos: 1 }, (err) => {
          if (err) opts.logger.warn({ err }, `mqtt: subscribe failed: ${err.message}`);
        });
      }
      for (const hook of this.connectHooks) hook();
      this.drain();
    });
    client.on('message', (topic, payload, packet) => {
      const p = packet.properties;
      const props = {
        ...(p?.responseTopic ? { responseTopic: p.responseTopic } : {}),
        ...(p?.correlationData ? { correlationData: p.correlationData } : {}),
      };
      for (const h of this.messageHandlers) h(topic, payload, props);
    });
    client.on('error', (err) => this.noteFailure(describeFailure(err)));
    client.on('close', () => {
      const was = this.connected;
      this.connected = false;
      this.generation++;
      this.inflight = 0;
      if (this.stopping) return;
      if (was) this.noteFailure({ key: 'lost', text: 'connection lost' });
      this.scheduleReconnect();
    });
  }

  /** Runs on every (re)connect, after `online` is published: re-publish retained state here. */
  onConnect(hook: () => void): void {
    this.connectHooks.push(hook);
  }

  onMessage(handler: MessageHandler): void {
    this.messageHandlers.push(handler);
  }

  /** Subscribes now (when connected) and after every reconnect. */
  subscribe(filter: string): void {
    if (/[+#]/.test(filter) === false && filter.length === 0) throw new TypeError('empty filter');
    this.subscriptions.add(filter);
    if (this.connected) this.client?.subscribe(filter, { qos: 1 });
  }

  /**
   * Appends an event to the durable outbox (it gets the next `seq`) and returns the message as it
   * will be published. It is published at QoS 1 once the outbox's group commit has synced it to
   * disk (within `mqtt.outboxCommitDelayMs` plus one fdatasync), off the caller's path: nothing
   * here waits for the disk or the broker.
   */
  publishEvent<T extends object>(payload: T): T & { seq: number } {
    let msg!: T & { seq: number };
    this.opts.outbox.append((seq) => {
      msg = { seq, ...payload };
      return JSON.stringify(msg);
    });
    this.opts.logger.debug({ seq: msg.seq }, `mqtt: event ${msg.seq} queued`);
    this.reportDrops();
    this.opts.outbox.commitSoon();
    return msg;
  }

  /**
   * Publishes a non-event message. While disconnected it is not queued: retained state is
   * re-published by the `onConnect` hooks. Resolves false when it could not be sent.
   */
  async publish(
    topic: string,
    payload: string | Buffer,
    options: { qos?: 0 | 1; retain?: boolean; properties?: IClientPublishOptions['properties'] } = {},
  ): Promise<boolean> {
    if (/[+#]/.test(topic)) throw new TypeError(`refusing to publish to a wildcard topic: ${topic}`);
    const client = this.client;
    if (!client || !this.connected) return false;
    const props = this.protocolVersion === 5 && options.properties ? { properties: options.properties } : {};
    try {
      await client.publishAsync(topic, payload, {
        qos: options.qos ?? 1,
        retain: options.retain ?? false,
        ...props,
      });
      return true;
    } catch (err) {
      this.opts.logger.debug({ err, topic }, 'mqtt: publish failed');
      return false;
    }
  }

  get isConnected(): boolean {
    return this.connected;
  }

  stats(): PublisherStats {
    const o = this.opts.outbox.stats();
    return {
      connected: this.connected,
      outboxDepth: o.depth,
      outboxBytes: o.bytes,
      published: this.published,
      dropped: o.dropped,
      droppedUnconfirmed: o.droppedUnconfirmed,
      reconnects: this.reconnects,
      outboxState: o.diskError === undefined ? 'ok' : 'degraded',
      ...(o.diskError !== undefined ? { outboxReason: o.diskError } : {}),
      outboxUnwritten: o.unwritten,
    };
  }

  /**
   * Flushes queued events while connected (at most `flushMs`), publishes the retained `offline`
   * status and disconnects. Bounded in time so shutdown always completes. Events not yet
   * acknowledged stay in the outbox on disk and are sent after the next start.
   */
  async stop(flushMs = 2000): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (this.connected && this.opts.outbox.records().length > 0) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), sleep(flushMs)]);
    }
    this.stopping = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.syncTimer);
    if (this.connected) {
      await Promise.race([
        client
          .publishAsync(this.opts.topics.status, 'offline', { qos: 1, retain: true })
          .catch(() => undefined),
        sleep(1000),
      ]);
      await Promise.race([client.endAsync().catch(() => undefined), sleep(1000)]);
    }
    // A graceful end waits for every unacknowledged publish (mqtt.js `outgoing`), e.g. ones sent on
    // a connection that has since dropped, and a later end(true) is then ignored: close the socket.
    if (!client.disconnected) client.stream?.destroy();
    client.end(true);
    const pending = this.opts.outbox.records().length;
    const lost = this.opts.outbox.close();
    if (lost > 0) {
      this.opts.logger.error(
        { pending, lost },
        `mqtt: stopped with ${pending} events not yet published; ${lost} of them could not be written to the ` +
          `full state disk and are lost, the other ${pending - lost} are kept in the outbox and sent after the next start`,
      );
    } else if (pending > 0) {
      this.opts.logger.warn(
        { pending },
        `mqtt: stopped with events not yet published (${pending} kept in the outbox, sent after the next start)`,
      );
    }
  }

  private noteFailure(f: { key: string; text: string }): void {
    if (f.key === this.lastFailure || this.stopping) return;
    this.lastFailure = f.key;
    this.opts.logger.warn(
      { url: this.opts.url, reason: f.key, outboxDepth: this.opts.outbox.stats().depth },
      `mqtt: cannot reach broker ${this.opts.url}: ${f.text}; retrying with backoff, events are kept`,
    );
  }

  private reportDrops(): void {
    const { dropped, droppedAge, droppedSize, droppedUnconfirmed } = this.opts.outbox.stats();
    const all = dropped + droppedUnconfirmed;
    if (all === this.reportedDrops) return;
    // One line per power of two, not one per dropped event.
    const before = this.reportedDrops;
    this.reportedDrops = all;
    if (before === 0 || Math.floor(Math.log2(all)) > Math.floor(Math.log2(before))) {
      const unconfirmed =
        droppedUnconfirmed > 0
          ? ` (plus ${droppedUnconfirmed} sent before without a PUBACK, which the broker most likely has)`
          : '';
      this.opts.logger.warn(
        { dropped, droppedAge, droppedSize, droppedUnconfirmed },
        `mqtt: outbox full or too old, ${dropped} events dropped so far (oldest first)${unconfirmed}`,
      );
    }
  }

  private scheduleReconnect(): void {
    clearTimeout(this.retryTimer);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.opts.reconnectMaxMs, this.backoffMs * 2);
    this.opts.logger.debug({ delayMs: delay }, 'mqtt: reconnecting');
    this.retryTimer = setTimeout(() => {
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  /** Keeps up to `maxInflight` events awaiting PUBACK; each leaves the outbox on its PUBACK. */
  private drain(): void {
    const client = this.client;
    if (!client || !this.connected || this.stopping) return;
    const { outbox } = this.opts;
    const max = this.opts.maxInflight ?? 32;
    const gen = this.generation;
    const records = outbox.records();
    if (records.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    // Only records an fdatasync has covered go out; the rest wait for the next group commit.
    const committed = outbox.committedSeq;
    if (records.at(-1)!.seq > committed) outbox.commitSoon();
    const expiryS = this.opts.messageExpiryS ?? 0;
    // Records are in seq order: start at the first one not yet sent on this connection.
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid]!.seq <= this.sentThrough) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < records.length; i++) {
      const rec = records[i]!;
      if (this.inflight >= max || rec.seq > committed) break;
      this.sentThrough = rec.seq;
      this.inflight++;
      outbox.markSent(rec);
      const props =
        this.protocolVersion === 5 && expiryS > 0
          ? {
              properties: {
                messageExpiryInterval: Math.max(1, expiryS - Math.floor((Date.now() - rec.t) / 1000)),
              },
            }
          : {};
      client.publishAsync(this.opts.topics.events, rec.payload, { qos: 1, ...props }).then(
        () => {
          // Only now, acknowledged by the broker, does the event leave the outbox.
          outbox.ack(rec.seq);
          this.published++;
          if (gen === this.generation) {
            this.inflight--;
            this.drain();
          }
        },
        (err: unknown) => {
          this.opts.logger.debug({ err }, 'mqtt: publish failed, will retry after reconnect');
          if (gen === this.generation) this.inflight--;
        },
      );
    }
  }
}

/** One stable key and one readable reason per kind of connection failure. */
export function describeFailure(err: Error & { code?: unknown }): { key: string; text: string } {
  const code = err.code;
  if (typeof code === 'number') {
    if (code === 4 || code === 134)
      return {
        key: `auth-${code}`,
        text: `the broker refused the login: bad username or password (${err.message})`,
      };
    if (code === 5 || code === 135)
      return { key: `auth-${code}`, text: `the broker refused the login: not authorized (${err.message})` };
    return { key: `connack-${code}`, text: `the broker refused the connection: ${err.message}` };
  }
  if (typeof code === 'string') {
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/.test(code))
      return {
        key: code,
        text: `the broker's TLS certificate is not trusted (${code}: ${err.message}); check mqtt.caFile`,
      };
    if (/^ERR_SSL/.test(code))
      return {
        key: code,
        text: `TLS handshake failed (${code}: ${err.message}); check mqtt.certFile/keyFile`,
      };
    return {
      key: code,
      text: `${code}${err.message && !err.message.includes(code) ? ` (${err.message})` : ''}`,
    };
  }
  return { key: err.message, text: err.message };
}
