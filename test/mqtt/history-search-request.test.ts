/**
 * history/search over MQTT (issue #18) on the whole agent (startAgent with the test pack, a
 * looping real-time mic replay, Mosquitto), each request as a client sends it, signed, since the
 * agent requires signatures:
 *  - a text search answers moments and scan figures in the published result schema;
 *  - an example embedding (a window read back from the history) finds its own window first;
 *  - label requests are answered as before while the agent writes and searches;
 *  - bad requests get REQUEST_INVALID naming each field; unsigned ones SIGNATURE_REQUIRED;
 *  - a device without history answers HISTORY_DISABLED.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Agent } from '../../src/agent-types.js';
import { HEADER_BYTES } from '../../src/history/format.js';
import { listSegments, readSegmentHeader } from '../../src/history/reader.js';
import { HistorySearchResultSchema, type ResponsePayload } from '../../src/mqtt/payloads.js';
import { signRequest } from '../../src/mqtt/signing.js';
import { tempDir } from '../helpers/agent-config.js';
import { startLoopingAgent, until } from '../helpers/looping-agent.js';
import { brokerWithRequester, REPLY_PREFIX, startHarness } from './fixtures/api-harness.js';

const mq = brokerWithRequester();
const DEVICE = 'hist-mqtt';
const keys = generateKeyPairSync('ed25519');
const privateKeyPem = keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const dir = tempDir('history-mqtt');
let agent: Agent;
let historyDir: string;

/** Signs and sends one request to this device; the answer. */
function ask(op: string, body: Record<string, unknown>): Promise<ResponsePayload> {
  const signed = signRequest(op, body, { target: `device:${DEVICE}`, keyId: 'ops', privateKeyPem });
  return mq.requester.request(`edgebind/${DEVICE}/request/${op}`, signed, 30_000);
}

