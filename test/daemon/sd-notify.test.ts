/** The notify protocol: watchdog arithmetic, the no-op path, and real datagrams via the perl helper. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pino from 'pino';
import {
  SdNotifier,
  openPerlHelper,
  socketAddress,
  watchdogIntervalMs,
  type NotifyTransport,
} from '../../src/daemon/sd-notify.js';
import { tempDir } from '../helpers/agent-config.js';
import { startNotifyReceiver } from '../helpers/notify-socket.js';

const dir = tempDir('sd-notify');
after(() => rmSync(dir, { recursive: true, force: true }));

function recorder(): { sent: string[]; open: () => Promise<NotifyTransport> } {
  const sent: string[] = [];
  return {
    sent,
    open: () =>
      Promise.resolve({ name: 'recorder', send: (m: string) => void sent.push(m), close: () => undefined }),
  };
}

test('watchdog interval is half of WATCHDOG_USEC, only for our PID', () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '1000000' }, 42), 500);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42), 15_000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '1000000', WATCHDOG_PID: '7' }, 42), undefined);
  assert.equal(watchdogIntervalMs({}, 42), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'abc' }, 42), undefined);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 42), undefined);
});

test('abstract socket names map to a leading NUL', () => {
  assert.equal(socketAddress('@/org/systemd/notify'), '\0/org/systemd/notify');
  assert.equal(socketAddress('/run/systemd/notify'), '/run/systemd/notify');
});

test('without NOTIFY_SOCKET every call is a no-op', async () => {
  const rec = recorder();
  const n = await SdNotifier.open({ env: { WATCHDOG_USEC: '1000' }, openTransport: rec.open });
  assert.equal(n.enabled, false);
  n.ready('x');
  n.status('y');
  n.stopping();
  n.close();
  assert.deepEqual(rec.sent, []);
  assert.equal(n.watchdogMs, undefined);
});

test('READY with STATUS, watchdog pings, STOPPING ends the pings', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const rec = recorder();
  const n = await SdNotifier.open({
    env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000' },
    pid: 1,
    openTransport: rec.open,
  });
  n.ready('running\nfine');
  assert.equal(n.watchdogMs, 1000);
  t.mock.timers.tick(3000);
  n.stopping();
  t.mock.timers.tick(3000);
  n.close();
  assert.deepEqual(rec.sent, [
    'READY=1\nSTATUS=running fine',
    'WATCHDOG=1',
    'WATCHDOG=1',
    'WATCHDOG=1',
    'STOPPING=1',
  ]);
});

test('WATCHDOG_PID of another process: READY but no pings', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const rec = recorder();
  const n = await SdNotifier.open({
    env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '2' },
    pid: 1,
    openTransport: rec.open,
  });
  n.ready();
  t.mock.timers.tick(5000);
  n.close();
  assert.deepEqual(rec.sent, ['READY=1']);
});

for (const kind of ['path', 'abstract'] as const) {
  test(`perl helper delivers datagrams to a ${kind} socket`, async () => {
    const address = kind === 'path' ? join(dir, 'notify.sock') : `@edgebind-test-${process.pid}`;
    const rx = await startNotifyReceiver(address);
    try {
      const errors: Error[] = [];
      const tr = await openPerlHelper(address, (e) => errors.push(e));
      tr.send('READY=1\nSTATUS=multi line');
      tr.send('WATCHDOG=1');
      await rx.waitFor(/^WATCHDOG=1$/);
      tr.close();
      assert.deepEqual(
        rx.datagrams.map((d) => d.text),
        ['READY=1\nSTATUS=multi line', 'WATCHDOG=1'],
      );
      assert.deepEqual(errors, []);
    } finally {
      await rx.close();
    }
  });
}

test('an unreachable socket is reported, never thrown', async () => {
  const errors: Error[] = [];
  const tr = await openPerlHelper(join(dir, 'nobody-listens.sock'), (e) => errors.push(e));
  tr.send('READY=1');
  for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  tr.close();
  assert.match(errors[0]?.message ?? '', /nobody-listens\.sock: No such file or directory/);
});

test('no transport under NOTIFY_SOCKET: one error line naming the fix, calls stay harmless', async () => {
  let logged = '';
  const logger = pino(
    { base: undefined },
    new Writable({ write: (c: Buffer, _e, done) => ((logged += c.toString()), done()) }),
  );
  const n = await SdNotifier.open({
    env: { NOTIFY_SOCKET: '/run/x.sock', WATCHDOG_USEC: '1000000' },
    logger,
    openTransport: () => Promise.reject(new Error('spawn perl ENOENT')),
  });
  n.ready();
  n.stopping();
  n.close();
  assert.equal(n.watchdogMs, undefined, 'no pings without a transport');
  assert.match(
    logged,
    /"level":50.*no way to reach \/run\/x\.sock \(spawn perl ENOENT\); install perl-base or the unix-dgram module/,
  );
});
