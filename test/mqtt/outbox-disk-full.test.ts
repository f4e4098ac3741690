/**
 * The durable outbox on a full state disk (issue #14), through a file layer that answers ENOSPC
 * the way the kernel does: appends never throw, refused records wait in memory (within the bounds)
 * and reach the log once space returns, start-up needs no free space and removes stale temp
 * files, seqs are never reused, and no torn line is left behind by a short write.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DurableOutbox, type OutboxOptions } from '../../src/mqtt/outbox.js';
import { tempDir } from '../helpers/agent-config.js';
import { FaultyFiles } from '../helpers/faulty-files.js';

const open = (dir: string, files: FaultyFiles, over: Partial<OutboxOptions> = {}) =>
  new DurableOutbox({ dir, maxBytes: 1 << 20, maxRecords: 1000, maxAgeMs: 0, retryMs: 0, files, ...over });
const add = (o: DurableOutbox, id: string) => o.append((seq) => JSON.stringify({ seq, id })).seq;
const seqs = (o: DurableOutbox) => o.records().map((r) => r.seq);
/** Seqs in events.log as a restart would read them (complete lines only). */
function logSeqs(dir: string): number[] {
  const text = readFileSync(join(dir, 'events.log'), 'utf8');
  assert.ok(
    text === '' || text.endsWith('\n'),
    `no torn tail in events.log: ${JSON.stringify(text.slice(-40))}`,
  );
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

test('appends on a full disk never throw: held in memory, degraded, written once space returns', () => {
  const dir = tempDir('outbox-full');
  const files = new FaultyFiles();
  const o = open(dir, files);
  add(o, 'a');
  files.full = true;
  for (const id of ['b', 'c', 'd']) add(o, id);
  o.sync();
  assert.deepEqual(seqs(o), [1, 2, 3, 4], 'every event is still pending, in order');
  assert.equal(o.stats().unwritten, 3);
  assert.match(o.stats().diskError ?? '', /ENOSPC: no space left on device/);
  assert.deepEqual(logSeqs(dir), [1]);

  files.full = false;
  o.sync();
  assert.equal(o.stats().unwritten, 0);
  assert.equal(o.stats().diskError, undefined, 'healthy again');
  assert.deepEqual(logSeqs(dir), [1, 2, 3, 4]);
  o.close();
  const again = open(dir, files);
  assert.deepEqual(seqs(again), [1, 2, 3, 4], 'a restart replays all of them');
  again.close();
});

test('a short write at the moment the disk fills leaves no torn line', () => {
  const dir = tempDir('outbox-short');
  const files = new FaultyFiles();
  const o = open(dir, files);
  add(o, 'a');
  files.full = true;
  files.shortWriteBytes = 7;
  add(o, 'b');
  add(o, 'c');
  assert.deepEqual(logSeqs(dir), [1], 'the fragment of seq 2 was cut off');
  files.full = false;
  add(o, 'd');
  assert.deepEqual(logSeqs(dir), [1, 2, 3, 4]);
  o.close();
});

test('start-up on a full disk: no throw, stale temp files removed, replay, memory-held seqs never reused', () => {
  const dir = tempDir('outbox-start-full');
  const files = new FaultyFiles();
  const a = open(dir, files, { compactBytes: 1 << 30 });
  for (const id of ['a', 'b', 'c', 'd']) add(a, id);
  a.ack(1);
  a.ack(2); // dead lines: start-up wants to compact
  a.close();
  writeFileSync(join(dir, '.events.ack.4242.tmp'), '');
  writeFileSync(join(dir, '.events.log.4242.tmp'), '{"seq":');

  files.full = true;
  const b = open(dir, files);
  assert.deepEqual(seqs(b), [3, 4], 'records above the watermark are replayed');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'temp files of earlier runs are gone',
  );
  assert.equal(add(b, 'e'), 5);
  assert.equal(add(b, 'f'), 6);
  assert.equal(b.stats().unwritten, 2);
  // A crash now (no close): 5 and 6 were only in memory and are lost, but their seqs are not reused.
  const c = open(dir, files);
  assert.deepEqual(seqs(c), [3, 4]);
  assert.equal(add(c, 'g'), 7, 'seq continues above every seq given out');
  c.close();
});

test('all of the log acknowledged with the disk still full: the log is emptied in place and memory-held records written', () => {
  const dir = tempDir('outbox-truncate');
  const files = new FaultyFiles();
  const o = open(dir, files, { compactBytes: 1 << 30 });
  for (const id of ['a', 'b', 'c']) add(o, id);
  files.full = true;
  for (const id of ['d', 'e']) add(o, id);
  assert.equal(o.stats().unwritten, 2);
  for (const r of o.records().slice(0, 3)) o.ack(r.seq); // the broker acknowledges the logged ones
  assert.deepEqual(logSeqs(dir), [], 'the acknowledged log was emptied, freeing its space');
  // What the log's space was, is free now: a real disk would take the held records again.
  files.full = false;
  o.sync();
  assert.equal(o.stats().unwritten, 0);
  assert.equal(o.stats().diskError, undefined);
  assert.deepEqual(logSeqs(dir), [4, 5]);
  o.close();
  const again = open(dir, files);
  assert.deepEqual(seqs(again), [4, 5]);
  assert.equal(add(again, 'f'), 6);
  again.close();
});

test('held records count against the same bounds: the oldest are dropped and counted', () => {
  const dir = tempDir('outbox-full-bounds');
  const files = new FaultyFiles();
  const o = open(dir, files, { maxRecords: 3 });
  files.full = true;
  for (const id of ['a', 'b', 'c', 'd', 'e']) add(o, id);
  assert.deepEqual(seqs(o), [3, 4, 5]);
  assert.equal(o.stats().dropped, 2);
  assert.equal(o.stats().unwritten, 3);
  files.full = false;
  o.sync();
  assert.deepEqual(logSeqs(dir), [3, 4, 5]);
  o.close();
});

test('records sent without a PUBACK and then dropped by a bound are counted apart from lost ones', () => {
  const dir = tempDir('outbox-unconfirmed');
  const o = open(dir, new FaultyFiles(), { maxRecords: 3 });
  for (const id of ['a', 'b']) add(o, id);
  for (const r of o.records()) o.markSent(r); // in flight when the connection dropped
  for (const id of ['c', 'd', 'e', 'f']) add(o, id);
  assert.deepEqual(seqs(o), [4, 5, 6]);
  assert.equal(o.stats().droppedUnconfirmed, 2, 'seq 1 and 2 went to the broker');
  assert.equal(o.stats().dropped, 1, 'only seq 3 never left: the one real gap');
  o.close();
});

test('a compaction after acks keeps writing the watermark to the live file', () => {
  const dir = tempDir('outbox-compact');
  const o = open(dir, new FaultyFiles(), { compactBytes: 200 });
  for (let i = 0; i < 20; i++) add(o, `event-${i}`);
  for (let s = 1; s <= 15; s++) o.ack(s); // compacts at least once on the way
  o.close();
  assert.ok(existsSync(join(dir, 'events.ack')));
  const again = open(dir, new FaultyFiles());
  assert.deepEqual(seqs(again), [16, 17, 18, 19, 20], 'acks after a compaction are not replayed');
  again.close();
});
