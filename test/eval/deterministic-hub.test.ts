/** The window hub's deterministic mode, which the evaluation harness runs the agent in. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowHub } from '../../src/pipeline/hub.js';
import type { SensorModality, Window } from '../../src/pipeline/types.js';

const win = (sensorId: string, modality: SensorModality, endMs: number): Window => ({
  sensorId,
  modality,
  seq: 0,
  startMs: endMs - 1000,
  endMs,
  startWallMs: endMs - 1000,
  endWallMs: endMs,
  rateHz: 1,
  data: new Float32Array(1),
  shape: [1],
});
const ids = (b: Window[] | undefined) => b?.map((w) => `${w.sensorId}@${w.endMs}`);

test('windows leave in time order once every live sensor has one queued, without drops', async () => {
  const hub = new WindowHub({ deterministic: true });
  hub.addSensor('mic', 2);
  hub.addSensor('cam', 2);
  await hub.pushWhenRoom(win('mic', 'audio', 1000));
  await hub.pushWhenRoom(win('mic', 'audio', 2000));
  let got: Window[] | undefined;
  const pending = hub.next(8).then((b) => (got = b));
  await new Promise((r) => setImmediate(r));
  assert.equal(got, undefined, 'waits: the camera may still send an earlier window');
  // The microphone's queue is full: a third window waits for room instead of dropping the oldest.
  let third = false;
  const blocked = hub.pushWhenRoom(win('mic', 'audio', 3000)).then(() => (third = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(third, false);
  await hub.pushWhenRoom(win('cam', 'thermal', 1500));
  await pending;
  assert.deepEqual(ids(got), ['mic@1000'], 'oldest first; the batch stops at a modality change');
  await blocked;
  assert.deepEqual(ids(await hub.next(8)), ['cam@1500']);
  hub.endSensor('cam');
  assert.deepEqual(
    ids(await hub.next(8)),
    ['mic@2000', 'mic@3000'],
    'an ended sensor no longer holds others back',
  );
  hub.endSensor('mic');
  assert.equal(await hub.next(8), undefined, 'every sensor ended and drained');
  assert.deepEqual(hub.stats().mic, { pushed: 3, dropped: 0, depth: 0 });
});

test('ties on end time go by sensor id', async () => {
  const hub = new WindowHub({ deterministic: true });
  hub.addSensor('b', 4);
  hub.addSensor('a', 4);
  await hub.pushWhenRoom(win('b', 'audio', 1000));
  await hub.pushWhenRoom(win('a', 'audio', 1000));
  hub.endSensor('a');
  hub.endSensor('b');
  assert.deepEqual(ids(await hub.next(8)), ['a@1000', 'b@1000']);
});
