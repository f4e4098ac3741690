import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { isListening } from './free-port.js';
import { findExecutable, startMosquitto, type Mosquitto } from './mosquitto.js';
import { startCliCollector, startCollector, type Collector } from './mqtt-collector.js';

async function connect(url: string): Promise<MqttClient> {
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 }, false);
  client.on('error', () => {});
  return client;
}

/** Publishes with a fresh client until `collector` sees it: a reconnecting subscriber needs a moment. */
async function publishUntilSeen(
  url: string,
  collector: Collector<{ topic: string; text: string }>,
  topic: string,
  text: string,
): Promise<void> {
  const pub = await connect(url);
  try {
    const deadline = Date.now() + 5000;
    for (;;) {
      await pub.publishAsync(topic, text, { qos: 1 });
      try {
        await collector.waitFor((m) => m.topic === topic && m.text === text, 200);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
  } finally {
    await pub.endAsync(true);
  }
}

void describe('startMosquitto', { timeout: 60_000 }, () => {
  let broker: Mosquitto;
  const cleanup: Array<() => Promise<unknown>> = [];

  before(async () => {
    broker = await startMosquitto();
  });

  after(async () => {
    for (const fn of cleanup.reverse()) await fn();
    const { dir } = broker;
    await broker.close();
    assert.equal(existsSync(dir), false);
  });

  void it('runs a real mosquitto on a free 127.0.0.1 port', async () => {
    assert.ok(broker.port > 0);
    assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);
    assert.equal(broker.running, true);
    assert.equal(await isListening(broker.port), true);
    assert.match(broker.logs(), /mosquitto version \S+ running/);
    const config = readFileSync(path.join(broker.dir, 'mosquitto.conf'), 'utf8');
    assert.match(config, new RegExp(`^listener ${broker.port} 127\\.0\\.0\\.1$`, 'm'));
    assert.match(config, /^persistence false$/m);
  });

  void it('carries JSON, retained and QoS 1 messages to an MQTT.js collector', async () => {
    const pub = await connect(broker.url);
    cleanup.push(() => pub.endAsync(true));
    await pub.publishAsync('edgebind/m1/status', 'online', { qos: 1, retain: true });
    const sub = await startCollector({ url: broker.url, filter: 'edgebind/m1/#' });
    cleanup.push(() => sub.close());
    const retained = await sub.waitFor((m) => m.topic === 'edgebind/m1/status');
    assert.deepEqual([retained.text, retained.retain], ['online', true]);

    await pub.publishAsync('edgebind/m1/events', JSON.stringify({ label: 'dog', score: 0.9 }), { qos: 1 });
    const event = await sub.waitFor((m) => m.topic === 'edgebind/m1/events');
    assert.deepEqual(event.json, { label: 'dog', score: 0.9 });
    assert.deepEqual([event.qos, event.retain], [1, false]);
    assert.equal(event.payload.toString(), event.text);
  });

  void it('waitFor rejects after its timeout, naming what did arrive', async () => {
    const sub = await startCollector({ url: broker.url, filter: 'edgebind/m2/#' });
    cleanup.push(() => sub.close());
    const pub = await connect(broker.url);
    await pub.publishAsync('edgebind/m2/other', 'not it', { qos: 1 });
    await pub.endAsync();
    await sub.waitFor(() => true);
    await assert.rejects(
      sub.waitFor((m) => m.text === 'never', 100),
      /within 100 ms.*edgebind\/m2\/other not it/,
    );
  });

  void it('a mosquitto_sub collector sees messages the way a user would', async () => {
    const pub = await connect(broker.url);
    cleanup.push(() => pub.endAsync(true));
    await pub.publishAsync('edgebind/m3/status', 'online', { qos: 1, retain: true });
    const cli = await startCliCollector({ port: broker.port, filter: 'edgebind/m3/#' });
    cleanup.push(() => cli.close());
    const retained = await cli.waitFor((m) => m.topic === 'edgebind/m3/status');
    assert.equal(retained.line, 'edgebind/m3/status online');

    await pub.publishAsync('edgebind/m3/events', JSON.stringify({ label: 'glass break' }), { qos: 1 });
    const event = await cli.waitFor((m) => m.topic === 'edgebind/m3/events');
    assert.deepEqual(event.json, { label: 'glass break' });
    assert.ok(
      cli.messages.every((m) => m.topic.startsWith('edgebind/m3/')),
      'probe lines are hidden',
    );
    await cli.close();
    await cli.close();
  });

  void it('restart keeps the port, and reconnecting clients carry on', async () => {
    const port = broker.port;
    const sub = await startCollector({ url: broker.url, filter: 'edgebind/m4/#', reconnectPeriodMs: 100 });
    cleanup.push(() => sub.close());
    for (let i = 0; i < 3; i++) {
      await broker.restart();
      assert.equal(broker.port, port);
      assert.equal(broker.running, true);
      await publishUntilSeen(broker.url, sub, 'edgebind/m4/n', `after restart ${i}`);
    }
    assert.equal(broker.logs().match(/mosquitto version \S+ running/g)?.length, 4);
  });

  void it('kill drops the broker at once; start brings it back on the same port', async () => {
    const port = broker.port;
    await broker.kill();
    assert.equal(broker.running, false);
    assert.equal(await isListening(port), false);
    assert.match(broker.logs(), /exited with SIGKILL/);
    await broker.start();
    assert.equal(broker.port, port);
    const sub = await startCollector({ url: broker.url, filter: 'edgebind/m5' });
    cleanup.push(() => sub.close());
    await publishUntilSeen(broker.url, sub, 'edgebind/m5', 'back');
  });

  void it('stop terminates cleanly and frees the port; stopping again is a no-op', async () => {
    await broker.stop();
    assert.equal(broker.running, false);
    assert.equal(await isListening(broker.port), false);
    assert.match(broker.logs(), /mosquitto version \S+ terminating/);
    await broker.stop();
    await broker.start();
    assert.equal(await isListening(broker.port), true);
  });
});

void describe('startMosquitto options', { timeout: 60_000 }, () => {
  void it('persistence keeps retained messages across a restart; extraConfig is appended', async () => {
    const broker = await startMosquitto({ persistence: true, extraConfig: 'max_keepalive 120' });
    try {
      assert.match(readFileSync(path.join(broker.dir, 'mosquitto.conf'), 'utf8'), /^max_keepalive 120$/m);
      const pub = await connect(broker.url);
      await pub.publishAsync('edgebind/p/status', 'online', { qos: 1, retain: true });
      await pub.endAsync();
      await broker.restart();
      const sub = await startCollector({ url: broker.url, filter: 'edgebind/p/status' });
      const msg = await sub.waitFor(() => true);
      await sub.close();
      assert.deepEqual([msg.text, msg.retain], ['online', true]);
    } finally {
      await broker.close();
    }
  });

  void it('fails clearly when the requested port stays taken', async () => {
    const blocker = net.createServer().listen({ host: '127.0.0.1', port: 0 });
    await once(blocker, 'listening');
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        startMosquitto({ port, startTimeoutMs: 500 }),
        new RegExp(`127\\.0\\.0\\.1:${port} still in use`),
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  void it('a missing binary is an error with the install command, never a skip', () => {
    assert.throws(
      () => findExecutable('mosquitto', 'mosquitto', { searchPath: '', fallbackDirs: [] }),
      /mosquitto not found.*apt-get install mosquitto/,
    );
    assert.throws(
      () =>
        findExecutable('mosquitto_sub', 'mosquitto-clients', {
          searchPath: '/nonexistent',
          fallbackDirs: [],
        }),
      /apt-get install mosquitto-clients/,
    );
    assert.ok(path.isAbsolute(findExecutable('mosquitto', 'mosquitto')));
  });
});
