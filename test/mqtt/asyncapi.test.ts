/**
 * docs/asyncapi.yaml is generated from the code and up to date, and the request schemas it
 * publishes are exactly the ones requests are validated with.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ASYNCAPI_FILE, renderAsyncApi } from '../../src/mqtt/asyncapi.js';
import { REQUEST_OPS, requestJsonSchemas } from '../../src/mqtt/payloads.js';
import { discoveryMessages } from '../../src/mqtt/discovery.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { REQUEST_ERROR_CODES } from '../../src/errors.js';

test('docs/asyncapi.yaml is up to date (run: node --import tsx src/mqtt/asyncapi.ts --write)', () => {
  // Compared as data: prettier may re-quote the YAML.
  assert.deepEqual(parse(readFileSync(ASYNCAPI_FILE, 'utf8')), parse(renderAsyncApi()));
});

test('the published request schemas are the validating zod schemas, and every topic is described', () => {
  const doc = parse(readFileSync(ASYNCAPI_FILE, 'utf8')) as {
    asyncapi: string;
    channels: Record<string, { address: string }>;
    components: { schemas: Record<string, unknown> };
  };
  assert.equal(doc.asyncapi, '3.0.0');
  const schemas = requestJsonSchemas('draft-7');
  for (const op of REQUEST_OPS) {
    const name = `${op
      .split('/')
      .map((p) => p[0]!.toUpperCase() + p.slice(1))
      .join('')}Request`;
    assert.deepEqual(doc.components.schemas[name], schemas[op], `${op} schema`);
  }
  const t = deviceTopics('b', 'd');
  const fill = (address: string) =>
    address
      .replace('{base}', 'b')
      .replace('{deviceId}', 'd')
      .replace('{slug}', 'dog')
      .replace('{op}', 'set')
      .replace('{group}', 'g');
  const addresses = new Set(Object.values(doc.channels).map((c) => fill(c.address)));
  for (const topic of [
    t.status,
    t.events,
    t.health,
    t.labels,
    t.labelState('dog'),
    t.labelEvent('dog'),
    t.request('labels/set'),
    t.response('labels/set'),
    t.groupRequest('g', 'labels/set'),
    t.request('history/search'),
    t.response('history/search'),
    t.groupRequest('g', 'history/search'),
  ])
    assert.ok(addresses.has(topic), `${topic} is described`);
});

test('every channel parameter is one topic level, so a + subscription matches it (issue 17 item 11)', () => {
  const doc = parse(readFileSync(ASYNCAPI_FILE, 'utf8')) as {
    channels: Record<string, { address: string; parameters?: Record<string, { enum?: string[] }> }>;
  };
  for (const [name, c] of Object.entries(doc.channels))
    for (const [p, spec] of Object.entries(c.parameters ?? {}))
      for (const v of spec.enum ?? []) assert.ok(!v.includes('/'), `${name}.${p} value ${v} spans levels`);
  const t = deviceTopics('b', 'd');
  // What a + subscriber built from the documented address receives: every op's response.
  const filter = doc.channels
    .response!.address.replace('{base}', 'b')
    .replace('{deviceId}', 'd')
    .replace('{op}', '+');
  const matches = (f: string, topic: string) =>
    new RegExp(`^${f.replace(/\+/g, '[^/]+').replace(/#$/, '.*')}$`).test(topic);
  for (const op of REQUEST_OPS.filter((o) => o.startsWith('labels/')))
    assert.ok(matches(filter, t.response(op)), `${filter} matches ${t.response(op)}`);
  // history/search has its own channels, spelled out whole.
  assert.equal(
    doc.channels.historySearchResponse!.address.replace('{base}', 'b').replace('{deviceId}', 'd'),
    t.response('history/search'),
  );
});

test('Home Assistant discovery and birth topics are described', () => {
  const doc = parse(readFileSync(ASYNCAPI_FILE, 'utf8')) as {
    channels: Record<string, { address: string; parameters?: Record<string, { enum?: string[] }> }>;
  };
  const addresses = Object.values(doc.channels).map((c) => c.address);
  assert.ok(addresses.includes('homeassistant/{component}/{nodeId}/{objectId}/config'));
  assert.ok(addresses.includes('homeassistant/status'));
  const components = doc.channels.haDiscovery!.parameters!.component!.enum!;
  const published = discoveryMessages(
    { prefix: 'homeassistant', topics: deviceTopics('b', 'd'), swVersion: '0' },
    [{ name: 'dog' }],
  ).map((m) => m.topic.split('/')[1]!);
  assert.ok(published.includes('sensor'), 'the score sensor is among them');
  for (const c of published) assert.ok(components.includes(c), `component ${c} is described`);
  // The connectivity entities' retained topic is described too.
  assert.ok(addresses.includes('{base}/{deviceId}/sensors/{sensorId}/state'));
});

test('every request error code is in the AsyncAPI code enum and explained in docs/mqtt.md', () => {
  const doc = parse(readFileSync(ASYNCAPI_FILE, 'utf8')) as {
    components: { schemas: Record<string, { properties?: { code?: { enum?: string[] } } }> };
  };
  const enums = Object.values(doc.components.schemas)
    .map((s) => s.properties?.code?.enum)
    .filter((e): e is string[] => Array.isArray(e) && e.includes('REQUEST_INVALID'));
  assert.equal(enums.length, 1, 'one response schema carries the request error codes');
  assert.deepEqual(enums[0], [...REQUEST_ERROR_CODES]);
  const mqttDoc = readFileSync(new URL('../../docs/mqtt.md', import.meta.url), 'utf8');
  const undocumented = REQUEST_ERROR_CODES.filter((code) => !mqttDoc.includes(`\`${code}\``));
  assert.deepEqual(undocumented, [], 'codes docs/mqtt.md does not name');
});
