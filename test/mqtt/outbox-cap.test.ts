/**
 * `mqtt.dropped` at the outbox cap equals what subscribers really miss (issue #14 item 6), against
 * a real Mosquitto behind a TCP proxy that can withhold the broker's replies: events the broker
 * received and delivered, but whose PUBACK never came before the connection dropped, are counted
 * as `droppedUnconfirmed` when the cap drops them, not as lost.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { after, test } from 'node:test';
import pino from 'pino';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { tempDir } from '../helpers/agent-config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const brokers: Mosquitto[] = [];
after(async () => {
  for (const b of brokers) await b.close();
});

/** Forwards 127.0.0.1:<port> to the broker; can drop the broker's replies, cut and refuse. */
async function startProxy(brokerPort: number) {
  const sockets = new Set<net.Socket>();
  const state = { hold: false, refuse: false };
  const server = net.createServer((client) => {
    if (state.refuse) return client.destroy();
    const upstream = net.connect(brokerPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      if (!state.hold) client.write(d); // held: PUBACKs (and everything else) never arrive
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    state,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('at the outbox cap, mqtt.dropped equals the seq gap subscribers see', async () => {
  const broker = await startMosquitto();
  brokers.push(broker);
  const proxy = await startProxy(broker.port);
  const topics = deviceTopics('edgebind', 'cap');
  const sub = await startCollector({ url: broker.url, filter: topics.events });
  const outbox = new DurableOutbox({
    dir: tempDir('outbox-cap'),
    maxBytes: 1 << 20,
    maxRecords: 20,
    maxAgeMs: 0,
  });
  const pub = new MqttPublisher({
    url: proxy.url,
    clientId: 'cap-agent',
    topics,
    outbox,
    keepaliveS: 30,
    reconnectMinMs: 100,
    reconnectMaxMs: 1000,
    maxInflight: 8,
    logger: pino({ level: 'silent' }),
  });
  const seen = () => new Set(sub.messages.map((m) => (m.json as { seq: number }).seq));
  let n = 0;
  const emit = (count: number) => {
    for (let i = 0; i < count; i++) pub.publishEvent({ id: `ev-${n++}`, type: 'start' });
  };
  try {
    pub.start();
    await until('connected', () => pub.isConnected);
    emit(10);
    await until('the first 10 acknowledged', () => pub.stats().outboxDepth === 0);

    // The broker takes and delivers the next 5, but its PUBACKs never reach the agent.
    proxy.state.hold = true;
    emit(5);
    await until('the 5 delivered to the subscriber', () => seen().size === 15);
    assert.equal(pub.stats().outboxDepth, 5, 'not acknowledged');
    proxy.state.refuse = true;
    proxy.cut();
    await until('the agent to notice the disconnect', () => !pub.isConnected);

    // 40 more while disconnected: the cap of 20 drops the 5 unconfirmed and the 20 oldest new ones.
    emit(40);
    proxy.state.hold = false;
    proxy.state.refuse = false;
    await until(
      'the outbox to drain after the reconnect',
      () => pub.isConnected && pub.stats().outboxDepth === 0,
    );
    await until('all kept events delivered', () => seen().has(n));

    const got = seen();
    const gap: number[] = [];
    for (let s = 1; s <= n; s++) if (!got.has(s)) gap.push(s);
    const stats = pub.stats();
    assert.equal(
      stats.dropped,
      gap.length,
      `dropped ${stats.dropped} = seqs missing ${gap.length} (${gap.join(',')})`,
    );
    assert.equal(stats.droppedUnconfirmed, 5, 'the delivered-but-unacknowledged ones are counted apart');
    assert.equal(gap.length, 20);
  } finally {
    await pub.stop(0);
    await sub.close();
    await proxy.close();
  }
});
