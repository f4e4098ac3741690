/** The durable outbox on its own: seq persistence, acks, bounds with counted drops, torn lines. */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { tempDir } from '../helpers/agent-config.js';

const open = (dir: string, over: Partial<ConstructorParameters<typeof DurableOutbox>[0]> = {}) =>
  new DurableOutbox({ dir, maxBytes: 1 << 20, maxRecords: 1000, maxAgeMs: 0, ...over });
const add = (o: DurableOutbox, id: string) => o.append((seq) => JSON.stringify({ seq, id })).seq;

test('seq grows by one, survives reopening, and acked records are not replayed', () => {
  const dir = tempDir('outbox-seq');
  const a = open(dir);
  assert.deepEqual([add(a, 'a'), add(a, 'b'), add(a, 'c')], [1, 2, 3]);
  a.ack(2); // out of order: nothing removed until 1 is acked
  assert.equal(a.stats().depth, 3);
  a.ack(1);
  assert.deepEqual(
    a.records().map((r) => r.seq),
    [3],
  );
  a.close();
  const b = open(dir);
  assert.deepEqual(
    b.records().map((r) => JSON.parse(r.payload) as unknown),
    [{ seq: 3, id: 'c' }],
  );
  b.ack(3);
  b.close();
  const c = open(dir);
  assert.equal(c.stats().depth, 0);
  assert.equal(add(c, 'd'), 4, 'seq continues after everything was acknowledged');
  c.close();
});

test('a line torn by a crash is ignored; the records before it are replayed', () => {
  const dir = tempDir('outbox-torn');
  const a = open(dir);
  add(a, 'a');
  add(a, 'b');
  a.close();
  appendFileSync(join(dir, 'events.log'), '{"seq":3,"t":1,"p":"{\\"se');
  const b = open(dir);
  assert.deepEqual(
    b.records().map((r) => r.seq),
    [1, 2],
  );
  assert.equal(add(b, 'c'), 3);
  b.close();
  assert.ok(readFileSync(join(dir, 'events.log'), 'utf8').endsWith('\n'));
});

test('bounds drop the oldest records and count them', () => {
  let now = 0;
  const dir = tempDir('outbox-bounds');
  const o = open(dir, { maxRecords: 3, maxAgeMs: 1000, now: () => now });
  for (const id of ['a', 'b', 'c', 'd', 'e']) add(o, id);
  assert.deepEqual(
    o.records().map((r) => r.seq),
    [3, 4, 5],
  );
  assert.equal(o.stats().droppedSize, 2);
  now = 5000;
  add(o, 'f');
  assert.deepEqual(
    o.records().map((r) => r.seq),
    [6],
  );
  assert.equal(o.stats().droppedAge, 3);
  assert.equal(o.stats().dropped, 5);
  o.close();
  const bytes = open(tempDir('outbox-bytes'), { maxBytes: 200 });
  for (let i = 0; i < 10; i++) add(bytes, 'x'.repeat(50));
  assert.ok(bytes.stats().bytes <= 200 && bytes.stats().depth >= 1);
  assert.ok(bytes.stats().droppedSize > 0);
  bytes.close();
});
