/**
 * Subscribers that record what a broker delivers, for MQTT integration tests: one on MQTT.js
 * (sees retain and QoS), one on the real `mosquitto_sub -v` CLI (sees what a user would see).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import mqtt, { connectAsync, type MqttClient } from 'mqtt';
import { findExecutable } from './mosquitto.js';

export type QoS = 0 | 1 | 2;

/** A message as MQTT.js received it. `json` is present only when the payload parses as JSON. */
export interface CollectedMessage {
  topic: string;
  payload: Buffer;
  text: string;
  json?: unknown;
  retain: boolean;
  qos: QoS;
}

/** A message as `mosquitto_sub -v` printed it (`topic payload`, one line). */
export interface CliMessage {
  topic: string;
  payload: Buffer;
  text: string;
  json?: unknown;
  /** The raw output line. */
  line: string;
}

export interface Collector<T> {
  /** Everything received so far, oldest first. */
  readonly messages: readonly T[];
  /**
   * The first message (already received or still to come) that matches; rejects after
   * `timeoutMs` (default 5000) listing what did arrive.
   */
  waitFor(predicate: (message: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Forgets the messages received so far. */
  clear(): void;
  /** Disconnects; idempotent. */
  close(): Promise<void>;
}

export interface MqttCollector extends Collector<CollectedMessage> {
  /** The underlying client, e.g. to check `connected` during a broker outage. */
  readonly client: MqttClient;
}

export interface CollectorOptions {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** Topic filter(s) to subscribe to. */
  filter: string | string[];
  /** Subscription QoS. Default 1. */
  qos?: QoS;
  /** Default: a random `collector-…` id. */
  clientId?: string;
  /** Clean session. Default true. */
  clean?: boolean;
  /** MQTT.js reconnect period; it resubscribes after reconnecting. Default 200 ms, 0 disables. */
  reconnectPeriodMs?: number;
}

const DEFAULT_WAIT_MS = 5000;
// Starting mosquitto_sub is a process spawn: on a loaded machine it took over 5 s (issue #24);
// the wait ends as soon as the probe arrives, so the bound only decides when to give up.
const READY_WAIT_MS = 60_000;

/** Connects an MQTT.js subscriber and resolves once the subscription is granted. */
export async function startCollector(opts: CollectorOptions): Promise<MqttCollector> {
  const filters = Array.isArray(opts.filter) ? opts.filter : [opts.filter];
  const qos = opts.qos ?? 1;
  const log = new MessageLog<CollectedMessage>(filters.join(', '));
  // The message listener must exist before CONNACK: a resumed persistent session delivers its
  // queued messages right after it, before connectAsync's promise would let us attach one.
  const client = mqtt.connect(opts.url, {
    clientId: opts.clientId ?? `collector-${randomUUID().slice(0, 8)}`,
    clean: opts.clean ?? true,
    reconnectPeriod: opts.reconnectPeriodMs ?? 200,
    connectTimeout: 5000,
  });
  client.on('message', (topic, payload, packet) => {
    log.push({ topic, ...decode(payload), retain: packet.retain, qos: packet.qos });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
  } catch (err) {
    client.end(true);
    throw err;
  }
  // Without a listener, a refused reconnect during a broker outage would crash the test process.
  client.on('error', () => {});
  try {
    const granted = await client.subscribeAsync(filters, { qos });
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) throw new Error(`subscription refused for ${refused.join(', ')}`);
  } catch (err) {
    await client.endAsync(true);
    throw err;
  }

  let closing: Promise<void> | undefined;
  return {
    client,
    get messages() {
      return log.messages;
    },
    waitFor: (predicate, timeoutMs) => log.waitFor(predicate, timeoutMs),
    clear: () => log.clear(),
    close: () => (closing ??= client.endAsync(true)),
  };
}

export interface CliCollectorOptions {
  /** Broker port on `host`. */
  port: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Topic filter(s), each passed as `-t`. */
  filter: string | string[];
  /** Subscription QoS (`-q`). Default 1. */
  qos?: QoS;
  /** More `mosquitto_sub` arguments, e.g. `['-R']` to hide retained messages. */
  extraArgs?: string[];
  /** How long to wait for the subscription to be live. Default 60 s. */
  readyTimeoutMs?: number;
}

export interface CliCollector extends Collector<CliMessage> {
  /** Everything `mosquitto_sub` wrote to stderr. */
  stderr(): string;
}

/**
 * Runs `mosquitto_sub -v` and parses each output line as `topic payload` (split at the first
 * space, so payloads must be single-line). Resolves once the subscription is live: it also
 * subscribes to a private probe topic and publishes there (via MQTT.js) until the probe shows up,
 * because mosquitto_sub prints nothing when its SUBSCRIBE is acknowledged. Probe lines are hidden.
 */
export async function startCliCollector(opts: CliCollectorOptions): Promise<CliCollector> {
  const bin = findExecutable('mosquitto_sub', 'mosquitto-clients');
  const host = opts.host ?? '127.0.0.1';
  const filters = Array.isArray(opts.filter) ? opts.filter : [opts.filter];
  const probeTopic = `edgebind-test/probe/${randomUUID()}`;
  const args = ['-h', host, '-p', String(opts.port), '-q', String(opts.qos ?? 1), '-v'];
  for (const filter of [...filters, probeTopic]) args.push('-t', filter);
  args.push(...(opts.extraArgs ?? []));

  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(() => undefined);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const log = new MessageLog<CliMessage>(filters.join(', '));
  let probeSeen = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const space = line.indexOf(' ');
    const topic = space < 0 ? line : line.slice(0, space);
    if (topic === probeTopic) {
      probeSeen = true;
      return;
    }
    log.push({ topic, ...decode(Buffer.from(space < 0 ? '' : line.slice(space + 1), 'utf8')), line });
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= stopChild(child, exited));
  try {
    await waitForProbe({
      url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${opts.port}`,
      topic: probeTopic,
      seen: () => probeSeen,
      exited: () => child.exitCode !== null || child.signalCode !== null,
      timeoutMs: opts.readyTimeoutMs ?? READY_WAIT_MS,
    });
  } catch (err) {
    await close();
    throw new Error(
      `mosquitto_sub ${args.join(' ')} did not get ready: ${(err as Error).message}\n${stderr}`,
      {
        cause: err,
      },
    );
  }

  return {
    get messages() {
      return log.messages;
    },
    waitFor: (predicate, timeoutMs) => log.waitFor(predicate, timeoutMs),
    clear: () => log.clear(),
    close,
    stderr: () => stderr,
  };
}

async function waitForProbe(opts: {
  url: string;
  topic: string;
  seen: () => boolean;
  exited: () => boolean;
  timeoutMs: number;
}): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const client = await connectAsync(opts.url, { reconnectPeriod: 0, connectTimeout: opts.timeoutMs }, false);
  client.on('error', () => {});
  try {
    while (!opts.seen()) {
      if (opts.exited()) throw new Error('mosquitto_sub exited');
      if (Date.now() > deadline) throw new Error(`probe not received within ${opts.timeoutMs} ms`);
      await client.publishAsync(opts.topic, 'probe', { qos: 0 });
      await delay(50);
    }
  } finally {
    await client.endAsync(true);
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

function decode(payload: Buffer): { payload: Buffer; text: string; json?: unknown } {
  const text = payload.toString('utf8');
  try {
    return { payload, text, json: JSON.parse(text) as unknown };
  } catch {
    return { payload, text };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Waiter<T> {
  predicate: (message: T) => boolean;
  resolve: (message: T) => void;
}

/** Received messages plus pending `waitFor` calls. */
class MessageLog<T extends { topic: string; text: string }> {
  private list: T[] = [];
  private readonly waiters = new Set<Waiter<T>>();

  constructor(private readonly what: string) {}

  get messages(): readonly T[] {
    return this.list;
  }

  push(message: T): void {
    this.list.push(message);
    for (const waiter of this.waiters) {
      if (waiter.predicate(message)) {
        this.waiters.delete(waiter);
        waiter.resolve(message);
      }
    }
  }

  clear(): void {
    this.list = [];
  }

  waitFor(predicate: (message: T) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const found = this.list.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        predicate,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const got = this.list.slice(-10).map((m) => `${m.topic} ${m.text.slice(0, 80)}`);
        reject(
          new Error(
            `no matching message on ${this.what} within ${timeoutMs} ms; ` +
              `received ${this.list.length}${got.length > 0 ? `, last: ${got.join(' | ')}` : ''}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}
