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
import { deviceTopics } from '../../src/mqtt/topics.js';

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
      .replace('{op}', 'labels/set')
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
  ])
    assert.ok(addresses.has(topic), `${topic} is described`);
});
