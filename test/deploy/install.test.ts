/** deploy/install.sh and uninstall.sh in --dry-run: what they would do, and that they change nothing. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.js';
import { REPO, tempDir } from '../helpers/agent-config.js';

const dir = tempDir('install');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Target directories inside the temp dir, so even a bug in --dry-run could not touch the host. */
const targets = {
  EDGEBIND_APP_DIR: join(dir, 'opt/edgebind'),
  EDGEBIND_CONF_DIR: join(dir, 'etc/edgebind'),
  EDGEBIND_STATE_DIR: join(dir, 'var/lib/edgebind'),
  EDGEBIND_UNIT_DIR: join(dir, 'etc/systemd/system'),
  EDGEBIND_UDEV_DIR: join(dir, 'etc/udev/rules.d'),
  EDGEBIND_MODULES_DIR: join(dir, 'etc/modules-load.d'),
};

function sh(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('bash', [join(REPO, 'deploy', script), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...targets, EDGEBIND_SRC: src, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A checkout to install from: the real deploy/ and systemd/, a stand-in for the built dist/. */
const src = join(tempDir('install-src'), 'edgebind');
for (const d of ['deploy', 'systemd']) cpSync(join(REPO, d), join(src, d), { recursive: true });
mkdirSync(join(src, 'dist/cli'), { recursive: true });
writeFileSync(join(src, 'dist/cli/index.js'), '');
writeFileSync(join(src, 'package.json'), '{}');
mkdirSync(join(src, 'models/mini'), { recursive: true });
after(() => rmSync(join(src, '..'), { recursive: true, force: true }));

test('install --dry-run prints each step and changes nothing', () => {
  const r = sh('install.sh', ['--dry-run']);
  assert.equal(r.code, 0, r.err);
  const o = r.out;
  assert.match(o, /==> Node\.js \d+\.\d+\.\d+ at \S+node/);
  assert.match(o, /dry run: nothing below is changed/);
  assert.match(o, /useradd --system .*edgebind|= user edgebind exists/);
  assert.match(
    o,
    /install -D -m 0644 \S+\/edgebind\/deploy\/99-edgebind\.rules \S+\/etc\/udev\/rules\.d\/99-edgebind\.rules/,
  );
  assert.match(o, /cp -a \S+\/edgebind\/models \S+\/opt\/edgebind\.new\/\n/);
  assert.match(o, /npm ci --omit=dev .*--prefix \S+\/opt\/edgebind\.new/);
  assert.match(o, /mv \S+\/opt\/edgebind\.new \S+\/opt\/edgebind\n/);
  assert.match(
    o,
    /install -m 0640 -o root -g edgebind \S+\/deploy\/edgebind\.example\.yaml \S+\/etc\/edgebind\/edgebind\.yaml/,
  );
  assert.match(o, /install -d -m 0750 -o edgebind -g edgebind \S+\/var\/lib\/edgebind \S+\/packs/);
  assert.match(o, /systemctl enable edgebind\.service[\s\S]*systemctl restart edgebind\.service/);
  assert.deepEqual(readdirSync(dir), [], 'nothing was created');
});

test('install is idempotent about config: an existing edgebind.yaml is kept', () => {
  mkdirSync(targets.EDGEBIND_CONF_DIR, { recursive: true });
  writeFileSync(join(targets.EDGEBIND_CONF_DIR, 'edgebind.yaml'), 'mine: true\n');
  try {
    const r = sh('install.sh', ['--dry-run', '--no-start']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /= \S+\/etc\/edgebind\/edgebind\.yaml exists, kept/);
    assert.doesNotMatch(r.out, /edgebind\.example\.yaml/);
    assert.doesNotMatch(r.out, /systemctl restart/);
    assert.equal(readFileSync(join(targets.EDGEBIND_CONF_DIR, 'edgebind.yaml'), 'utf8'), 'mine: true\n');
  } finally {
    rmSync(join(dir, 'etc'), { recursive: true, force: true });
  }
});

test('install refuses Node older than 20', () => {
  const bin = join(dir, 'fakebin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'node'), '#!/bin/sh\necho 18.19.1\n');
  chmodSync(join(bin, 'node'), 0o755);
  try {
    const r = sh('install.sh', ['--dry-run'], { PATH: `${bin}:${process.env.PATH}` });
    assert.equal(r.code, 1);
    assert.match(r.err, /Node\.js 18\.19\.1 at \S+ is too old; edgebind needs >= 20/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('unknown options exit 2', () => {
  assert.equal(sh('install.sh', ['--frobnicate']).code, 2);
  assert.equal(sh('uninstall.sh', ['--frobnicate']).code, 2);
});

test('uninstall --dry-run keeps config and state unless --purge', () => {
  const keep = sh('uninstall.sh', ['--dry-run']);
  assert.equal(keep.code, 0, keep.err);
  assert.match(keep.out, /rm -f \S+\/etc\/systemd\/system\/edgebind\.service/);
  assert.match(keep.out, /rm -rf \S+\/opt\/edgebind /);
  assert.match(keep.out, /kept \S+\/etc\/edgebind, \S+\/var\/lib\/edgebind and user edgebind/);
  const purge = sh('uninstall.sh', ['--dry-run', '--purge']);
  assert.equal(purge.code, 0, purge.err);
  assert.match(purge.out, /rm -rf \S+\/etc\/edgebind \S+\/var\/lib\/edgebind/);
  assert.deepEqual(readdirSync(dir), [], 'nothing was changed');
});

test('the example config the installer copies is valid', () => {
  const raw: unknown = parse(readFileSync(join(REPO, 'deploy/edgebind.example.yaml'), 'utf8'));
  const r = ConfigSchema.safeParse(raw);
  assert.equal(r.success, true, r.error?.message);
});

test('every /opt/edgebind path of the example config is a file of the repository that the installer copies', () => {
  const install = readFileSync(join(REPO, 'deploy/install.sh'), 'utf8');
  const copied = /^for item in (.*); do$/m.exec(install)![1]!.split(' ');
  const files = readFileSync(join(REPO, 'deploy/edgebind.example.yaml'), 'utf8').match(
    /\/opt\/edgebind\/\S+/g,
  )!;
  assert.ok(files.includes('/opt/edgebind/models/mini'), 'the example runs the bundled mini pack');
  const pkgFiles = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] })
    .files;
  for (const f of files) {
    const rel = f.slice('/opt/edgebind/'.length);
    assert.ok(existsSync(join(REPO, rel)), `${rel} exists`);
    assert.ok(copied.includes(rel.split('/')[0]!), `install.sh copies ${rel.split('/')[0]}`);
    assert.ok(pkgFiles.includes(rel.split('/')[0]!), `package.json files has ${rel.split('/')[0]}`);
  }
});

test('udev rules: every rule matches on SUBSYSTEM and assigns a group the unit grants', () => {
  const unit = readFileSync(join(REPO, 'systemd/edgebind.service'), 'utf8');
  const groups = /^SupplementaryGroups=(.*)$/m.exec(unit)![1]!.split(' ');
  const rules = readFileSync(join(REPO, 'deploy/99-edgebind.rules'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  assert.ok(rules.length >= 5);
  for (const rule of rules) {
    assert.match(rule, /^SUBSYSTEM=="[\w-]+"/, rule);
    const group = /GROUP="(\w+)"/.exec(rule)?.[1];
    assert.ok(group && groups.includes(group), `${rule}: group ${group} not in SupplementaryGroups`);
  }
  for (const s of ['i2c-dev', 'tty', 'video4linux'])
    assert.ok(
      rules.some((r) => r.includes(`"${s}"`)),
      s,
    );
});
