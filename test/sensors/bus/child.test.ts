/**
 * childChunks' stall watchdog against a real child (`cat`, whose output the test writes into its
 * stdin): it measures how long the child was silent, not how long this process was busy, and a
 * process start is not a stall (issue #24).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { ChildExitError, childChunks } from '../../../src/sensors/bus/child.js';
import { blockEventLoop, requireTool } from '../fakes.js';

requireTool('cat');

function cat(stallMs: number, startMs?: number) {
  const cp = spawn('cat', [], { stdio: ['pipe', 'pipe', 'pipe'] });
  const ac = new AbortController();
  const it = childChunks(cp, cp.stdout, {
    command: 'cat',
    signal: ac.signal,
    stallMs,
    ...(startMs !== undefined ? { startMs } : {}),
  })[Symbol.asyncIterator]();
  return { cp, it, stop: async () => (ac.abort(), await it.return(undefined)) };
}

test('the first byte gets startMs, later silences stallMs', async () => {
  const first = cat(100, 600);
  // cat is never fed: nothing ever arrives.
  await assert.rejects(first.it.next(), (err: unknown) => {
    assert.ok(err instanceof ChildExitError && err.info.stalled, String(err));
    assert.match(err.message, /no data within 600 ms of starting/);
    return true;
  });

  const later = cat(300, 60_000);
  later.cp.stdin.write('a');
  assert.equal(Buffer.from((await later.it.next()).value as Buffer).toString(), 'a');
  await assert.rejects(later.it.next(), /cat delivered no data for 300 ms/);
  await later.stop();
});

test('bytes that waited in the pipe while the event loop was blocked are not a stall', async () => {
  const c = cat(500);
  c.cp.stdin.write('a');
  await c.it.next();
  const pending = c.it.next(); // waiting: the watchdog is armed
  await new Promise((r) => setImmediate(r));
  c.cp.stdin.write('b'); // cat echoes it at once, into a pipe nobody reads for 2 s
  blockEventLoop(2000);
  const r = await pending;
  assert.equal(Buffer.from(r.value as Buffer).toString(), 'b');
  await c.stop();
});

test('a whole machine that was stopped for 3 s gets one more window when it resumes', async () => {
  const c = cat(1000);
  c.cp.stdin.write('a');
  await c.it.next();
  const pending = c.it.next();
  await new Promise((r) => setImmediate(r));
  // This process stops for three windows with the child silent (as when everything starved), and
  // the child speaks soon after the machine resumes: that is no dead device.
  blockEventLoop(3000);
  setTimeout(() => c.cp.stdin.write('b'), 50);
  const r = await pending;
  assert.equal(Buffer.from(r.value as Buffer).toString(), 'b');
  await c.stop();
});

test('a child silent through a blocked event loop and the window after it is stopped as stalled', async () => {
  const c = cat(500);
  c.cp.stdin.write('a');
  await c.it.next();
  const pending = c.it.next();
  await new Promise((r) => setImmediate(r));
  blockEventLoop(2000);
  await assert.rejects(pending, (err: unknown) => err instanceof ChildExitError && err.info.stalled);
  await c.stop();
});
