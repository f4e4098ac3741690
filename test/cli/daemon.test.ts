/**
 * `edgebind run` as systemd runs it: NOTIFY_SOCKET points at a datagram socket this test owns,
 * WATCHDOG_USEC asks for pings, SIGHUP reloads the config, SIGTERM stops it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureTestPack } from '../../src/encoders/registry.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { REPO, loopingMicConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { startNotifyReceiver } from '../helpers/notify-socket.js';

const dir = tempDir('daemon');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');

before(async () => {
  await ensureTestPack(join(dir, 'state', 'packs', 'edgebind-test'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function config(port: number, over: Partial<ConfigInput> = {}): string {
  return toYaml(
    loopingMicConfig({
      deviceId: 'daemon-1',
      stateDir: join(dir, 'state'),
      mqtt: { broker: 'embedded', embeddedPort: port },
      ...over,
    }),
  );
}

test('run under a notify socket: READY, WATCHDOG every 0.5 s, SIGHUP reload (good and broken), STOPPING, exit 0', async () => {
  const rx = await startNotifyReceiver(join(dir, 'notify.sock'));
  const port = await freePort();
  const file = join(dir, 'daemon.yaml');
  writeFileSync(file, config(port));
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'run', '--config', file], {
    cwd: dir,
    env: { ...process.env, NOTIFY_SOCKET: rx.address, WATCHDOG_USEC: '1000000', EDGEBIND_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  try {
    const ready = await rx.waitFor(/^READY=1/, 100_000);
    assert.match(ready.text, /STATUS=running as daemon-1: 1 sensor\(s\)/);

    // Watchdog: half of WATCHDOG_USEC, i.e. every 500 ms. Wait for 6 pings after READY.
    for (let i = 0; i < 300; i++) {
      if (rx.datagrams.filter((d) => d.text === 'WATCHDOG=1').length >= 6) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const pings = rx.datagrams.filter((d) => d.text === 'WATCHDOG=1');
    assert.ok(
      pings.length >= 6,
      `6 watchdog pings, got ${pings.length}; exit ${child.exitCode}; stderr:\n${stderr.slice(-2000)}`,
    );
    const gaps = pings.slice(1).map((p, i) => p.atMs - pings[i]!.atMs);
    // 0.5 s must not be 1 s or 0.1 s. A loaded box only delays timers, never fires them early
    // (issue #24): the shortest gap shows the schedule, the longer ones only the load.
    const shortest = Math.min(...gaps);
    assert.ok(shortest > 400 && shortest < 900, `shortest gap ${shortest} ms (${gaps.join(', ')})`);

    // SIGHUP: two live changes (log level, labels) and one that needs a restart (baseTopic).
    writeFileSync(
      file,
      config(port, {
        log: { level: 'debug' },
        mqtt: { broker: 'embedded', embeddedPort: port, baseTopic: 'other' },
        labels: [
          { name: 'alarm_beeping', prompts: ['an alarm beeping'] },
          { name: 'dog_barking', prompts: ['a dog barking'] },
        ],
      }),
    );
    const before = rx.datagrams.length;
    child.kill('SIGHUP');
    await rx.waitFor(/^RELOADING=1$/);
    for (let i = 0; i < 400 && !rx.datagrams.slice(before).some((d) => /^READY=1/.test(d.text)); i++)
      await new Promise((r) => setTimeout(r, 50));
    const afterHup = rx.datagrams.slice(before).map((d) => d.text.split('\n')[0]);
    assert.ok(afterHup.indexOf('READY=1') > afterHup.indexOf('RELOADING=1'), afterHup.join(','));
    // The log level comes last, after the labels are built and swapped in.
    for (let i = 0; i < 400 && !/config reloaded: log level/.test(stderr); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(stderr, /these changes need a restart: mqtt\.baseTopic/);
    assert.match(stderr, /config reloaded: log level debug/);
    assert.match(stderr, /labels: version 1 applied \(2 labels; \+1 -0\)/);
    assert.match(stderr, /config reloaded: labels applied/);

    // A broken config on SIGHUP is logged; the daemon keeps running on the old one.
    writeFileSync(file, 'sensors: [\n');
    const readies = () => rx.datagrams.filter((d) => /^READY=1/.test(d.text)).length;
    const readyBefore = readies();
    child.kill('SIGHUP');
    for (let i = 0; i < 400 && readies() === readyBefore; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(readies(), readyBefore + 1, 'READY=1 again after the failed reload');
    assert.match(stderr, /reload failed: .*daemon\.yaml.*YAML syntax error.*keeping the running config/);
    assert.equal(child.exitCode, null, 'still running');

    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    const stopping = await rx.waitFor(/^STOPPING=1/, 5000);
    assert.match(stopping.text, /STATUS=stopping \(SIGTERM\)/);
    const texts = rx.datagrams.map((d) => d.text.split('\n')[0]);
    assert.equal(
      texts.lastIndexOf('WATCHDOG=1') < texts.indexOf('STOPPING=1'),
      true,
      'no pings after STOPPING',
    );
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
    await rx.close();
  }
});
