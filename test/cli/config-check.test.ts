/**
 * `edgebind config check` as a real subprocess (issue 14 item 6): problems that `run` used to find
 * only after loading the pack, an alias bomb and a state directory that is a file exit 2 naming
 * the file and the key path.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from '../helpers/agent-config.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('config-check');
writeFileSync(join(dir, 'a.wav'), '');
writeFileSync(join(dir, 'password'), 'secret\n');
writeFileSync(join(dir, 'a-file'), '');
mkdirSync(join(dir, 'empty-pack'));

function check(name: string, yaml: string): { code: number | null; out: string; file: string } {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, 'config', 'check', file], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, file };
}

const SENSORS = 'sensors: [{ id: mic, driver: replay, modality: audio, file: a.wav }]\n';

test('a valid config still passes', () => {
  const r = check('ok', `${SENSORS}stateDir: ./state\nmqtt: { passwordFile: password }\n`);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /OK/);
});

for (const [name, body, path, message] of [
  ['ca', 'mqtt: { caFile: missing-ca.pem }', 'mqtt.caFile', /file not found: .*missing-ca\.pem/],
  ['password', 'mqtt: { passwordFile: nope }', 'mqtt.passwordFile', /file not found: .*nope/],
  [
    'both',
    'mqtt: { passwordEnv: MQTT_PW, passwordFile: password }',
    'mqtt.passwordFile',
    /passwordEnv or passwordFile, not both/,
  ],
  ['no-pack', 'encoders: { pack: ./no-such-pack }', 'encoders.pack', /directory not found: .*no-such-pack/],
  ['empty-pack', 'encoders: { pack: ./empty-pack }', 'encoders.pack', /manifest\.json/],
  ['state-file', 'stateDir: ./a-file', 'stateDir', /a-file is a file, not a directory/],
  ['state-below-file', 'stateDir: ./a-file/state', 'stateDir', /a-file is a file, not a directory/],
] as const) {
  test(`config check: ${name} → exit 2 with ${path}`, () => {
    const r = check(name, `${SENSORS}${body}\n`);
    assert.equal(r.code, 2, r.out);
    assert.ok(r.out.includes(r.file), `names the file: ${r.out}`);
    assert.match(r.out, new RegExp(`${path.replace('.', '\\.')}: `));
    assert.match(r.out, message);
  });
}

test('a YAML alias bomb exits 2 naming the file, without expanding it', () => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const r = check('bomb', `${levels.join('\n')}\n${SENSORS}`);
  assert.equal(r.code, 2, r.out);
  assert.ok(r.out.includes(r.file), r.out);
  assert.match(r.out, /alias/i);
});

test('config check: clips keys (#18) are accepted, and wrong values exit 2 naming the key', () => {
  const ok = check(
    'clips-ok',
    `${SENSORS}clips: { enabled: true, preRollS: 3, postRollS: 4, maxClipS: 30, maxAgeS: 86400, maxBytes: 104857600 }\n`,
  );
  assert.equal(ok.code, 0, ok.out);
  for (const [name, body, path, message] of [
    ['clips-roll', 'clips: { preRollS: 30, maxClipS: 20 }', 'clips.preRollS', /must be less than maxClipS/],
    ['clips-age', 'clips: { maxAgeS: 10 }', 'clips.maxAgeS', /must be ≥ 60/],
    ['clips-key', 'clips: { preroll: 5 }', 'clips', /preroll/],
  ] as const) {
    const r = check(name, `${SENSORS}${body}\n`);
    assert.equal(r.code, 2, r.out);
    assert.ok(r.out.includes(r.file), r.out);
    assert.ok(r.out.includes(`${path}`), `${name} names ${path}: ${r.out}`);
    assert.match(r.out, message);
  }
});
