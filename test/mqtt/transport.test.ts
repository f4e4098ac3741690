/**
 * Transports and MQTT 5 options: ws:// (aedes behind a WebSocket server: the Mosquitto build here
 * cannot open websocket listeners), MQTT 5 message expiry on events, and a persistent session.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import pino from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { MqttPublisher, type PublisherOptions } from '../../src/mqtt/publisher.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { tempDir } from '../helpers/agent-config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let broker: Mosquitto;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

function publisher(url: string, name: string, over: Partial<PublisherOptions> = {}): MqttPublisher {
  return new MqttPublisher({
    url,
    clientId: name,
    topics: deviceTopics('edgebind', name),
    outbox: new DurableOutbox({ dir: tempDir(name), maxBytes: 1 << 20, maxRecords: 100, maxAgeMs: 0 }),
    keepaliveS: 10,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger: pino({ level: 'silent' }),
    ...over,
  });
}

async function connected(p: MqttPublisher): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!p.isConnected && Date.now() < deadline) await sleep(20);
  assert.ok(p.isConnected, 'connected');
}

test('events over ws:// reach a subscriber', async () => {
  const aedes = await Aedes.createBroker();
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => aedes.handle(createWebSocketStream(ws)));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const sub = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  const got: string[] = [];
  sub.on('message', (_t, payload) => got.push(payload.toString()));
  await sub.subscribeAsync('edgebind/ws-agent/events', { qos: 1 });
  const pub = publisher(url, 'ws-agent');
  pub.start();
  try {
    await connected(pub);
    pub.publishEvent({ id: 'e1', type: 'start', label: 'dog', score: 0.9 });
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(JSON.parse(got[0]!), { seq: 1, id: 'e1', type: 'start', label: 'dog', score: 0.9 });
  } finally {
    await pub.stop(200);
    await sub.endAsync(true);
    for (const c of wss.clients) c.terminate();
    wss.close();
    http.close();
    await new Promise<void>((r) => aedes.close(() => r()));
  }
});

test('MQTT 5: events carry message expiry; a persistent session is asked for', async () => {
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  const expiry: (number | undefined)[] = [];
  sub.on('message', (_t, _p, packet) => expiry.push(packet.properties?.messageExpiryInterval));
  await sub.subscribeAsync('edgebind/v5-agent/events', { qos: 1 });
  const pub = publisher(broker.url, 'v5-agent', {
    protocolVersion: 5,
    messageExpiryS: 600,
    persistentSession: true,
    sessionExpiryS: 120,
  });
  pub.start();
  try {
    await connected(pub);
    pub.publishEvent({ id: 'e1', type: 'start', label: 'dog', score: 0.9 });
    const deadline = Date.now() + 5000;
    while (expiry.length === 0 && Date.now() < deadline) await sleep(20);
    assert.ok(expiry[0] !== undefined && expiry[0] > 0 && expiry[0] <= 600, `expiry ${String(expiry[0])}`);
    assert.match(broker.logs(), /as v5-agent \(p5, c0,/, 'clean start off (persistent session)');
  } finally {
    await pub.stop(200);
    await sub.endAsync(true);
  }
  const collector = await startCollector({ url: broker.url, filter: 'edgebind/v5-agent/status' });
  try {
    const m = await collector.waitFor(() => true);
    assert.equal(m.text, 'offline', 'retained offline after a clean stop');
    assert.equal(m.retain, true);
  } finally {
    await collector.close();
  }
});
