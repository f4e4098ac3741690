/** Broker credentials from the config (src/config/secrets.ts), as the agent and doctor read them. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { brokerSecrets } from '../../src/config/secrets.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'edgebind-secrets-'));
const source = join(dir, 'edgebind.yaml');
const mqtt = (m: Record<string, unknown>) =>
  ({ mqtt: { rejectUnauthorized: true, ...m }, source }) as unknown as Parameters<typeof brokerSecrets>[0];

test('password from the environment, or the first line of a file relative to the config', () => {
  assert.deepEqual(brokerSecrets(mqtt({ passwordEnv: 'PW' }), { PW: 'from-env' }), {
    password: 'from-env',
    tls: { rejectUnauthorized: true },
  });
  assert.deepEqual(brokerSecrets(mqtt({ passwordEnv: 'PW' }), {}), { tls: { rejectUnauthorized: true } });
  writeFileSync(join(dir, 'pw'), 's3cret\r\nsecond line\n');
  assert.equal(brokerSecrets(mqtt({ passwordFile: 'pw' })).password, 's3cret');
});

test('TLS files are read; rejectUnauthorized passes through', () => {
  writeFileSync(join(dir, 'ca.crt'), 'CA');
  writeFileSync(join(dir, 'c.crt'), 'CERT');
  writeFileSync(join(dir, 'c.key'), 'KEY');
  const s = brokerSecrets(
    mqtt({ caFile: join(dir, 'ca.crt'), certFile: 'c.crt', keyFile: 'c.key', rejectUnauthorized: false }),
  );
  assert.deepEqual(
    { ca: s.tls.ca?.toString(), cert: s.tls.cert?.toString(), key: s.tls.key?.toString() },
    { ca: 'CA', cert: 'CERT', key: 'KEY' },
  );
  assert.equal(s.tls.rejectUnauthorized, false);
});

test('an unreadable file or both password sources are config errors naming the key', () => {
  assert.throws(
    () => brokerSecrets(mqtt({ caFile: 'missing.crt' })),
    (err: unknown) =>
      err instanceof ConfigError && err.code === 'CONFIG_INVALID' && err.problems[0]?.path === 'mqtt.caFile',
  );
  assert.throws(
    () => brokerSecrets(mqtt({ passwordEnv: 'PW', passwordFile: 'pw' })),
    (err: unknown) => err instanceof ConfigError && err.problems[0]?.path === 'mqtt.passwordFile',
  );
});
