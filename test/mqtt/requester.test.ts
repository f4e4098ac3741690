/**
 * The tests' MQTT 5 requester over a real Mosquitto (issue #24). Tests that run the CLI with
 * spawnSync block their event loop; on a loaded machine for longer than 1.5 keepalives, and the
 * broker then drops the requester. It must come back, or every later request goes unanswered,
 * and keep its reply subscription across the drop (a persistent session), or an answer can
 * arrive between two connections and be lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startMosquitto } from '../helpers/mosquitto.js';
import { Requester } from './fixtures/api-harness.js';

test('a requester dropped by the broker while its event loop was blocked reconnects and gets answers', async () => {
  const broker = await startMosquitto();
  const echo = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  const requester = await Requester.connect(broker.url, undefined, 1);
  try {
    await echo.subscribeAsync('echo/request', { qos: 1 });
    echo.on('message', (_t, payload, packet) => {
      const p = packet.properties;
      if (p?.responseTopic)
        echo.publish(p.responseTopic, payload, {
          qos: 1,
          properties: p.correlationData ? { correlationData: p.correlationData } : {},
        });
    });
    let closed = 0;
    requester.client.on('close', () => closed++);
    // What spawnSync does to the process: no timers, no socket reads, no PINGREQ for 6 s, well
    // past 1.5 × keepalive (1 s); Mosquitto 2.0 checks keepalives only every few seconds.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 6000);
    const answer = await requester.request('echo/request', { n: 1 }, 60_000);
    assert.deepEqual(answer, { n: 1 });
    assert.ok(closed >= 1, 'the broker dropped the requester (the situation under test happened)');
  } finally {
    await requester.close();
    await echo.endAsync(true);
    await broker.close();
  }
});
