/**
 * docs/config.schema.json is usable by strict JSON Schema tools (issue 17 item 11): Ajv in strict
 * mode compiles it (the restart marker is the vendor keyword `x-restart-required`, registered as
 * such; the old `restartRequired` was an unknown keyword), and both examples validate against it,
 * each naming it in its `yaml-language-server` line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { REPO } from '../helpers/agent-config.js';

const schema = JSON.parse(readFileSync(`${REPO}docs/config.schema.json`, 'utf8')) as Record<string, unknown>;

function strictAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addKeyword({ keyword: 'x-restart-required', schemaType: 'boolean' });
  addFormats.default(ajv); // "uri" and the other standard formats
  return ajv;
}

test('Ajv strict mode compiles docs/config.schema.json with only x-restart-required registered', () => {
  const validate = strictAjv().compile(schema);
  assert.equal(validate({ sensors: [], labels: [], mqtt: { brokr: 'x' } }), false);
  assert.ok(validate.errors?.some((e) => e.keyword === 'additionalProperties'));
});

test('an unknown keyword still fails strict mode (what restartRequired did)', () => {
  assert.throws(
    () => strictAjv().compile({ type: 'object', restartRequired: true }),
    /strict mode: unknown keyword: "restartRequired"/,
  );
});

for (const example of ['examples/replay.yaml', 'examples/demo.yaml']) {
  test(`${example} names the schema for editors and validates against it`, () => {
    const text = readFileSync(`${REPO}${example}`, 'utf8');
    assert.match(text, /^# yaml-language-server: \$schema=\.\.\/docs\/config\.schema\.json$/m);
    const validate = strictAjv().compile(schema);
    assert.ok(validate(parse(text)), JSON.stringify(validate.errors));
  });
}
