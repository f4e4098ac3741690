/**
 * Publishes to the broker with mqtt.js: retained availability with a last will, and events at
 * QoS 1 from a bounded outbox that keeps them while the broker is unreachable.
 *
 * mqtt.js retries at a fixed period; we reconnect ourselves with exponential backoff and log one
 * line per distinct failure instead of one per attempt.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { sleep } from '../pipeline/clock.js';
import type { DeviceTopics } from './topics.js';

export interface PublisherOptions {
  url: string;
  clientId: string;
  topics: DeviceTopics;
  username?: string;
  password?: string;
  keepaliveS: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  outboxMax: number;
  logger: Logger;
}

export interface PublisherStats {
  connected: boolean;
  outboxDepth: number;
  published: number;
  dropped: number;
}

export class MqttPublisher {
  private client: MqttClient | undefined;
  private readonly outbox: string[] = [];
  private connected = false;
  private draining = false;
  private stopping = false;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastFailure = '';
  private published = 0;
  private dropped = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: PublisherOptions) {
    this.backoffMs = opts.reconnectMinMs;
  }

  /** Starts connecting; never throws for an unreachable broker (it keeps retrying). */
  start(): void {
    const { opts } = this;
    const options: IClientOptions = {
      clientId: opts.clientId,
      keepalive: opts.keepaliveS,
      reconnectPeriod: 0, // we schedule reconnects with backoff
      connectTimeout: 10_000,
      clean: true,
      will: { topic: opts.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
    };
    const client = mqtt.connect(opts.url, options);
    this.client = client;
    client.on('connect', () => {
      this.connected = true;
      this.backoffMs = opts.reconnectMinMs;
      this.lastFailure = '';
      opts.logger.info({ url: opts.url }, `mqtt: connected to ${opts.url}`);
      client.publish(opts.topics.status, 'online', { qos: 1, retain: true });
      void this.drain();
    });
    client.on('error', (err) => {
      this.noteFailure((err as NodeJS.ErrnoException).code ?? err.message);
    });
    client.on('close', () => {
      const was = this.connected;
      this.connected = false;
      if (this.stopping) return;
      if (was) this.noteFailure('connection lost');
      this.scheduleReconnect();
    });
  }

  /** Queues an event payload (serialised once, here) and publishes it as soon as possible. */
  publishEvent(payload: object): void {
    if (this.outbox.length >= this.opts.outboxMax) {
      this.outbox.shift();
      this.dropped++;
      this.opts.logger.warn(
        { outboxMax: this.opts.outboxMax },
        'mqtt: outbox full, dropped the oldest event',
      );
    }
    this.outbox.push(JSON.stringify(payload));
    void this.drain();
  }

  stats(): PublisherStats {
    return {
      connected: this.connected,
      outboxDepth: this.outbox.length,
      published: this.published,
      dropped: this.dropped,
    };
  }

  /**
   * Flushes queued events while connected (at most `flushMs`), publishes the retained `offline`
   * status and disconnects. Bounded in time so shutdown always completes.
   */
  async stop(flushMs = 2000): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (this.connected && this.outbox.length > 0) {
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push(r)), sleep(flushMs)]);
    }
    this.stopping = true;
    clearTimeout(this.retryTimer);
    if (this.connected) {
      await Promise.race([
        client
          .publishAsync(this.opts.topics.status, 'offline', { qos: 1, retain: true })
          .catch(() => undefined),
        sleep(1000),
      ]);
      await Promise.race([client.endAsync().catch(() => undefined), sleep(1000)]);
    }
    client.end(true);
    if (this.outbox.length > 0) {
      this.opts.logger.warn({ pending: this.outbox.length }, 'mqtt: stopped with events not yet published');
    }
  }

  private noteFailure(reason: string): void {
    if (reason === this.lastFailure || this.stopping) return;
    this.lastFailure = reason;
    this.opts.logger.warn(
      { url: this.opts.url, reason, outboxDepth: this.outbox.length },
      `mqtt: cannot reach broker ${this.opts.url} (${reason}); retrying with backoff, events are kept`,
    );
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

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.connected && !this.stopping && this.outbox.length > 0) {
        const payload = this.outbox[0]!;
        try {
          await this.client!.publishAsync(this.opts.topics.events, payload, { qos: 1 });
        } catch (err) {
          this.opts.logger.debug({ err }, 'mqtt: publish failed, will retry after reconnect');
          break;
        }
        // Only now, acknowledged by the broker, does the event leave the outbox.
        if (this.outbox[0] === payload) this.outbox.shift();
        this.published++;
      }
    } finally {
      this.draining = false;
      if (this.outbox.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
