/**
 * labels/test with since over MQTT (retroactive labels, issue #18) on the whole agent (the looping
 * real-time mic replay with the test pack, Mosquitto), signed as a client sends it:
 *  - with since it replays the candidate set over the history: events, windows, int8 noted;
 *  - without since it scores the recent windows as before;
 *  - a bad since/until, an unknown sensor, a range over remote.maxReplayWindows are named;
 *  - a device without history answers HISTORY_DISABLED.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Agent } from '../../src/agent-types.js';
import type { ReplayResult } from '../../src/labels/replay.js';
import type { ResponsePayload } from '../../src/mqtt/payloads.js';
import { signRequest } from '../../src/mqtt/signing.js';
import { SAMPLES, tempDir } from '../helpers/agent-config.js';
import { startLoopingAgent, until } from '../helpers/looping-agent.js';
import { brokerWithRequester, REPLY_PREFIX, startHarness } from './fixtures/api-harness.js';

const mq = brokerWithRequester();
const DEVICE = 'retro-mqtt';
const keys = generateKeyPairSync('ed25519');
const privateKeyPem = keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const dir = tempDir('labels-since');
let agent: Agent;
const ALARM = [{ name: 'alarm', prompts: ['an alarm beeping'], modalities: ['audio'], threshold: 0.2 }];

function ask(op: string, body: Record<string, unknown>): Promise<ResponsePayload> {
  const signed = signRequest(op, body, { target: `device:${DEVICE}`, keyId: 'ops', privateKeyPem });
  return mq.requester.request(`edgebind/${DEVICE}/request/${op}`, signed, 30_000);
}

describe('labels/test with since on a running agent', () => {
  before(async () => {
    ({ agent } = await startLoopingAgent(dir, {
      deviceId: DEVICE,
      stateDir: join(dir, 'state'),
      mqtt: { broker: mq.broker.url, protocolVersion: 5, healthIntervalS: 0 },
      config: {
        // Ten times real time, so that the history passes remote.maxReplayWindows in seconds.
        sensors: [
          {
            id: 'mic',
            driver: 'replay',
            modality: 'audio',
            file: join(SAMPLES, 'room-audio.wav'),
            speed: 10,
            loop: true,
          },
        ],
        remote: {
          responseTopicPrefixes: [REPLY_PREFIX],
          requireSigned: true,
          publicKeys: [{ id: 'ops', key: keys.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
          maxReplayWindows: 100,
        },
      },
    }));
    await until('connected', () => agent.stats().mqtt.connected);
    await until('10 windows in the history', () => (agent.stats().history?.written ?? 0) >= 10);
  });
  after(async () => {
    await agent?.stop();
  });

  test('with since: the set replayed over the history; without: the recent windows', async () => {
    const r = await ask('labels/test', { transaction: 't1', labels: ALARM, since: '1h' });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const result = (r.data as { result: ReplayResult }).result;
    assert.equal(result.source, 'history');
    assert.equal(result.embeddings, 'int8');
    assert.ok(result.windows >= 10, `${result.windows} windows`);
    const alarm = result.labels.find((l) => l.name === 'alarm')!;
    assert.equal(alarm.windows, result.windows);
    assert.ok(alarm.maxScore > 0 && alarm.maxScore <= 1);
    assert.ok(Array.isArray(alarm.events));
    for (const e of alarm.events) assert.deepEqual(e.sensors, ['mic']);

    const recent = await ask('labels/test', { transaction: 't2', labels: ALARM });
    assert.equal(recent.status, 'ok', JSON.stringify(recent));
    assert.notEqual((recent.data as { result: { source?: string } }).result.source, 'history');
  });

  test('bad since, until and sensors are named; too long a range is refused', async () => {
    const bad = await ask('labels/test', { labels: ALARM, since: 'yesterday', until: 'soon' });
    assert.equal(bad.code, 'REQUEST_INVALID', JSON.stringify(bad));
    assert.deepEqual(
      bad.problems!.map((p) => p.path),
      ['$.since', '$.until'],
    );
    const sensor = await ask('labels/test', { labels: ALARM, since: '1h', sensors: ['nope'] });
    assert.equal(sensor.code, 'REQUEST_INVALID', JSON.stringify(sensor));
    assert.equal(sensor.problems![0]!.path, '$.sensors[0]');
    assert.match(sensor.problems![0]!.message, /no sensor "nope".*mic/);
    await until('over 100 windows', () => (agent.stats().history?.written ?? 0) > 100, 60_000);
    const big = await ask('labels/test', { labels: ALARM, since: '1h' });
    assert.equal(big.code, 'HISTORY_REPLAY_TOO_LARGE', JSON.stringify(big));
  });

  test('a device that keeps no history answers HISTORY_DISABLED', async () => {
    const h = await startHarness({ url: mq.broker.url, deviceId: 'no-history', stateDir: tempDir('nh') });
    try {
      const r = await mq.requester.request(h.topics.request('labels/test'), {
        transaction: 7,
        labels: ALARM,
        since: '1h',
      });
      assert.equal(r.code, 'HISTORY_DISABLED', JSON.stringify(r));
      assert.match(r.error!, /history\.enabled is false/);
    } finally {
      await h.stop();
    }
  });
});
