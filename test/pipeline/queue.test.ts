import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DropOldestQueue } from '../../src/pipeline/queue.js';

test('drops the oldest item when full and counts it', () => {
  const dropped: number[] = [];
  const q = new DropOldestQueue<number>(3, (x) => dropped.push(x));
  for (let i = 0; i < 5; i++) q.push(i);
  assert.deepEqual(dropped, [0, 1]);
  assert.deepEqual(q.stats(), { pushed: 5, dropped: 2, depth: 3 });
  assert.deepEqual([q.tryShift(), q.tryShift(), q.tryShift(), q.tryShift()], [2, 3, 4, undefined]);
});

test('async iteration waits for items and ends on close', async () => {
  const q = new DropOldestQueue<string>(2);
  const seen: string[] = [];
  const consumer = (async () => {
    for await (const x of q) seen.push(x);
  })();
  q.push('a');
  await new Promise((r) => setImmediate(r));
  q.push('b');
  q.close();
  await consumer;
  assert.deepEqual(seen, ['a', 'b']);
});

test('rejects a bad capacity and pushes after close', () => {
  assert.throws(() => new DropOldestQueue(0), /positive integer/);
  const q = new DropOldestQueue<number>(1);
  q.close();
  assert.throws(() => q.push(1), /closed/);
});
