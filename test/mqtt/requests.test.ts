/**
 * The request envelope (src/mqtt/requests.ts) in front of the real label service, without a
 * broker: the order of its checks, the transaction echo, the op table, and how failures of the
 * label rules and of building come back. The label builder is a content hash (no encoder).
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import type { LabelConfig } from '../../src/config/schema.js';
import { ConfigError, RequestError } from '../../src/errors.js';
import { LabelService } from '../../src/labels/service.js';
import { LabelStore } from '../../src/labels/store.js';
import { RequestRouter, jsonPath, type RequestLimits } from '../../src/mqtt/requests.js';
import { signRequest } from '../../src/mqtt/signing.js';

const logger = pino({ level: 'silent' });
const LIMITS: RequestLimits & { maxLabels: number; maxPromptChars: number } = {
  maxLabels: 3,
  maxPromptChars: 100,
  maxPayloadBytes: 4096,
  requireSigned: false,
  publicKeys: [],
  maxRequestAgeS: 300,
  maxNonces: 100,
  maxPendingRequests: 64,
};
const label = (name: string) => ({ name, prompts: [`a ${name}`] });

function setup(opts: { limits?: Partial<typeof LIMITS>; build?: () => Promise<{ hash: string }> } = {}) {
  const limits = { ...LIMITS, ...opts.limits };
  const applied: string[][] = [];
  const service = new LabelService<{ hash: string }>({
    store: new LabelStore(mkdtempSync(join(tmpdir(), 'edgebind-requests-'))),
    limits,
    build:
      opts.build ??
      ((labels: readonly LabelConfig[]) =>
        Promise.resolve({ hash: createHash('sha256').update(JSON.stringify(labels)).digest('hex') })),
    apply: (_built, labels) => applied.push(labels.map((l) => l.name)),
    evaluate: () => ({ windows: 0 }),
    initial: { labels: [], version: 0, source: 'config', hash: '' },
    logger,
  });
  const router = new RequestRouter({ labels: service, limits, logger });
  const ask = (op: string, body: unknown, on: `device:${string}` = 'device:d1') =>
    router.handle(op, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), on);
  return { service, router, ask, applied };
}

test('the op table hands typed requests to the service; transaction is echoed', async () => {
  const { ask, applied, router } = setup();
  const set = await ask('labels/set', { transaction: 't1', labels: [label('dog')] });
  assert.equal(set.status, 'ok');
  assert.equal(set.transaction, 't1');
  assert.deepEqual(applied, [['dog']]);
  const patch = await ask('labels/patch', { add: [label('cat')], ifVersion: 1 });
  assert.equal(patch.status, 'ok');
  assert.deepEqual((patch.data as { labels: string[] }).labels, ['dog', 'cat']);
  const get = await ask('labels/get', { transaction: 7 });
  assert.deepEqual(get, { status: 'ok', data: router.current(), transaction: 7 });
  assert.equal(router.current().version, 2);
});

test('envelope checks come first, in order: size, JSON, object, op, target, signature, schema', async () => {
  const { ask, applied } = setup({ limits: { maxPayloadBytes: 64 } });
  const code = async (op: string, body: unknown) => (await ask(op, body)).code;
  assert.equal(await code('labels/set', { labels: [label('x'.repeat(80))] }), 'REQUEST_TOO_LARGE');
  assert.equal(await code('labels/set', '{"labels": ['), 'REQUEST_PARSE');
  assert.equal(await code('labels/set', '[1]'), 'REQUEST_PARSE');
  const unknown = await ask('labels/nope', { transaction: 'u' });
  assert.equal(unknown.code, 'UNKNOWN_OP');
  assert.equal(unknown.transaction, 'u', 'answered with the transaction even for an unknown op');
  assert.equal(await code('labels/nope', { target: 'device:other' }), 'UNKNOWN_OP');
  assert.equal(await code('labels/get', { target: 'device:other' }), 'REQUEST_MISDIRECTED');
  assert.equal(await code('labels/get', { signature: 'x' }), 'SIGNATURE_INVALID');
  const bad = await ask('labels/set', { labelz: [] });
  assert.equal(bad.code, 'REQUEST_INVALID');
  assert.deepEqual(
    bad.problems?.map((p) => p.path),
    ['$.labels', '$.labelz'],
  );
  assert.deepEqual(applied, []);
});

test('signed requests: required when configured, verified, then fresh once', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const key = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const { ask } = setup({ limits: { requireSigned: true, publicKeys: [{ id: 'k1', key }] } });
  assert.equal((await ask('labels/get', {})).code, 'SIGNATURE_REQUIRED');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const signed = signRequest('labels/get', {}, { target: 'device:d1', keyId: 'k1', privateKeyPem });
  assert.equal((await ask('labels/get', signed)).status, 'ok');
  assert.equal((await ask('labels/get', signed)).code, 'REQUEST_REPLAYED');
});

test('the label rules answer as typed errors; a set that cannot be built is LABELS_BUILD_FAILED', async () => {
  const { ask, service } = setup();
  const conflict = await ask('labels/set', { labels: [label('a')], ifVersion: 5 });
  assert.equal(conflict.code, 'VERSION_CONFLICT');
  const dup = await ask('labels/set', { labels: [label('a'), label('a')] });
  assert.equal(dup.code, 'REQUEST_INVALID');
  assert.equal(dup.problems?.[0]?.path, '$.labels[1].name');
  await assert.rejects(service.patch({ remove: ['nope'] }), (err: unknown) => {
    assert.ok(err instanceof RequestError);
    assert.equal(err.code, 'REQUEST_INVALID');
    assert.deepEqual(err.problems, [{ path: '$.remove[0]', message: 'no label "nope"' }]);
    return true;
  });

  const failing = setup({
    build: () =>
      Promise.reject(
        new ConfigError('CONFIG_INVALID', 'labels[0].examples[0]: not finite', {
          problems: [{ path: 'labels[0].examples[0]', message: 'not finite' }],
        }),
      ),
  });
  const r = await failing.ask('labels/set', { labels: [label('a')] });
  assert.equal(r.code, 'LABELS_BUILD_FAILED');
  assert.deepEqual(r.problems, [{ path: '$.labels[0].examples[0]', message: 'not finite' }]);
  assert.equal(failing.router.current().version, 0, 'the old set keeps running');
});

test('jsonPath quotes keys that are not identifiers', () => {
  assert.equal(jsonPath([]), '$');
  assert.equal(jsonPath(['labels', 0, 'name']), '$.labels[0].name');
  assert.equal(jsonPath(['a b']), '$["a b"]');
});

test('issue 17 item 10: an empty payload is an empty request (labels/get answers the set)', async () => {
  const { ask, router } = setup();
  const get = await ask('labels/get', '');
  assert.deepEqual(get, { status: 'ok', data: router.current() });
  const set = await ask('labels/set', ' \n');
  assert.equal(set.code, 'REQUEST_INVALID', 'a set without labels is invalid, not unparseable');
  assert.deepEqual(set.problems?.[0]?.path, '$.labels');
});

test('issue 17 item 10: a patch with several problems reports every one, worded as every op is', async () => {
  const { ask } = setup({ limits: { maxPromptChars: 10 } });
  await ask('labels/set', { labels: [label('dog')] });
  const r = await ask('labels/patch', {
    remove: ['ghost'],
    add: [{ name: 'cat', prompts: ['a cat meowing loudly'] }],
  });
  assert.equal(r.code, 'REQUEST_INVALID');
  assert.equal(r.error, 'invalid labels/patch request: 2 problem(s)');
  assert.deepEqual(
    r.problems?.map((p) => p.path),
    ['$.remove[0]', '$.add[0].prompts[0]'],
  );
});

test('issue 17 item 10: a label that fails to build is reported where the request has it', async () => {
  // The builder refuses "bad" at its index in the merged set, as buildLabelSet does.
  const build = (labels: readonly LabelConfig[]) => {
    const k = labels.findIndex((l) => l.name === 'bad');
    if (k < 0) return Promise.resolve({ hash: labels.map((l) => l.name).join('+') });
    return Promise.reject(
      new ConfigError('CONFIG_INVALID', 'labels cannot be built', {
        problems: [{ path: `labels[${k}].examples`, message: 'dimension mismatch' }],
      }),
    );
  };
  const { ask } = setup({ build: build as () => Promise<{ hash: string }> });
  await ask('labels/set', { labels: [label('a'), label('b')] });
  const r = await ask('labels/patch', { add: [label('bad')] });
  assert.equal(r.code, 'LABELS_BUILD_FAILED');
  assert.deepEqual(r.problems, [{ path: '$.add[0].examples', message: 'dimension mismatch' }]);
  const s = await ask('labels/set', { labels: [label('a'), label('bad')] });
  assert.deepEqual(s.problems, [{ path: '$.labels[1].examples', message: 'dimension mismatch' }]);
});

test('more than remote.maxPendingRequests at once: the next is answered REQUEST_BUSY at once, unread', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { ask, router } = setup({
    limits: { maxPendingRequests: 2 },
    build: async () => {
      await gate;
      return { hash: 'h' };
    },
  });
  const slow = ask('labels/set', { transaction: 's', labels: [label('dog')] });
  const queued = ask('labels/get', { transaction: 'q' });
  // Not even parsed: a malformed payload is busy too, not REQUEST_PARSE.
  const busy = await ask('labels/get', '{not json');
  assert.equal(busy.status, 'error');
  assert.equal(busy.code, 'REQUEST_BUSY');
  assert.match(busy.error!, /2 requests are waiting or running \(remote\.maxPendingRequests\)/);
  assert.equal(router.busyRefused, 1);
  // A small one is parsed for its transaction, so MQTT 3 clients can match the answer.
  const small = await ask('labels/get', { transaction: 'b2' });
  assert.equal(small.code, 'REQUEST_BUSY');
  assert.equal(small.transaction, 'b2');
  assert.equal(router.busyRefused, 2);
  release();
  assert.equal((await slow).status, 'ok');
  assert.equal((await queued).transaction, 'q');
  // Answered ones no longer count.
  const after = await ask('labels/get', { transaction: 'a' });
  assert.equal(after.status, 'ok');
  assert.equal(router.busyRefused, 2);
});
