/** Config diffs sorted by the one declaration of live keys (src/config/live.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LIVE_KEYS, liveKeyOf, needsRestart } from '../../src/config/live.js';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { adopt, diffConfig } from '../../src/daemon/reload.js';

const input = {
  sensors: [{ id: 'mic', driver: 'replay', modality: 'audio', file: 'a.wav' }],
  labels: [{ name: 'alarm', prompts: ['an alarm'] }],
};
const base = (extraLabels: object[] = []): Config =>
  ConfigSchema.parse({ ...input, labels: [...input.labels, ...extraLabels] });

test('identical configs: nothing changed', () => {
  assert.deepEqual(diffConfig(base(), base()), { live: [], liveKeys: [], restartRequired: [] });
});

test('live and restart-required paths are told apart, down to array elements', () => {
  const a = base();
  const b = base([{ name: 'dog', prompts: ['a dog'] }]);
  b.log.level = 'debug';
  b.labels[0]!.threshold = 0.7;
  b.mqtt.broker = 'mqtt://broker.local:1883';
  b.sensors[0]!.modality = 'imu';
  b.sensors[0]!.window = { lengthMs: 500, hopMs: 250 };
  b.encoders.providers = ['cuda', 'cpu'];
  // Keys no running agent applies: once said to be live, SIGHUP only ever answered "restart".
  b.mqtt.outboxMax = 5;
  b.stateDir = '/var/lib/other';
  // Scoring, events and fusion go through the label swap (issue 17 item 1).
  b.scoring.temperature = 0.5;
  b.scoring.threshold = 0.7;
  b.events.minWindows = 3;
  b.fusion.toleranceMs = 900;
  b.fusion.weights = { audio: 2 };
  const d = diffConfig(a, b);
  assert.deepEqual(d.live.sort(), [
    'events.minWindows',
    'fusion.toleranceMs',
    'fusion.weights.audio',
    'labels[0].threshold',
    'labels[1]',
    'log.level',
    'scoring.temperature',
    'scoring.threshold',
  ]);
  assert.deepEqual(d.liveKeys.sort(), ['events', 'fusion', 'labels', 'log.level', 'scoring']);
  assert.deepEqual(d.restartRequired.sort(), [
    'encoders.providers',
    'mqtt.broker',
    'mqtt.outboxMax',
    'sensors[0].modality',
    'sensors[0].window',
    'stateDir',
  ]);
});

test("keys outside the schema (a resolved config's source) are ignored", () => {
  const a = { ...base(), source: '/etc/edgebind/a.yaml' };
  const b = { ...base(), source: '/etc/edgebind/b.yaml' };
  assert.deepEqual(diffConfig(a, b), { live: [], liveKeys: [], restartRequired: [] });
});

test('a live key covers its elements and fields, nothing beside it', () => {
  assert.equal(liveKeyOf('labels'), 'labels');
  assert.equal(liveKeyOf('labels[3].prompts'), 'labels');
  assert.equal(liveKeyOf('labels[].name'), 'labels');
  assert.equal(liveKeyOf('log.level'), 'log.level');
  assert.equal(liveKeyOf('labelsExtra'), undefined);
  assert.equal(needsRestart('log'), true);
  assert.equal(needsRestart('remote.maxLabels'), true);
  assert.equal(liveKeyOf('scoring.templates.audio'), 'scoring');
  assert.equal(liveKeyOf('events.minWindows'), 'events');
  assert.equal(liveKeyOf('fusion.weights.imu'), 'fusion');
  assert.equal(needsRestart('encoders.pack'), true);
  assert.equal(needsRestart('mqtt.broker'), true);
  assert.equal(needsRestart('sensors[0].window.hopMs'), true);
  assert.deepEqual(Object.keys(LIVE_KEYS).sort(), ['events', 'fusion', 'labels', 'log.level', 'scoring']);
});

test('an applied key is adopted, so the next reload does not report it again', () => {
  const a = base();
  const b = base([{ name: 'dog', prompts: ['a dog'] }]);
  b.log.level = 'debug';
  b.mqtt.baseTopic = 'other';
  b.scoring.threshold = 0.9;
  b.events.cooldownMs = 0;
  b.fusion.mode = 'embedding';
  let current = adopt(adopt(a, b, 'labels'), b, 'log.level');
  for (const key of ['scoring', 'events', 'fusion'] as const) current = adopt(current, b, key);
  assert.deepEqual(diffConfig(current, b), { live: [], liveKeys: [], restartRequired: ['mqtt.baseTopic'] });
  assert.equal(a.log.level, 'info', 'the old config is not changed');
});
