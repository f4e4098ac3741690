/**
 * Remote label configuration over a real Mosquitto: set/patch/get/test, persistence and restart,
 * MQTT 5 response topics, group requests, signed requests, their replay protection and their
 * target (device or group), and 1,000 fuzzed bad requests.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { LabelSchema } from '../../src/config/schema.js';
import { signedBytes, signRequest, type SignOptions } from '../../src/mqtt/signing.js';
import type { ResponsePayload } from '../../src/mqtt/payloads.js';
import { tempDir } from '../helpers/agent-config.js';
import { startCollector } from '../helpers/mqtt-collector.js';
import { brokerWithRequester, startHarness } from './fixtures/api-harness.js';

const mq = brokerWithRequester();

const dog = { name: 'dog', prompts: ['a dog barking'] };
const alarm = { name: 'alarm', prompts: ['an alarm beeping'], threshold: 0.6 };

test('labels/set, patch, get and test; retained labels and states; persisted and used after a restart', async () => {
  const stateDir = tempDir('api-set');
  const h = await startHarness({
    url: mq.broker.url,
    deviceId: 'api-set',
    stateDir,
    configLabels: [LabelSchema.parse(dog)],
  });
  const sub = await startCollector({ url: mq.broker.url, filter: 'edgebind/api-set/#' });
  try {
    const r1 = await mq.requester.request(h.topics.request('labels/set'), {
      transaction: 't1',
      labels: [dog, alarm],
    });
    assert.equal(r1.status, 'ok', JSON.stringify(r1));
    assert.equal(r1.transaction, 't1');
    assert.equal((r1.data as { version: number }).version, 1);
    assert.deepEqual((r1.data as { added: string[] }).added, ['alarm']);
    // Also answered on the response topic of the op (for MQTT 3.1.1 clients).
    const onTopic = await sub.waitFor((m) => m.topic === 'edgebind/api-set/response/labels/set');
    assert.equal((onTopic.json as ResponsePayload).transaction, 't1');
    await sub.waitFor((m) => m.topic === 'edgebind/api-set/labels/alarm/state' && m.text === 'OFF');
    await sub.waitFor(
      (m) => m.topic === 'edgebind/api-set/labels' && (m.json as { version: number }).version === 1,
    );

    const r2 = await mq.requester.request(h.topics.request('labels/patch'), {
      transaction: 2,
      remove: ['dog'],
      replace: [{ ...alarm, threshold: 0.7 }],
      add: [{ name: 'glass', prompts: ['glass breaking'] }],
      ifVersion: 1,
    });
    assert.equal(r2.status, 'ok', JSON.stringify(r2));
    assert.equal(r2.transaction, 2);
    assert.deepEqual((r2.data as { labels: string[] }).labels, ['alarm', 'glass']);
    assert.deepEqual(h.applied.at(-1), { labels: ['alarm', 'glass'], removed: ['dog'] });
    // The removed label's retained state is cleared.
    await sub.waitFor((m) => m.topic === 'edgebind/api-set/labels/dog/state' && m.text === '');

    const conflict = await mq.requester.request(h.topics.request('labels/patch'), {
      remove: ['alarm'],
      ifVersion: 1,
    });
    assert.equal(conflict.status, 'error');
    assert.equal(conflict.code, 'VERSION_CONFLICT');

    const got = await mq.requester.request(h.topics.request('labels/get'), {});
    assert.equal((got.data as { version: number }).version, 2);
    assert.equal((got.data as { source: string }).source, 'remote');

    const tested = await mq.requester.request(h.topics.request('labels/test'), { labels: [dog] });
    assert.equal(tested.status, 'ok');
    assert.equal(h.service.current().version, 2, 'labels/test applies nothing');
  } finally {
    await sub.close();
    await h.stop();
  }
  // A restart reads the persisted set; it overrides the configured labels.
  const lines: string[] = [];
  const pinoMod = await import('pino');
  const logger = pinoMod.default({ level: 'info' }, { write: (s: string) => lines.push(s) });
  const again = await startHarness({
    url: mq.broker.url,
    deviceId: 'api-set',
    stateDir,
    configLabels: [LabelSchema.parse(dog)],
    logger,
  });
  try {
    assert.equal(again.service.current().version, 2);
    assert.deepEqual(
      again.service.current().labels.map((l) => l.name),
      ['alarm', 'glass'],
    );
    assert.ok(lines.some((l) => l.includes("override the config file's labels")));
  } finally {
    await again.stop();
  }
});

test('group requests apply to every device in the group; each answers on its own topic', async () => {
  const a = await startHarness({
    url: mq.broker.url,
    deviceId: 'grp-a',
    stateDir: tempDir('grp-a'),
    groups: ['kitchen'],
  });
  const b = await startHarness({
    url: mq.broker.url,
    deviceId: 'grp-b',
    stateDir: tempDir('grp-b'),
    groups: ['kitchen'],
  });
  const c = await startHarness({
    url: mq.broker.url,
    deviceId: 'grp-c',
    stateDir: tempDir('grp-c'),
    groups: ['garage'],
  });
  const sub = await startCollector({ url: mq.broker.url, filter: 'edgebind/+/response/#' });
  try {
    await mq.requester.client.publishAsync(
      'edgebind/groups/kitchen/request/labels/set',
      JSON.stringify({ transaction: 'g1', labels: [dog] }),
      { qos: 1 },
    );
    for (const dev of ['grp-a', 'grp-b']) {
      const m = await sub.waitFor((x) => x.topic === `edgebind/${dev}/response/labels/set`);
      assert.equal((m.json as ResponsePayload).status, 'ok');
      assert.equal((m.json as ResponsePayload).deviceId, dev);
      assert.equal((m.json as ResponsePayload).transaction, 'g1');
    }
    assert.equal(a.service.current().labels.length, 1);
    assert.equal(b.service.current().labels.length, 1);
    assert.equal(c.service.current().labels.length, 0, 'another group is untouched');
  } finally {
    await sub.close();
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  }
});

test('with requireSigned, unsigned and forged requests are rejected and answered; signed ones apply', async () => {
  const trusted = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
  const h = await startHarness({
    url: mq.broker.url,
    deviceId: 'signed',
    stateDir: tempDir('signed'),
    limits: {
      requireSigned: true,
      publicKeys: [{ id: 'ops', key: trusted.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
    },
  });
  const as = (privateKey: KeyObject, keyId = 'ops'): SignOptions => ({
    target: 'device:signed',
    keyId,
    privateKeyPem: pem(privateKey),
  });
  try {
    const topic = h.topics.request('labels/set');
    const unsigned = await mq.requester.request(topic, { labels: [dog] });
    assert.equal(unsigned.status, 'error');
    assert.equal(unsigned.code, 'SIGNATURE_REQUIRED');
    assert.equal(unsigned.problems?.[0]?.path, '$.signature');

    const forged = await mq.requester.request(
      topic,
      signRequest('labels/set', { labels: [dog] }, as(other.privateKey)),
    );
    assert.equal(forged.code, 'SIGNATURE_INVALID');

    const tampered = signRequest('labels/set', { labels: [dog] }, as(trusted.privateKey));
    tampered.labels = [alarm];
    assert.equal((await mq.requester.request(topic, tampered)).code, 'SIGNATURE_INVALID');

    // Signed for another op: not valid for this one.
    const otherOp = signRequest('labels/test', { labels: [dog] }, as(trusted.privateKey));
    assert.equal((await mq.requester.request(topic, otherOp)).code, 'SIGNATURE_INVALID');

    const unknownKey = signRequest('labels/set', { labels: [dog] }, as(trusted.privateKey, 'nobody'));
    assert.equal((await mq.requester.request(topic, unknownKey)).problems?.[0]?.path, '$.signature.keyId');
    assert.equal(h.service.current().version, 0, 'nothing was applied');

    const good = await mq.requester.request(
      topic,
      signRequest('labels/set', { transaction: 'ok', labels: [dog] }, as(trusted.privateKey)),
    );
    assert.equal(good.status, 'ok', JSON.stringify(good));
    assert.equal(h.service.current().version, 1);
  } finally {
    await h.stop();
  }
});

/** Signs exactly `body` (no target, issuedAt or nonce added), as a signer from before they were required. */
function signBare(op: string, body: Record<string, unknown>, keyId: string, key: KeyObject) {
  return { ...body, signature: { keyId, value: sign(null, signedBytes(op, body), key).toString('base64') } };
}

