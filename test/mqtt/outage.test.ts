/**
 * Broker outages against a real Mosquitto: events flow from the durable outbox while the broker
 * is stopped and started 20 times; a persistent-session subscriber must see every seq.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { tempDir } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const brokers: Mosquitto[] = [];
after(async () => {
  for (const b of brokers) await b.close();
});

test('20 broker restarts with events flowing: every seq arrives, duplicates only identical', async () => {
  const port = await freePort();
  const broker = await startMosquitto({ port, persistence: true });
  brokers.push(broker);
  const topics = deviceTopics('edgebind', 'outage');
  const sub = await startCollector({
    url: broker.url,
    filter: topics.events,
    clientId: 'outage-sub',
    clean: false,
    reconnectPeriodMs: 100,
  });
  const outbox = new DurableOutbox({
    dir: tempDir('outage'),
    maxBytes: 1 << 24,
    maxRecords: 100_000,
    maxAgeMs: 0,
  });
  const pub = new MqttPublisher({
    url: broker.url,
    clientId: 'outage-agent',
    topics,
    outbox,
    keepaliveS: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 300,
    logger: pino({ level: 'silent' }),
  });
  pub.start();
  let produced = 0;
  const source = setInterval(() => {
    pub.publishEvent({ id: `ev-${produced}`, type: 'start', label: 'synthetic', score: 0.5 });
    produced++;
  }, 15);
  const seqs = () => sub.messages.map((m) => (m.json as { seq: number }).seq);
  /** Waits for `cond` (polled), failing after a bound no loaded machine needs. */
  const until = async (what: string, cond: () => boolean) => {
    const deadline = Date.now() + 30_000;
    while (!cond()) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(20);
    }
  };
  try {
    for (let i = 0; i < 20; i++) {
      // Each outage starts once the agent is back and events reach the subscriber again: the
      // count of outages the agent lived through does not depend on how fast this machine is.
      await until(`reconnect ${i}`, () => pub.stats().connected && pub.stats().reconnects >= i);
      const last = Math.max(0, ...seqs());
      await until(`events flowing after outage ${i}`, () => seqs().some((q) => q > last));
      await broker.stop();
      await sleep(100); // down for a while (at least this long), events still produced
      await broker.start();
    }
    await until('the last reconnect', () => pub.stats().reconnects >= 20);
  } finally {
    clearInterval(source);
  }
  const deadline = Date.now() + 60_000;
  while (new Set(seqs()).size < produced && Date.now() < deadline) await sleep(100);
  await pub.stop();
  await sub.close();

  assert.ok(produced > 100, `a steady stream of events (${produced})`);
  const bySeq = new Map<number, string>();
  for (const m of sub.messages) {
    const ev = m.json as { seq: number; id: string };
    const first = bySeq.get(ev.seq);
    if (first !== undefined) assert.equal(m.text, first, `a duplicate of seq ${ev.seq} is identical`);
    bySeq.set(ev.seq, m.text);
    assert.equal(ev.id, `ev-${ev.seq - 1}`, 'seq and id belong together');
  }
  const missing: number[] = [];
  for (let s = 1; s <= produced; s++) if (!bySeq.has(s)) missing.push(s);
  assert.deepEqual(missing, [], `no gap in seq 1..${produced}`);
  assert.equal(pub.stats().outboxDepth, 0, 'the outbox drained');
  assert.ok(pub.stats().reconnects >= 20, `reconnected after each outage (${pub.stats().reconnects})`);
});
