/**
 * mqtts with certificates made here (openssl CLI) and a Mosquitto password file
 * (mosquitto_passwd): the right CA, client certificate and password connect; a wrong password or
 * an untrusted broker certificate fails with one clear log line and keeps retrying.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { brokerSecrets } from '../../src/config/secrets.js';
import { brokerCheck } from '../../src/cli/commands/doctor.js';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { findExecutable, startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const dir = tempDir('tls');
const f = (name: string) => join(dir, name);
let broker: Mosquitto;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openssl(...args: string[]): void {
  execFileSync(findExecutable('openssl', 'openssl'), args, { stdio: 'pipe' });
}

function ca(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f(`${name}.key`),
    '-out',
    f(`${name}.crt`),
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  );
}

function signed(name: string, cn: string, caName: string, ext: string): void {
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    f(`${name}.key`),
    '-out',
    f(`${name}.csr`),
    '-subj',
    `/CN=${cn}`,
  );
  writeFileSync(f(`${name}.ext`), `${ext}\n`);
  openssl(
    'x509',
    '-req',
    '-in',
    f(`${name}.csr`),
    '-CA',
    f(`${caName}.crt`),
    '-CAkey',
    f(`${caName}.key`),
    '-CAcreateserial',
    '-out',
    f(`${name}.crt`),
    '-days',
    '2',
    '-extfile',
    f(`${name}.ext`),
  );
}

before(async () => {
  ca('ca');
  ca('rogue-ca');
  signed('server', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1');
  signed('client', 'agent', 'ca', 'extendedKeyUsage=clientAuth');
  execFileSync(findExecutable('mosquitto_passwd', 'mosquitto'), ['-b', '-c', f('passwd'), 'agent', 's3cret']);
  writeFileSync(f('good-password'), 's3cret\n');
  writeFileSync(f('bad-password'), 'guess\n');
  broker = await startMosquitto({
    extraConfig: [
      `cafile ${f('ca.crt')}`,
      `certfile ${f('server.crt')}`,
      `keyfile ${f('server.key')}`,
      'require_certificate true',
      'allow_anonymous false',
      `password_file ${f('passwd')}`,
    ].join('\n'),
  });
});
after(async () => {
  await broker.close();
});

async function attempt(name: string, mqtt: Partial<ConfigInput['mqtt']>) {
  const file = f(`${name}.yaml`);
  const url = `mqtts://127.0.0.1:${broker.port}`;
  writeFileSync(
    file,
    toYaml(
      sampleConfig({
        stateDir: f('state'),
        deviceId: name,
        mqtt: { broker: url, username: 'agent', ...mqtt },
      }),
    ),
  );
  const config = await loadConfig(file);
  const secrets = brokerSecrets(config);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(s) });
  const topics = deviceTopics('edgebind', name);
  const pub = new MqttPublisher({
    url,
    clientId: name,
    topics,
    outbox: new DurableOutbox({ dir: f(`outbox-${name}`), maxBytes: 1 << 20, maxRecords: 100, maxAgeMs: 0 }),
    ...(secrets.password !== undefined ? { username: 'agent', password: secrets.password } : {}),
    tls: secrets.tls,
    keepaliveS: 10,
    reconnectMinMs: 100,
    reconnectMaxMs: 200,
    logger,
  });
  const connectionsBefore = (broker.logs().match(/New connection from/g) ?? []).length;
  pub.start();
  return {
    pub,
    lines,
    failures: () => lines.filter((l) => l.includes('cannot reach broker')),
    attempts: () => (broker.logs().match(/New connection from/g) ?? []).length - connectionsBefore,
  };
}

test('the right CA, client certificate and password connect over mqtts', async () => {
  const a = await attempt('tls-good', {
    caFile: f('ca.crt'),
    certFile: f('client.crt'),
    keyFile: f('client.key'),
    passwordFile: f('good-password'),
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!a.pub.isConnected && Date.now() < deadline) await sleep(50);
    assert.ok(a.pub.isConnected, `connected; log: ${a.lines.join('')}`);
    assert.deepEqual(a.failures(), []);
  } finally {
    await a.pub.stop(200);
  }
});

test('a wrong password fails with one clear log line and keeps retrying', async () => {
  const a = await attempt('tls-badpw', {
    caFile: f('ca.crt'),
    certFile: f('client.crt'),
    keyFile: f('client.key'),
    passwordFile: f('bad-password'),
  });
  try {
    const deadline = Date.now() + 10_000;
    while (a.attempts() < 4 && Date.now() < deadline) await sleep(50);
    assert.ok(a.attempts() >= 4, `kept retrying (${a.attempts()} attempts)`);
    assert.equal(a.pub.isConnected, false);
    assert.equal(a.failures().length, 1, a.failures().join(''));
    assert.match(a.failures()[0]!, /refused the login: (bad username or password|not authorized)/);
  } finally {
    await a.pub.stop(200);
  }
});

test('an untrusted broker certificate fails with one clear log line and keeps retrying', async () => {
  const a = await attempt('tls-rogue', {
    caFile: f('rogue-ca.crt'),
    certFile: f('client.crt'),
    keyFile: f('client.key'),
    passwordFile: f('good-password'),
  });
  try {
    const deadline = Date.now() + 10_000;
    while (a.attempts() < 4 && Date.now() < deadline) await sleep(50);
    assert.ok(a.attempts() >= 4, `kept retrying (${a.attempts()} attempts)`);
    assert.equal(a.pub.isConnected, false);
    assert.equal(a.failures().length, 1, a.failures().join(''));
    assert.match(a.failures()[0]!, /TLS certificate is not trusted/);
  } finally {
    await a.pub.stop(200);
  }
});

test('doctor connects with the same password file, CA and client certificate as the agent (issue 16)', async () => {
  const check = async (name: string, mqtt: Partial<ConfigInput['mqtt']>) => {
    const file = f(`${name}.yaml`);
    const url = `mqtts://127.0.0.1:${broker.port}`;
    writeFileSync(
      file,
      toYaml(
        sampleConfig({
          stateDir: f('state'),
          deviceId: name,
          mqtt: { broker: url, username: 'agent', ...mqtt },
        }),
      ),
    );
    return brokerCheck(await loadConfig(file), 5000);
  };
  const client = { certFile: f('client.crt'), keyFile: f('client.key'), passwordFile: f('good-password') };
  const good = await check('doctor-good', { caFile: f('ca.crt'), ...client });
  assert.equal(good.status, 'ok', good.detail);
  assert.match(good.detail, /connected as agent/);
  const rogue = await check('doctor-rogue', { caFile: f('rogue-ca.crt'), ...client });
  assert.equal(rogue.status, 'fail');
});