test('signed requests carry target, issuedAt and nonce: fresh ones apply; replays, stale or future ones and missing or malformed fields are refused', async () => {
  const trusted = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
  const key: SignOptions = { target: 'device:replay', keyId: 'ops', privateKeyPem: pem(trusted.privateKey) };
  const h = await startHarness({
    url: mq.broker.url,
    deviceId: 'replay',
    stateDir: tempDir('replay'),
    limits: {
      requireSigned: true,
      publicKeys: [{ id: 'ops', key: trusted.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
      maxRequestAgeS: 300,
      maxNonces: 16,
    },
  });
  try {
    const set = h.topics.request('labels/set');

    // signRequest stamps issuedAt (ms since the epoch) and a fresh nonce, both signed.
    const first = signRequest('labels/set', { transaction: 'a', labels: [dog] }, key);
    assert.ok(Number.isSafeInteger(first.issuedAt) && Math.abs(Date.now() - first.issuedAt) < 5000);
    assert.match(first.nonce, /^[A-Za-z0-9_-]{8,64}$/);
    const fresh = await mq.requester.request(set, first);
    assert.equal(fresh.status, 'ok', JSON.stringify(fresh));
    assert.equal(h.service.current().version, 1);
    const second = await mq.requester.request(set, signRequest('labels/set', { labels: [dog, alarm] }, key));
    assert.equal(second.status, 'ok', JSON.stringify(second));

    // Replaying the captured first set (a roll-back) is refused; the labels stay at version 2.
    const replayed = await mq.requester.request(set, first);
    assert.equal(replayed.status, 'error');
    assert.equal(replayed.code, 'REQUEST_REPLAYED');
    assert.equal(replayed.transaction, 'a');
    assert.match(replayed.error ?? '', /already received/);
    assert.equal(replayed.problems?.[0]?.path, '$.nonce');
    // A nonce is used up once its signature checks, even when the request is then refused.
    const conflict = signRequest('labels/set', { labels: [dog], ifVersion: 0 }, key);
    assert.equal((await mq.requester.request(set, conflict)).code, 'VERSION_CONFLICT');
    assert.equal((await mq.requester.request(set, conflict)).code, 'REQUEST_REPLAYED');
    assert.equal(h.service.current().version, 2);
    assert.deepEqual(
      h.service.current().labels.map((l) => l.name),
      ['dog', 'alarm'],
    );

    // Too old, and too far ahead of the device clock: the same window both ways.
    const stale = await mq.requester.request(
      set,
      signRequest('labels/set', { labels: [dog], issuedAt: Date.now() - 301_000 }, key),
    );
    assert.equal(stale.code, 'REQUEST_EXPIRED');
    assert.match(stale.error ?? '', /issued 30\d s ago, outside remote\.maxRequestAgeS \(300 s\)/);
    assert.equal(stale.problems?.[0]?.path, '$.issuedAt');
    assert.match(stale.problems?.[0]?.message ?? '', /device's clock/);
    const future = await mq.requester.request(
      set,
      signRequest('labels/set', { labels: [dog], issuedAt: Date.now() + 301_000 }, key),
    );
    assert.equal(future.code, 'REQUEST_EXPIRED');
    assert.match(future.error ?? '', /s in the future/);
    assert.equal(future.problems?.[0]?.path, '$.issuedAt');
    // Inside the window both ways: accepted.
    for (const skewMs of [-290_000, 290_000]) {
      const r = await mq.requester.request(
        h.topics.request('labels/get'),
        signRequest('labels/get', { issuedAt: Date.now() + skewMs }, key),
      );
      assert.equal(r.status, 'ok', `skew ${skewMs}: ${JSON.stringify(r)}`);
    }

    // A signer that adds none of the fields (or malformed ones) is told which field.
    const bare = await mq.requester.request(
      set,
      signBare('labels/set', { labels: [dog] }, 'ops', trusted.privateKey),
    );
    assert.equal(bare.code, 'REQUEST_INVALID');
    assert.deepEqual(
      bare.problems?.map((p) => p.path),
      ['$.target', '$.issuedAt', '$.nonce'],
    );
    assert.match(bare.error ?? '', /signed request without a valid target, issuedAt and nonce/);
    for (const p of bare.problems ?? []) assert.match(p.message, /required on signed requests/);
    assert.match(bare.problems?.[0]?.message ?? '', /"device:<deviceId>" or "group:<group>"/);
    const noTarget = await mq.requester.request(
      set,
      signBare(
        'labels/set',
        { labels: [dog], issuedAt: Date.now(), nonce: 'no-target-1' },
        'ops',
        trusted.privateKey,
      ),
    );
    assert.equal(noTarget.code, 'REQUEST_INVALID');
    assert.deepEqual(
      noTarget.problems?.map((p) => p.path),
      ['$.target'],
    );
    assert.match(noTarget.error ?? '', /without a valid target$/);
    const noNonce = await mq.requester.request(
      set,
      signBare(
        'labels/set',
        { labels: [dog], issuedAt: Date.now(), target: 'device:replay' },
        'ops',
        trusted.privateKey,
      ),
    );
    assert.equal(noNonce.code, 'REQUEST_INVALID');
    assert.deepEqual(
      noNonce.problems?.map((p) => p.path),
      ['$.nonce'],
    );
    const noIssuedAt = await mq.requester.request(
      set,
      signBare(
        'labels/set',
        { labels: [dog], nonce: 'abcdefgh12', target: 'device:replay' },
        'ops',
        trusted.privateKey,
      ),
    );
    assert.deepEqual(
      noIssuedAt.problems?.map((p) => p.path),
      ['$.issuedAt'],
    );
    const iso = await mq.requester.request(
      set,
      signRequest('labels/set', { labels: [dog], issuedAt: new Date().toISOString() }, key),
    );
    assert.equal(iso.code, 'REQUEST_INVALID');
    assert.equal(iso.problems?.[0]?.path, '$.issuedAt');
    assert.match(iso.problems?.[0]?.message ?? '', /milliseconds since the Unix epoch/);
    for (const nonce of ['short', 'x'.repeat(65), 'has space!', 12345678]) {
      const r = await mq.requester.request(set, signRequest('labels/set', { labels: [dog], nonce }, key));
      assert.equal(r.code, 'REQUEST_INVALID', String(nonce));
      assert.deepEqual(
        r.problems?.map((p) => p.path),
        ['$.nonce'],
      );
    }

    // A forged request does not use up its nonce (only verified requests reach the cache).
    const nonce = 'forged-then-real-1';
    const forged = signRequest('labels/get', { nonce }, { ...key, privateKeyPem: pem(other.privateKey) });
    assert.equal(
      (await mq.requester.request(h.topics.request('labels/get'), forged)).code,
      'SIGNATURE_INVALID',
    );
    const real = signRequest('labels/get', { nonce }, key);
    assert.equal((await mq.requester.request(h.topics.request('labels/get'), real)).status, 'ok');
    assert.equal(h.service.current().version, 2, 'nothing refused was applied');
  } finally {
    await h.stop();
  }
});

test('the nonce cache is bounded: once remote.maxNonces fresh nonces are held, signed requests are refused, not forgotten', async () => {
  const trusted = generateKeyPairSync('ed25519');
  const key: SignOptions = {
    target: 'device:nonce-cap',
    keyId: 'ops',
    privateKeyPem: trusted.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
  const h = await startHarness({
    url: mq.broker.url,
    deviceId: 'nonce-cap',
    stateDir: tempDir('nonce-cap'),
    limits: {
      publicKeys: [{ id: 'ops', key: trusted.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
      maxNonces: 16,
    },
  });
  try {
    const get = h.topics.request('labels/get');
    const accepted = Array.from({ length: 16 }, () => signRequest('labels/get', {}, key));
    const replies = await Promise.all(accepted.map((r) => mq.requester.request(get, r)));
    assert.ok(
      replies.every((r) => r.status === 'ok'),
      JSON.stringify(replies.find((r) => r.status !== 'ok')),
    );
    const full = await mq.requester.request(get, signRequest('labels/get', { transaction: 17 }, key));
    assert.equal(full.status, 'error');
    assert.equal(full.code, 'REPLAY_CACHE_FULL');
    assert.equal(full.transaction, 17);
    assert.match(full.error ?? '', /remote\.maxNonces/);
    assert.equal(full.problems?.[0]?.path, '$.nonce');
    // The held nonces are still refused as replays: the cache did not make room by forgetting.
    assert.equal((await mq.requester.request(get, accepted[0])).code, 'REQUEST_REPLAYED');
    // Unsigned requests (remote.requireSigned is off here) do not touch the cache.
    assert.equal((await mq.requester.request(get, {})).status, 'ok');
  } finally {
    await h.stop();
  }
});

test('a signed request is bound to the device or group it was signed for: refused on any other topic (REQUEST_MISDIRECTED)', async () => {
  const trusted = generateKeyPairSync('ed25519');
  const privateKeyPem = trusted.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const limits = {
    requireSigned: true,
    publicKeys: [{ id: 'ops', key: trusted.publicKey.export({ format: 'pem', type: 'spki' }).toString() }],
  };
  const lines: string[] = [];
  const pinoMod = await import('pino');
  const logB = pinoMod.default({ level: 'info' }, { write: (s: string) => lines.push(s) });
  // mis-a is in kitchen and garage, mis-b only in kitchen; a device is named like the group.
  const a = await startHarness({
    url: mq.broker.url,
    deviceId: 'mis-a',
    stateDir: tempDir('mis-a'),
    groups: ['kitchen', 'garage'],
    limits,
  });
  const b = await startHarness({
    url: mq.broker.url,
    deviceId: 'mis-b',
    stateDir: tempDir('mis-b'),
    groups: ['kitchen'],
    limits,
    logger: logB,
  });
  const named = await startHarness({
    url: mq.broker.url,
    deviceId: 'kitchen',
    stateDir: tempDir('mis-kitchen'),
    limits,
  });
  const sub = await startCollector({ url: mq.broker.url, filter: 'edgebind/+/response/#' });
  const signer = (target: SignOptions['target']): SignOptions => ({ target, keyId: 'ops', privateKeyPem });
  try {
    // Signed for device mis-a: applies there; captured and replayed to mis-b it is refused,
    // naming both ends, and changes nothing.
    const forA = signRequest('labels/set', { transaction: 'for-a', labels: [dog] }, signer('device:mis-a'));
    const onA = await mq.requester.request(a.topics.request('labels/set'), forA);
    assert.equal(onA.status, 'ok', JSON.stringify(onA));
    const replayedOnB = await mq.requester.request(b.topics.request('labels/set'), forA);
    assert.equal(replayedOnB.status, 'error');
    assert.equal(replayedOnB.code, 'REQUEST_MISDIRECTED');
    assert.equal(replayedOnB.transaction, 'for-a');
    assert.equal(replayedOnB.deviceId, 'mis-b');
    assert.equal(replayedOnB.error, 'request is addressed to "device:mis-a" but arrived on "device:mis-b"');
    assert.equal(replayedOnB.problems?.[0]?.path, '$.target');
    assert.match(
      replayedOnB.problems?.[0]?.message ?? '',
      /this topic is for "device:mis-b": publish the request to the topic of "device:mis-a", or sign a new one for "device:mis-b"/,
    );
    assert.equal(b.service.current().version, 0, 'mis-b kept its labels');

    // Sent to the wrong device first: refused there without using up its nonce, so it still
    // applies where it was addressed.
    const early = signRequest('labels/get', { transaction: 'early' }, signer('device:mis-a'));
    assert.equal(
      (await mq.requester.request(b.topics.request('labels/get'), early)).code,
      'REQUEST_MISDIRECTED',
    );
    assert.equal((await mq.requester.request(a.topics.request('labels/get'), early)).status, 'ok');

    // Rewriting the target breaks the signature: the target is signed.
    const rewritten = { ...signRequest('labels/get', {}, signer('device:mis-a')), target: 'device:mis-b' };
    const forged = await mq.requester.request(b.topics.request('labels/get'), rewritten);
    assert.equal(forged.code, 'SIGNATURE_INVALID');

    // Signed for group kitchen and published on its topic: every member applies it.
    const forKitchen = signRequest(
      'labels/set',
      { transaction: 'g-kitchen', labels: [dog, alarm] },
      signer('group:kitchen'),
    );
    sub.clear();
    await mq.requester.client.publishAsync(
      b.topics.groupRequest('kitchen', 'labels/set'),
      JSON.stringify(forKitchen),
      {
        qos: 1,
      },
    );
    for (const dev of ['mis-a', 'mis-b']) {
      const m = await sub.waitFor((x) => x.topic === `edgebind/${dev}/response/labels/set`);
      assert.equal((m.json as ResponsePayload).status, 'ok', JSON.stringify(m.json));
      assert.equal((m.json as ResponsePayload).transaction, 'g-kitchen');
    }
    assert.equal(a.service.current().version, 2);
    assert.equal(b.service.current().version, 1);

    // The same group request replayed onto a device topic, onto another group's topic, and onto
    // the device that has the group's name: refused each time.
    const onDevice = await mq.requester.request(b.topics.request('labels/set'), forKitchen);
    assert.equal(onDevice.code, 'REQUEST_MISDIRECTED');
    assert.equal(onDevice.error, 'request is addressed to "group:kitchen" but arrived on "device:mis-b"');
    sub.clear();
    await mq.requester.client.publishAsync(
      a.topics.groupRequest('garage', 'labels/set'),
      JSON.stringify(forKitchen),
      {
        qos: 1,
      },
    );
    const onGarage = (await sub.waitFor((x) => x.topic === 'edgebind/mis-a/response/labels/set'))
      .json as ResponsePayload;
    assert.equal(onGarage.code, 'REQUEST_MISDIRECTED');
    assert.equal(onGarage.error, 'request is addressed to "group:kitchen" but arrived on "group:garage"');
    const onNamesake = await mq.requester.request(named.topics.request('labels/set'), forKitchen);
    assert.equal(onNamesake.code, 'REQUEST_MISDIRECTED');
    assert.equal(onNamesake.error, 'request is addressed to "group:kitchen" but arrived on "device:kitchen"');
    // And the other way round: signed for device "kitchen", refused on group kitchen's topic.
    const forNamesake = signRequest('labels/get', { transaction: 'namesake' }, signer('device:kitchen'));
    sub.clear();
    await mq.requester.client.publishAsync(
      b.topics.groupRequest('kitchen', 'labels/get'),
      JSON.stringify(forNamesake),
      {
        qos: 1,
      },
    );
    const onGroup = (await sub.waitFor((x) => x.topic === 'edgebind/mis-b/response/labels/get'))
      .json as ResponsePayload;
    assert.equal(onGroup.code, 'REQUEST_MISDIRECTED');
    assert.equal(onGroup.error, 'request is addressed to "device:kitchen" but arrived on "group:kitchen"');
    assert.deepEqual(
      [a.service.current().version, b.service.current().version, named.service.current().version],
      [2, 1, 0],
      'no refused request was applied',
    );

    // An unsigned request naming another target is refused too; a malformed target is invalid.
    const unsigned = await mq.requester.request(b.topics.request('labels/get'), { target: 'device:mis-a' });
    assert.equal(unsigned.code, 'REQUEST_MISDIRECTED');
    for (const target of ['mis-b', 'host:mis-b', 'device:', 42]) {
      const r = await mq.requester.request(b.topics.request('labels/get'), {
        ...signRequest('labels/get', {}, signer('device:mis-b')),
        target,
      });
      assert.equal(r.code, 'REQUEST_INVALID', String(target));
      assert.equal(r.error, 'request has a malformed target');
      assert.equal(r.problems?.[0]?.path, '$.target');
      assert.match(
        r.problems?.[0]?.message ?? '',
        /^expected "device:<deviceId>" or "group:<group>" \(this topic is for "device:mis-b"\), got /,
      );
    }

    // A request on a group topic the device is not configured for (e.g. a subscription left in a
    // persistent session) is not handled; the log says why.
    b.publisher.subscribe(b.topics.groupRequestFilter('old'));
    await new Promise((r) => setTimeout(r, 100));
    await mq.requester.client.publishAsync(
      b.topics.groupRequest('old', 'labels/set'),
      JSON.stringify(signRequest('labels/set', { labels: [] }, signer('group:old'))),
      { qos: 1 },
    );
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => l.includes('ignored')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      lines.some((l) =>
        l.includes(
          "request on edgebind/groups/old/request/labels/set ignored: neither this device's topic nor one of remote.groups",
        ),
      ),
      lines.join(''),
    );
    assert.equal(b.service.current().version, 1);
  } finally {
    await sub.close();
    await Promise.all([a.stop(), b.stop(), named.stop()]);
  }
});

interface Bad {
  op: string;
  payload: Buffer;
  /** A problem path the response must name. */
  path: string;
}

const LIMITS = { maxLabels: 5, maxPromptChars: 100, maxPayloadBytes: 4096 };
const ident = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,10}$/);
const label = (over: Record<string, unknown> = {}) => ({ name: 'dog', prompts: ['a dog'], ...over });
const json = (op: string, body: unknown, path: string): Bad => ({
  op,
  payload: Buffer.from(JSON.stringify(body)),
  path,
});

function badRequests(): fc.Arbitrary<Bad> {
  const set = 'labels/set';
  return fc.oneof(
    // Not JSON at all.
    fc
      .uint8Array({ minLength: 1, maxLength: 200 })
      .filter((b) => {
        try {
          const v: unknown = JSON.parse(Buffer.from(b).toString());
          return typeof v !== 'object' || v === null || Array.isArray(v);
        } catch {
          return true;
        }
      })
      .map((b) => ({ op: set, payload: Buffer.from(b), path: '$' })),
    // JSON, but not an object.
    fc
      .oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.integer()))
      .map((v) => json(set, v, '$')),
    // Oversized.
    fc
      .integer({ min: LIMITS.maxPayloadBytes + 1, max: LIMITS.maxPayloadBytes * 4 })
      .map((n) => json(set, { labels: [label({ prompts: ['x'.repeat(n)] })] }, '$')),
    // Bad names.
    fc
      .string({ maxLength: 80 })
      .filter((s) => !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(s))
      .map((name) => json(set, { labels: [label({ name })] }, '$.labels[0].name')),
    // Empty prompt, prompt over the configured limit, no prompts.
    fc.constant(json(set, { labels: [label({ prompts: [''] })] }, '$.labels[0].prompts[0]')),
    fc
      .integer({ min: LIMITS.maxPromptChars + 1, max: 300 })
      .map((n) => json(set, { labels: [label({ prompts: ['p'.repeat(n)] })] }, '$.labels[0].prompts[0]')),
    fc.constant(json(set, { labels: [label({ prompts: [] })] }, '$.labels[0].prompts')),
    // Thresholds out of range or of the wrong type.
    fc
      .oneof(
        fc.double({ min: 1.0001, max: 1e6, noNaN: true }),
        fc.double({ max: -0.0001, min: -1e6, noNaN: true }),
        fc.string(),
      )
      .map((t) => json(set, { labels: [label({ threshold: t })] }, '$.labels[0].threshold')),
    fc
      .double({ min: 0, max: 0.49, noNaN: true })
      .map((t) =>
        json(set, { labels: [label({ threshold: t, offThreshold: t + 0.5 })] }, '$.labels[0].offThreshold'),
      ),
    // Unknown keys, in a label and at the top level.
    ident
      .filter(
        (k) =>
          ![
            'name',
            'prompts',
            'templates',
            'textWeight',
            'examples',
            'modalities',
            'threshold',
            'offThreshold',
            'margin',
            'minCosine',
            'fusion',
            'events',
          ].includes(k),
      )
      .map((k) => json(set, { labels: [label({ [k]: 1 })] }, `$.labels[0].${k}`)),
    ident
      .filter(
        (k) =>
          !['labels', 'transaction', 'target', 'signature', 'issuedAt', 'nonce', 'ifVersion'].includes(k),
      )
      .map((k) => json(set, { labels: [label()], [k]: true }, `$.${k}`)),
    // A target that is not "device:<id>" or "group:<name>".
    fc
      .oneof(fc.string({ maxLength: 80 }), fc.integer(), fc.boolean())
      .filter((t) => typeof t !== 'string' || !/^(device|group):[^/+#]{1,64}$/.test(t))
      .map((target) => json(set, { labels: [label()], target }, '$.target')),
    // Too many labels, duplicates, wrong container types.
    fc
      .integer({ min: LIMITS.maxLabels + 1, max: 20 })
      .map((n) =>
        json(set, { labels: Array.from({ length: n }, (_, i) => label({ name: `l${i}` })) }, '$.labels'),
      ),
    fc.constant(json(set, { labels: [label(), label()] }, '$.labels[1].name')),
    fc.oneof(fc.string(), fc.integer(), fc.constant(null)).map((v) => json(set, { labels: v }, '$.labels')),
    // Patch: remove or replace what does not exist, add what does.
    ident.map((n) => json('labels/patch', { remove: [`zz${n}`] }, '$.remove[0]')),
    fc.constant(json('labels/patch', { add: [label({ name: 'base' })] }, '$.add[0].name')),
    fc.constant(json('labels/patch', { replace: [label({ name: 'nope' })] }, '$.replace[0].name')),
    // Unknown operation, and a remote example pointing at a local file.
    ident.map((op) => json(`labels/${op}x`, { labels: [] }, '$')),
    fc.constant(
      json(
        set,
        { labels: [{ name: 'ex', examples: [{ file: '/etc/passwd' }] }] },
        '$.labels[0].examples[0].file',
      ),
    ),
  );
}

test('1,000 malformed or oversized requests: each answered with its problem; nothing changes', async () => {
  const stateDir = tempDir('fuzz');
  const h = await startHarness({ url: mq.broker.url, deviceId: 'fuzz', stateDir, limits: LIMITS });
  try {
    const ok = await mq.requester.request(h.topics.request('labels/set'), {
      labels: [label({ name: 'base' })],
    });
    assert.equal(ok.status, 'ok');
    const fileBefore = readFileSync(join(stateDir, 'labels.json'));
    const appliedBefore = h.applied.length;
    const cases = fc.sample(badRequests(), { numRuns: 1000, seed: 20261126 });
    assert.equal(cases.length, 1000);
    for (let i = 0; i < cases.length; i += 50) {
      const batch = cases.slice(i, i + 50);
      const replies = await Promise.all(
        batch.map((c) => mq.requester.request(`edgebind/fuzz/request/${c.op}`, c.payload, 15_000)),
      );
      replies.forEach((r, j) => {
        const c = batch[j]!;
        const what = `${c.op} ${c.payload.toString().slice(0, 120)} → ${JSON.stringify(r).slice(0, 300)}`;
        assert.equal(r.status, 'error', what);
        assert.ok(typeof r.error === 'string' && r.error.length > 0, what);
        assert.ok(
          r.problems?.some((p) => p.path === c.path && p.message.length > 0),
          `expected a problem at ${c.path}: ${what}`,
        );
      });
    }
    assert.equal(h.service.current().version, 1, 'the active set is unchanged');
    assert.equal(h.applied.length, appliedBefore, 'nothing was swapped in');
    assert.deepEqual(
      readFileSync(join(stateDir, 'labels.json')),
      fileBefore,
      'the persisted file is unchanged',
    );
    const still = await mq.requester.request(h.topics.request('labels/get'), {});
    assert.equal(still.status, 'ok', 'the agent still answers');
  } finally {
    await h.stop();
  }
});

test('health carries uptime, window counts, outbox depth and publish counters', async () => {
  const h = await startHarness({ url: mq.broker.url, deviceId: 'health', stateDir: tempDir('health') });
  const sub = await startCollector({ url: mq.broker.url, filter: 'edgebind/health/health' });
  try {
    assert.equal((await mq.requester.request(h.topics.request('labels/get'), {})).status, 'ok');
    // An op no agent knows: its topic as a client would spell it.
    const unknown = await mq.requester.request(h.topics.request('labels/get').replace(/get$/, 'nope'), {});
    assert.equal(unknown.code, 'UNKNOWN_OP');
    await h.api.publishHealth();
    const m = await sub.waitFor(() => true);
    const payload = m.json as Record<string, unknown>;
    for (const key of ['deviceId', 'timestamp', 'uptimeS', 'windows', 'events', 'labels', 'mqtt'])
      assert.ok(key in payload, `health has ${key}`);
    // Requests answered since start, refusals by code (a flood or forged requests show here).
    assert.deepEqual(payload.requests, { answered: 2, ok: 1, refused: { UNKNOWN_OP: 1 } });
    const mqttStats = payload.mqtt as Record<string, unknown>;
    for (const key of ['connected', 'outboxDepth', 'published', 'dropped'])
      assert.equal(typeof mqttStats[key], key === 'connected' ? 'boolean' : 'number');
    assert.equal(m.retain, false);
  } finally {
    await sub.close();
    await h.stop();
  }
});
