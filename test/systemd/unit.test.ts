/**
 * systemd/edgebind.service passes `systemd-analyze verify` (package `systemd`) without a single
 * warning, and keeps the settings the daemon relies on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO, tempDir } from '../helpers/agent-config.js';

const UNIT = readFileSync(join(REPO, 'systemd/edgebind.service'), 'utf8');
const dir = tempDir('unit');
after(() => rmSync(dir, { recursive: true, force: true }));

/** verify checks that ExecStart's binary exists: point it at this node (install.sh does the same). */
function verify(text: string): { status: number | null; output: string } {
  const file = join(dir, 'edgebind.service');
  writeFileSync(file, text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  if (r.error) assert.fail(`systemd-analyze not runnable (apt-get install systemd): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}

test('systemd-analyze verify is clean', () => {
  const r = verify(UNIT);
  assert.equal(r.status, 0, r.output);
  assert.equal(r.output, '', 'no warnings');
});

test('verify catches a broken unit (so the clean result means something)', () => {
  const r = verify(UNIT.replace('Type=notify', 'Type=notiffy'));
  assert.match(r.output, /Failed to parse service type/);
});

test('the unit keeps notify, watchdog, restart policy, user, hardening and limits', () => {
  const d = directives(UNIT);
  const one = (k: string) => d.get(k)?.at(-1);
  assert.equal(one('Type'), 'notify');
  assert.equal(one('NotifyAccess'), 'all');
  assert.match(one('WatchdogSec') ?? '', /^\d+s$/);
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('RestartPreventExitStatus'), '2');
  assert.equal(one('User'), 'edgebind');
  assert.deepEqual(one('SupplementaryGroups')?.split(' '), ['audio', 'i2c', 'dialout', 'video', 'render']);
  assert.match(one('ExecStart') ?? '', /dist\/cli\/index\.js run --config \/etc\/edgebind\/edgebind\.yaml$/);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  for (const k of [
    'NoNewPrivileges',
    'ProtectHome',
    'PrivateTmp',
    'ProtectKernelTunables',
    'ProtectControlGroups',
  ])
    assert.equal(one(k), 'yes', k);
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('PrivateDevices'), 'no', 'sensors and the GPU are devices');
  assert.equal(d.has('DeviceAllow') || d.has('ProtectClock'), false, 'either would close the device cgroup');
  assert.equal(d.has('MemoryDenyWriteExecute'), false, "V8's JIT needs W+X pages");
  assert.equal(one('StateDirectory'), 'edgebind');
  assert.equal(one('ConfigurationDirectory'), 'edgebind');
  for (const k of ['MemoryMax', 'TasksMax']) assert.ok(d.has(k), k);
});
