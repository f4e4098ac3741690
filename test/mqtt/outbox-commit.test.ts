/**
 * Group commit in the durable outbox (issue #19): one fdatasync, run off the event loop, covers
 * every record appended before it started; records appended while it runs share the next one; and
 * against a real Mosquitto, no event is published before the fdatasync covering it has completed.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pino from 'pino';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { nodeFiles, type FileLayer } from '../../src/util/durable-file.js';
import { tempDir } from '../helpers/agent-config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, boundMs = 30_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** node:fs, with every thread-pool fdatasync held until `release()` (and counted). */
class HeldSyncs implements FileLayer {
  held: (() => void)[] = [];
  asyncSyncs = 0;
  syncSyncs = 0;
  open: FileLayer['open'] = (path, flags) => nodeFiles.open(path, flags);
  write: FileLayer['write'] = (fd, data, offset, position) => nodeFiles.write(fd, data, offset, position);
  fsync: FileLayer['fsync'] = (fd) => nodeFiles.fsync(fd);
  truncate: FileLayer['truncate'] = (fd, length) => nodeFiles.truncate(fd, length);
  size: FileLayer['size'] = (fd) => nodeFiles.size(fd);
  close: FileLayer['close'] = (fd) => nodeFiles.close(fd);
  read: FileLayer['read'] = (path) => nodeFiles.read(path);
  mkdir: FileLayer['mkdir'] = (path) => nodeFiles.mkdir(path);
  list: FileLayer['list'] = (dir) => nodeFiles.list(dir);
  rename: FileLayer['rename'] = (from, to) => nodeFiles.rename(from, to);
  unlink: FileLayer['unlink'] = (path) => nodeFiles.unlink(path);
  datasync(fd: number): void {
    this.syncSyncs++;
    nodeFiles.datasync(fd);
  }
  datasyncAsync(fd: number, done: (err: Error | null) => void): void {
    this.asyncSyncs++;
    this.held.push(() => nodeFiles.datasyncAsync!(fd, done));
  }
  release(): void {
    for (const go of this.held.splice(0)) go();
  }
}

const open = (dir: string, files: FileLayer, commitDelayMs = 0) =>
  new DurableOutbox({ dir, maxBytes: 1 << 20, maxRecords: 1000, maxAgeMs: 0, files, commitDelayMs });
const add = (o: DurableOutbox, id: string) => o.append((seq) => JSON.stringify({ seq, id })).seq;

test('one fdatasync per burst; appends during it share the next one; committedSeq follows', async () => {
  const files = new HeldSyncs();
  const o = open(tempDir('commit-burst'), files, 5);
  let commits = 0;
  o.onCommit(() => commits++);
  for (let i = 0; i < 10; i++) {
    add(o, `a${i}`);
    o.commitSoon();
  }
  assert.equal(o.committedSeq, 0, 'nothing is committed before an fdatasync completed');
  await until('the first fdatasync to start', () => files.held.length === 1);
  assert.equal(files.asyncSyncs, 1, 'ten appends, one fdatasync');
  // A second burst while the first fdatasync runs.
  for (let i = 0; i < 5; i++) {
    add(o, `b${i}`);
    o.commitSoon();
  }
  await sleep(30);
  assert.equal(files.asyncSyncs, 1, 'no second fdatasync while one runs');
  files.release();
  await until('the first commit', () => o.committedSeq === 10);
  assert.equal(commits, 1);
  await until('the second fdatasync to start', () => files.held.length === 1);
  assert.equal(o.committedSeq, 10, 'the second burst waits for its own fdatasync');
  files.release();
  await until('the second commit', () => o.committedSeq === 15);
  assert.equal(files.asyncSyncs, 2);
  assert.equal(files.syncSyncs, 0, 'the event loop never ran an fdatasync itself');
  o.close();
});

test('records read back after a crash are synced once before they count as committed', async () => {
  const dir = tempDir('commit-reload');
  const files = new HeldSyncs();
  const a = open(dir, files);
  add(a, 'x');
  add(a, 'y');
  // No commit, no close: the process "dies" here with both lines written.
  const b = open(dir, files);
  assert.deepEqual(
    b.records().map((r) => r.seq),
    [1, 2],
  );
  assert.equal(b.committedSeq, 0);
  b.commitSoon();
  await until('the fdatasync', () => files.held.length === 1);
  files.release();
  await until('the commit', () => b.committedSeq === 2);
  b.close();
  a.close();
});

const brokers: Mosquitto[] = [];
after(async () => {
  for (const x of brokers) await x.close();
});

test('an event reaches the broker only after the fdatasync covering it completed', async () => {
  const broker = await startMosquitto();
  brokers.push(broker);
  const topics = deviceTopics('edgebind', 'commit');
  const sub = await startCollector({ url: broker.url, filter: topics.events, clientId: 'commit-sub' });
  const files = new HeldSyncs();
  const outbox = open(tempDir('commit-publish'), files, 1);
  const pub = new MqttPublisher({
    url: broker.url,
    clientId: 'commit-agent',
    topics,
    outbox,
    keepaliveS: 5,
    reconnectMinMs: 100,
    reconnectMaxMs: 300,
    logger: pino({ level: 'silent' }),
  });
  pub.start();
  try {
    await until('connected', () => pub.isConnected);
    const msgs = [1, 2, 3].map((i) => pub.publishEvent({ id: `ev-${i}`, type: 'start' }));
    assert.deepEqual(
      msgs.map((m) => m.seq),
      [1, 2, 3],
    );
    await until('the fdatasync to start', () => files.held.length === 1);
    // Held: a generous pause in which an early publish would have reached the subscriber.
    await sleep(300);
    assert.equal(sub.messages.length, 0, 'nothing published while its fdatasync runs');
    files.release();
    await until('all three events', () => sub.messages.length === 3);
    assert.deepEqual(
      sub.messages.map((m) => (m.json as { seq: number }).seq),
      [1, 2, 3],
    );
    assert.equal(files.asyncSyncs, 1, 'one fdatasync for the burst');
  } finally {
    await pub.stop(1000);
    await sub.close();
  }
});
