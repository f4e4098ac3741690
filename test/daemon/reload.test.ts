/** Config diffs split by the schema's restartRequired metadata. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { diffConfig } from '../../src/daemon/reload.js';

const input = {
  sensors: [{ id: 'mic', driver: 'replay', modality: 'audio', file: 'a.wav' }],
  labels: [{ name: 'alarm', prompts: ['an alarm'] }],
};
const base = (extraLabels: object[] = []): Config =>
  ConfigSchema.parse({ ...input, labels: [...input.labels, ...extraLabels] });

test('identical configs: nothing changed', () => {
  assert.deepEqual(diffConfig(base(), base()), { live: [], restartRequired: [] });
});

test('live and restart-required paths are told apart, down to array elements', () => {
  const a = base();
  const b = base([{ name: 'dog', prompts: ['a dog'] }]);
  b.log.level = 'debug';
  b.labels[0]!.threshold = 0.7;
  b.mqtt.broker = 'mqtt://broker.local:1883';
  b.sensors[0]!.modality = 'imu';
  b.sensors[0]!.window = { lengthMs: 500, hopMs: 250 }; // WindowSchema itself is restartRequired
  b.encoders.providers = ['cuda', 'cpu'];
  const d = diffConfig(a, b);
  assert.deepEqual(d.live.sort(), ['labels[0].threshold', 'labels[1]', 'log.level']);
  assert.deepEqual(d.restartRequired.sort(), [
    'encoders.providers',
    'mqtt.broker',
    'sensors[0].modality',
    'sensors[0].window',
  ]);
});

test("keys outside the schema (a resolved config's source) are ignored", () => {
  const a = { ...base(), source: '/etc/edgebind/a.yaml' };
  const b = { ...base(), source: '/etc/edgebind/b.yaml' };
  assert.deepEqual(diffConfig(a, b), { live: [], restartRequired: [] });
});