// Inside a suite: its hooks run after the file's (the broker's) own.
describe('history/search on a running agent', () => {
  before(async () => {
    ({ agent, historyDir } = await startLoopingAgent(dir, {
      deviceId: DEVICE,
      stateDir: join(dir, 'state'),
      mqtt: { broker: mq.broker.url, protocolVersion: 5, healthIntervalS: 0 },
      config: {
        remote: {
          responseTopicPrefixes: [REPLY_PREFIX],
          requireSigned: true,
          publicKeys: [{ id: 'ops', key: keys.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
          maxPromptChars: 40,
        },
      },
    }));
    await until('connected', () => agent.stats().mqtt.connected);
    await until('10 windows in the history', () => (agent.stats().history?.written ?? 0) >= 10);
  });
  after(async () => {
    await agent?.stop();
  });

  test('a text search answers moments and scan figures; the agent goes on writing', async () => {
    const written = agent.stats().history!.written;
    const r = await ask('history/search', {
      transaction: 'h1',
      text: 'an alarm beeping',
      since: '1h',
      top: 3,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(r.transaction, 'h1');
    assert.equal(r.deviceId, DEVICE);
    // Exactly the published schema (strict: no field more or less).
    const data = HistorySearchResultSchema.parse(r.data);
    assert.deepEqual(data.query, { text: 'an alarm beeping' });
    assert.equal(data.pack.id, 'edgebind-test');
    assert.ok(data.since !== null && Date.now() - Date.parse(data.since) > 3_590_000);
    assert.equal(data.until, null);
    assert.ok(
      data.stats.windows >= written,
      `${data.stats.windows} windows searched, ${written} were written`,
    );
    assert.ok(data.stats.segments >= 1);
    assert.ok(data.moments.length >= 1 && data.moments.length <= 3, JSON.stringify(data.moments));
    for (const m of data.moments) {
      assert.deepEqual(m.sensors, ['mic']);
      assert.deepEqual(m.modalities, ['audio']);
      assert.ok(Date.parse(m.end) > Date.parse(m.start));
    }
    for (let k = 1; k < data.moments.length; k++)
      assert.ok(data.moments[k - 1]!.score >= data.moments[k]!.score);
    await until('the agent writing on', () => agent.stats().history!.written > data.stats.windows);
    assert.equal(agent.stats().history!.state, 'ok');

    // A minScore above every cosine leaves no moment, and says how much it scanned all the same.
    const none = await ask('history/search', { text: 'an alarm beeping', minScore: 1 });
    assert.equal(none.status, 'ok', JSON.stringify(none));
    const empty = HistorySearchResultSchema.parse(none.data);
    assert.deepEqual(empty.moments, []);
    assert.ok(empty.stats.windows > 0);
  });

  test('an example embedding (a window of the history) finds that window first', async () => {
    // The first record of the oldest segment, dequantised: what a client would send as base64.
    const seg = listSegments(historyDir)[0]!;
    const header = readSegmentHeader(seg.path);
    if (typeof header === 'string') throw new Error(header);
    const rec = Buffer.alloc(header.recordBytes);
    const fd = openSync(seg.path, 'r');
    readSync(fd, rec, 0, rec.length, HEADER_BYTES);
    closeSync(fd);
    const start = rec.readDoubleLE(8);
    const scale = rec.readFloatLE(20);
    const vector = Buffer.alloc(header.dim * 4);
    for (let i = 0; i < header.dim; i++) vector.writeFloatLE(rec.readInt8(24 + i) * scale, i * 4);

    const r = await ask('history/search', {
      example: { base64: vector.toString('base64'), modality: 'audio' },
      modalities: ['audio'],
      sensors: ['mic'],
      top: 1,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const data = HistorySearchResultSchema.parse(r.data);
    assert.deepEqual(data.query, { example: { modality: 'audio', dim: header.dim } });
    assert.equal(data.moments.length, 1);
    const best = data.moments[0]!;
    assert.ok(best.score > 0.999, `its own window scores ${best.score}`);
    assert.ok(
      Date.parse(best.start) <= start && start <= Date.parse(best.end),
      `${new Date(start).toISOString()} lies in ${best.start} → ${best.end}`,
    );
    // Sensors or modalities that match nothing: no moment, nothing scored.
    const elsewhere = await ask('history/search', {
      example: { base64: vector.toString('base64'), modality: 'audio' },
      modalities: ['thermal'],
    });
    assert.equal(elsewhere.status, 'ok');
    assert.equal(HistorySearchResultSchema.parse(elsewhere.data).stats.windows, 0);
  });

  test('a label request is answered while searches come and go', async () => {
    const [search, get] = await Promise.all([
      ask('history/search', { text: 'a dog barking' }),
      ask('labels/get', {}),
    ]);
    assert.equal(search.status, 'ok', JSON.stringify(search));
    assert.equal(get.status, 'ok', JSON.stringify(get));
    assert.deepEqual(
      (get.data as { labels: { name: string }[] }).labels.map((l) => l.name),
      ['alarm_beeping'],
    );
  });

  test('bad requests are refused naming each field; unsigned ones are refused as for labels', async () => {
    const paths = async (body: Record<string, unknown>) => {
      const r = await ask('history/search', body);
      assert.equal(r.status, 'error', JSON.stringify(r));
      assert.equal(r.code, 'REQUEST_INVALID', JSON.stringify(r));
      assert.match(r.error!, /^invalid history\/search request: \d+ problem\(s\)$/);
      return r.problems!;
    };
    assert.deepEqual(await paths({}), [{ path: '$.text', message: 'give text or example' }]);
    assert.deepEqual(
      (await paths({ text: 'a', example: { base64: 'AACAPw==', modality: 'audio' } })).map((p) => p.path),
      ['$.example'],
    );
    const many = await paths({
      text: 'glass',
      since: 'yesterday',
      top: 1000,
      modalities: ['sonar'],
      colour: 1,
    });
    assert.deepEqual(many.map((p) => p.path).sort(), ['$.colour', '$.modalities[0]', '$.since', '$.top']);
    assert.match(many.find((p) => p.path === '$.since')!.message, /24h, 30m, 90s, 2d .* ISO 8601/);
    assert.deepEqual(
      (await paths({ example: { base64: Buffer.alloc(8).toString('base64') } })).map((p) => p.path).sort(),
      ['$.example.base64', '$.example.modality'],
    );
    // Checked by the service: the order of since and until, the prompt limit, the dimension.
    const order = await paths({ text: 'glass', since: '1h', until: '2h' });
    assert.deepEqual(
      order.map((p) => p.path),
      ['$.until'],
    );
    assert.match(order[0]!.message, /is not after since/);
    assert.deepEqual(await paths({ text: 'x'.repeat(41) }), [
      { path: '$.text', message: 'longer than remote.maxPromptChars (40)' },
    ]);
    const dim = await paths({
      example: {
        base64: Buffer.from(new Float32Array([1, 0, 0]).buffer).toString('base64'),
        modality: 'imu',
      },
    });
    assert.equal(dim[0]!.path, '$.example.base64');
    assert.match(
      dim[0]!.message,
      /^3 values; this device's history holds \d+-d embeddings \(pack edgebind-test /,
    );

    // A prototype file of another pack (as `label from-example` writes one): another space.
    const foreign = await paths({
      example: {
        prototype: {
          format: 'edgebind-prototype',
          version: 1,
          modality: 'audio',
          dim: 3,
          pack: { id: 'other', version: '2' },
          sources: [{ file: 'door.wav', windows: 4 }],
          windows: 4,
          vector: Buffer.from(new Float32Array([0, 1, 0]).buffer).toString('base64'),
        },
      },
    });
    assert.deepEqual(
      foreign.map((p) => p.path),
      ['$.example.prototype.pack', '$.example.prototype.vector'],
    );
    assert.match(foreign[0]!.message, /made with pack other 2; this device embeds with edgebind-test /);

    const unsigned = await mq.requester.request(`edgebind/${DEVICE}/request/history/search`, {
      text: 'glass',
    });
    assert.equal(unsigned.code, 'SIGNATURE_REQUIRED');
    const misdirected = signRequest(
      'history/search',
      { text: 'glass' },
      { target: 'device:other', keyId: 'ops', privateKeyPem },
    );
    const wrong = await mq.requester.request(`edgebind/${DEVICE}/request/history/search`, misdirected);
    assert.equal(wrong.code, 'REQUEST_MISDIRECTED');
    // A signature for labels/get does not carry over to history/search.
    const forOther = signRequest(
      'labels/get',
      { text: 'glass' },
      { target: `device:${DEVICE}`, keyId: 'ops', privateKeyPem },
    );
    const swapped = await mq.requester.request(`edgebind/${DEVICE}/request/history/search`, forOther);
    assert.equal(swapped.code, 'SIGNATURE_INVALID');
  });

  test('a device that keeps no history answers HISTORY_DISABLED', async () => {
    const h = await startHarness({
      url: mq.broker.url,
      deviceId: 'no-history',
      stateDir: tempDir('no-history'),
    });
    try {
      const r = await mq.requester.request(h.topics.request('history/search'), {
        transaction: 7,
        text: 'glass',
      });
      assert.equal(r.status, 'error');
      assert.equal(r.code, 'HISTORY_DISABLED');
      assert.equal(r.transaction, 7);
      assert.match(r.error!, /history\.enabled is false/);
    } finally {
      await h.stop();
    }
  });
});
