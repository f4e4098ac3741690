/**
 * Request signing and replay protection without a broker: the exact signed bytes, what
 * signRequest stamps and signs (target, issuedAt, nonce), and ReplayGuard's window, nonce memory
 * and size bound, on an explicit clock.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import {
  deviceTarget,
  groupTarget,
  NONCE_PATTERN,
  ReplayGuard,
  signedBytes,
  signRequest,
  TARGET_PATTERN,
  verifyRequest,
} from '../../src/mqtt/signing.js';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const MAX_AGE_MS = 300_000;
const req = (nonce: string, issuedAtMs = T0, keyId = 'ops') => ({ keyId, nonce, issuedAtMs });

function keys() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { publicKey, pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

test('the signed bytes: domain tag, op and the canonical request with its target (the example in docs/mqtt.md)', () => {
  const request = {
    transaction: 't7',
    nonce: '3q2-7wCQk1Jb0Xw8lF1l0A',
    issuedAt: 1795701600000,
    target: 'device:kitchen-1',
    signature: { keyId: 'ops', value: 'not signed' },
  };
  assert.equal(
    signedBytes('labels/get', request).toString('utf8'),
    'edgebind-request\nlabels/get\n' +
      '{"issuedAt":1795701600000,"nonce":"3q2-7wCQk1Jb0Xw8lF1l0A","target":"device:kitchen-1","transaction":"t7"}',
  );
});

test('signRequest stamps target, issuedAt (ms since the epoch) and a new nonce, and signs them', () => {
  const { publicKey, pem } = keys();
  const opts = { target: deviceTarget('kitchen-1'), keyId: 'ops', privateKeyPem: pem };
  const before = Date.now();
  const a = signRequest('labels/set', { labels: [] }, opts);
  const b = signRequest('labels/set', { labels: [] }, opts);
  assert.equal(a.target, 'device:kitchen-1');
  assert.ok(Number.isSafeInteger(a.issuedAt) && a.issuedAt >= before && a.issuedAt <= Date.now());
  assert.match(a.nonce, NONCE_PATTERN);
  assert.notEqual(a.nonce, b.nonce);
  assert.deepEqual(a.signature, { keyId: 'ops', value: a.signature.value });
  assert.ok(verifyRequest('labels/set', a, a.signature.value, publicKey));
  // All three are covered by the signature.
  assert.equal(
    verifyRequest('labels/set', { ...a, issuedAt: a.issuedAt + 1 }, a.signature.value, publicKey),
    false,
  );
  assert.equal(verifyRequest('labels/set', { ...a, nonce: b.nonce }, a.signature.value, publicKey), false);
  assert.equal(
    verifyRequest('labels/set', { ...a, target: 'device:kitchen-2' }, a.signature.value, publicKey),
    false,
  );
  // Values the caller gives are kept (and signed); so is a target equal to opts.target.
  const c = signRequest(
    'labels/get',
    { issuedAt: 5, nonce: 'fixed-nonce', target: 'device:kitchen-1' },
    opts,
  );
  assert.equal(c.issuedAt, 5);
  assert.equal(c.nonce, 'fixed-nonce');
  assert.ok(verifyRequest('labels/get', c, c.signature.value, publicKey));
});

test('a signature for a device does not verify for a group of the same name, nor for another device', () => {
  const { publicKey, pem } = keys();
  const forDevice = signRequest(
    'labels/get',
    { issuedAt: 5, nonce: 'fixed-nonce' },
    { target: deviceTarget('kitchen'), keyId: 'ops', privateKeyPem: pem },
  );
  const forGroup = signRequest(
    'labels/get',
    { issuedAt: 5, nonce: 'fixed-nonce' },
    { target: groupTarget('kitchen'), keyId: 'ops', privateKeyPem: pem },
  );
  assert.equal(forGroup.target, 'group:kitchen');
  assert.notEqual(forDevice.signature.value, forGroup.signature.value);
  assert.notDeepEqual(signedBytes('labels/get', forDevice), signedBytes('labels/get', forGroup));
  for (const target of ['group:kitchen', 'device:garage', 'kitchen'])
    assert.equal(
      verifyRequest('labels/get', { ...forDevice, target }, forDevice.signature.value, publicKey),
      false,
      target,
    );
});

test('signRequest refuses a malformed target, or one in the request that differs from opts.target', () => {
  const { pem } = keys();
  const opts = { target: deviceTarget('kitchen-1'), keyId: 'ops', privateKeyPem: pem };
  assert.throws(
    () => signRequest('labels/get', { target: 'device:kitchen-2' }, opts),
    (err: Error) =>
      err instanceof TypeError &&
      /request\.target is "device:kitchen-2" but opts\.target is "device:kitchen-1"/.test(err.message),
  );
  for (const target of [deviceTarget(''), groupTarget('a/b'), deviceTarget('x'.repeat(65))])
    assert.throws(
      () => signRequest('labels/get', {}, { ...opts, target }),
      (err: Error) => err instanceof TypeError && /"device:<deviceId>" or "group:<group>"/.test(err.message),
      target,
    );
  assert.ok(TARGET_PATTERN.test('group:kitchen') && TARGET_PATTERN.test('device:kitchen-1'));
  assert.equal(TARGET_PATTERN.test('host:kitchen'), false);
});

test('ReplayGuard accepts a fresh request once and refuses its replay', () => {
  const g = new ReplayGuard({ maxAgeMs: MAX_AGE_MS, maxEntries: 100 });
  assert.deepEqual(g.admit(req('nonce-0001'), T0), { ok: true });
  assert.deepEqual(g.admit(req('nonce-0001'), T0 + 1000), { ok: false, reason: 'replayed' });
  assert.deepEqual(g.admit(req('nonce-0002'), T0 + 1000), { ok: true });
  // Nonces are per signing key.
  assert.deepEqual(g.admit(req('nonce-0001', T0, 'other'), T0 + 1000), { ok: true });
  assert.equal(g.size, 3);
});

test('ReplayGuard window: the same maxAgeMs in the past and in the future, inclusive', () => {
  const g = new ReplayGuard({ maxAgeMs: MAX_AGE_MS, maxEntries: 100 });
  assert.deepEqual(g.admit(req('stale-001', T0 - MAX_AGE_MS - 1), T0), {
    ok: false,
    reason: 'expired',
    ageMs: MAX_AGE_MS + 1,
  });
  assert.deepEqual(g.admit(req('future-01', T0 + MAX_AGE_MS + 1), T0), {
    ok: false,
    reason: 'expired',
    ageMs: -MAX_AGE_MS - 1,
  });
  assert.deepEqual(g.admit(req('edge-past', T0 - MAX_AGE_MS), T0), { ok: true });
  assert.deepEqual(g.admit(req('edge-next', T0 + MAX_AGE_MS), T0), { ok: true });
  assert.equal(g.admit(req('not-a-time', Number.NaN), T0).ok, false);
  assert.equal(g.size, 2, 'refused requests are not remembered');
});

test('ReplayGuard remembers a nonce until its request expires, then forgets it', () => {
  const g = new ReplayGuard({ maxAgeMs: MAX_AGE_MS, maxEntries: 100 });
  assert.ok(g.admit(req('nonce-aaaa', T0), T0).ok);
  // Still inside the window: a replay.
  assert.deepEqual(g.admit(req('nonce-aaaa', T0), T0 + MAX_AGE_MS), { ok: false, reason: 'replayed' });
  // Past it: the old request is refused as expired, whatever the nonce cache holds...
  assert.equal(g.admit(req('nonce-aaaa', T0), T0 + MAX_AGE_MS + 1).ok, false);
  // ...and a new request may reuse the nonce; the expired entry is swept.
  assert.deepEqual(g.admit(req('nonce-aaaa', T0 + MAX_AGE_MS + 1), T0 + MAX_AGE_MS + 1), { ok: true });
  assert.ok(g.admit(req('nonce-bbbb', T0 + 3 * MAX_AGE_MS), T0 + 3 * MAX_AGE_MS).ok);
  assert.equal(g.size, 1, 'expired nonces are dropped');
});

test('ReplayGuard is bounded: when full it refuses new nonces instead of forgetting fresh ones', () => {
  const g = new ReplayGuard({ maxAgeMs: MAX_AGE_MS, maxEntries: 3 });
  for (const n of ['nonce-0001', 'nonce-0002', 'nonce-0003']) assert.ok(g.admit(req(n), T0).ok);
  assert.deepEqual(g.admit(req('nonce-0004'), T0 + 1), { ok: false, reason: 'full' });
  // A held nonce is still a replay, not "full": nothing was forgotten.
  assert.deepEqual(g.admit(req('nonce-0001'), T0 + 1), { ok: false, reason: 'replayed' });
  assert.equal(g.size, 3);
  // Once they expire there is room again.
  assert.deepEqual(g.admit(req('nonce-0004', T0 + MAX_AGE_MS + 1), T0 + MAX_AGE_MS + 1), { ok: true });
  assert.equal(g.size, 1);
});

test('ReplayGuard under a flood of distinct nonces stays at maxEntries', () => {
  const g = new ReplayGuard({ maxAgeMs: MAX_AGE_MS, maxEntries: 1000 });
  let accepted = 0;
  let full = 0;
  for (let i = 0; i < 50_000; i++) {
    const now = T0 + i; // 50 s of requests, all inside one window
    const v = g.admit(req(`flood-${i.toString().padStart(8, '0')}`, now), now);
    if (v.ok) accepted++;
    else if (v.reason === 'full') full++;
    assert.ok(g.size <= 1000);
  }
  assert.equal(accepted, 1000);
  assert.equal(full, 49_000);
});

test('ReplayGuard options are checked', () => {
  assert.throws(() => new ReplayGuard({ maxAgeMs: 0, maxEntries: 10 }), TypeError);
  assert.throws(() => new ReplayGuard({ maxAgeMs: 1000, maxEntries: 0 }), TypeError);
  assert.throws(() => new ReplayGuard({ maxAgeMs: 1000, maxEntries: 1.5 }), TypeError);
});
