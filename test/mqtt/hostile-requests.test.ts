/**
 * Hostile and degenerate label requests over a real Mosquitto (issue 14 items 2 and 6): non-finite
 * example vectors, prompts with control characters or invalid UTF-8, an empty patch, and a signed
 * request captured before a restart and sent again after it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { LabelSchema } from '../../src/config/schema.js';
import { signRequest } from '../../src/mqtt/signing.js';
import { tempDir } from '../helpers/agent-config.js';
import { brokerWithRequester, startHarness } from './fixtures/api-harness.js';

const mq = brokerWithRequester();

const dog = { name: 'dog', prompts: ['a dog barking'] };
const floats = (...xs: number[]) => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b.toString('base64');
};

test('non-finite example vectors and bad prompts are rejected with their JSON path; nothing is applied', async () => {
  const h = await startHarness({
    url: mq.broker.url,
    deviceId: 'hostile',
    stateDir: tempDir('hostile'),
    configLabels: [LabelSchema.parse(dog)],
  });
  try {
    const set = h.topics.request('labels/set');
    const cases: { topic: string; body: unknown; path: RegExp }[] = [
      {
        topic: set,
        body: { labels: [dog, { name: 'nan', examples: [{ base64: floats(NaN, NaN, NaN, NaN) }] }] },
        path: /^\$\.labels\[1\]\.examples\[0\]\.base64$/,
      },
      {
        topic: set,
        body: { labels: [{ name: 'inf', examples: [{ base64: floats(1, Infinity, 0, 0) }] }] },
        path: /^\$\.labels\[0\]\.examples\[0\]\.base64$/,
      },
      {
        topic: h.topics.request('labels/patch'),
        body: { add: [{ name: 'ninf', examples: [{ base64: floats(-Infinity, 1) }] }] },
        path: /^\$\.add\[0\]\.examples\[0\]\.base64$/,
      },
      {
        topic: h.topics.request('labels/test'),
        body: { labels: [{ name: 'nan', examples: [{ base64: floats(NaN) }] }] },
        path: /^\$\.labels\[0\]\.examples\[0\]\.base64$/,
      },
      {
        topic: set,
        body: { labels: [{ name: 'bell', prompts: ['a bell\u0007ringing'] }] },
        path: /^\$\.labels\[0\]\.prompts\[0\]$/,
      },
      {
        topic: set,
        body: { labels: [{ name: 'bell', prompts: ['ok', 'a bell\u009bringing'] }] },
        path: /^\$\.labels\[0\]\.prompts\[1\]$/,
      },
    ];
    for (const c of cases) {
      const r = await mq.requester.request(c.topic, c.body);
      assert.equal(r.status, 'error', JSON.stringify(c.body));
      assert.equal(r.code, 'REQUEST_INVALID');
      assert.ok(
        r.problems?.some((p) => c.path.test(p.path)),
        `${JSON.stringify(r.problems)} names ${c.path}`,
      );
    }
    // Invalid UTF-8 inside a prompt: raw bytes, not a JSON escape.
    const raw = Buffer.concat([
      Buffer.from('{"labels":[{"name":"bell","prompts":["a bell '),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from(' ringing"]}]}'),
    ]);
    const r = await mq.requester.request(set, raw);
    assert.equal(r.code, 'REQUEST_INVALID');
    assert.equal(r.problems?.[0]?.path, '$.labels[0].prompts[0]');
    assert.match(r.problems[0].message, /invalid UTF-8/);
    assert.equal(h.service.current().version, 0, 'nothing applied');
    assert.deepEqual(h.applied, []);
  } finally {
    await h.stop();
  }
});

test('an empty labels/patch is answered ok and changes nothing: the version does not move', async () => {
  const h = await startHarness({
    url: mq.broker.url,
    deviceId: 'empty-patch',
    stateDir: tempDir('empty-patch'),
    configLabels: [LabelSchema.parse(dog)],
  });
  try {
    const patch = h.topics.request('labels/patch');
    for (const body of [{}, { add: [], remove: [], replace: [] }, { ifVersion: 0 }]) {
      const r = await mq.requester.request(patch, { transaction: 'e', ...body });
      assert.equal(r.status, 'ok', JSON.stringify(r));
      assert.deepEqual(r.data, {
        version: 0,
        hash: h.service.current().hash,
        labels: ['dog'],
        added: [],
        removed: [],
      });
    }
    assert.equal(h.service.current().version, 0);
    assert.deepEqual(h.applied, [], 'nothing re-applied');
    const conflict = await mq.requester.request(patch, { ifVersion: 3 });
    assert.equal(conflict.code, 'VERSION_CONFLICT', 'ifVersion is still checked');
  } finally {
    await h.stop();
  }
});

test('a signed request captured before a restart is refused after it (nonces persist in the state dir)', async () => {
  const keys = generateKeyPairSync('ed25519');
  const stateDir = tempDir('replay-restart');
  const opts = {
    url: mq.broker.url,
    deviceId: 'replay-restart',
    stateDir,
    configLabels: [LabelSchema.parse(dog)],
    limits: {
      requireSigned: true,
      publicKeys: [{ id: 'ops', key: keys.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
    },
  };
  const signed = signRequest(
    'labels/set',
    { labels: [dog, { name: 'cat', prompts: ['a cat meowing'] }] },
    {
      target: 'device:replay-restart',
      keyId: 'ops',
      privateKeyPem: keys.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    },
  );
  let h = await startHarness(opts);
  try {
    const first = await mq.requester.request(h.topics.request('labels/set'), signed);
    assert.equal(first.status, 'ok', JSON.stringify(first));
    assert.equal(h.service.current().version, 1);
  } finally {
    await h.stop();
  }
  h = await startHarness(opts);
  try {
    const again = await mq.requester.request(h.topics.request('labels/set'), signed);
    assert.equal(again.status, 'error');
    assert.equal(again.code, 'REQUEST_REPLAYED');
    assert.equal(h.service.current().version, 1, 'not applied twice');
  } finally {
    await h.stop();
  }
});
