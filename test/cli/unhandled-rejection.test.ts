/**
 * An unhandled promise rejection in a running agent (issue #14 item 1: a rejection used to stop
 * detection with exit 1) is logged as the bug it is, counted, and the agent keeps running: its
 * systemd watchdog pings go on, and SIGTERM still stops it cleanly with exit 0. A real `edgebind
 * run` process; the rejection comes from a preloaded module (test/cli/fixtures/reject-on-usr2.mjs).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureTestPack } from '../../src/encoders/registry.js';
import { REPO, loopingMicConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { startNotifyReceiver } from '../helpers/notify-socket.js';

const dir = tempDir('unhandled');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const PRELOAD = join(REPO, 'test/cli/fixtures/reject-on-usr2.mjs');

before(async () => {
  await ensureTestPack(join(dir, 'state', 'packs', 'edgebind-test'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('unhandled rejections are logged and counted; the agent keeps running and stops with exit 0', async () => {
  const rx = await startNotifyReceiver(join(dir, 'notify.sock'));
  const file = join(dir, 'agent.yaml');
  const port = await freePort();
  writeFileSync(
    file,
    toYaml(
      loopingMicConfig({
        deviceId: 'unhandled-1',
        stateDir: join(dir, 'state'),
        mqtt: { broker: 'embedded', embeddedPort: port },
      }),
    ),
  );
  const child = spawn(
    process.execPath,
    ['--import', TSX, '--import', PRELOAD, CLI, 'run', '--config', file],
    {
      cwd: dir,
      env: { ...process.env, NOTIFY_SOCKET: rx.address, WATCHDOG_USEC: '1000000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const until = async (what: string, ok: () => boolean) => {
    for (let waited = 0; !ok(); waited += 100) {
      assert.ok(
        waited < 120_000 && child.exitCode === null,
        `${what}; exit ${child.exitCode}:\n${out.slice(-2000)}`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const rejections = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; unhandledRejections?: number })
      .filter((l) => l.msg.startsWith('unhandled promise rejection'));
  try {
    await rx.waitFor(/^READY=1/, 120_000);
    child.kill('SIGUSR2');
    await until('the first rejection is logged', () => rejections().length === 1);
    child.kill('SIGUSR2');
    await until('the second rejection is logged', () => rejections().length === 2);
    const logged = rejections();
    assert.match(logged[0]!.msg, /injected rejection; the agent keeps running/);
    assert.deepEqual(
      logged.map((l) => l.unhandledRejections),
      [1, 2],
    );
    const pings = () => rx.datagrams.filter((d) => d.text === 'WATCHDOG=1').length;
    const after = pings();
    await until('watchdog pings go on after the rejections', () => pings() >= after + 3);
    assert.equal(child.exitCode, null, 'still running');
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0, out.slice(-2000));
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await rx.close();
  }
});
