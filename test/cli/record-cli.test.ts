/**
 * `edgebind record` as a user runs it (issue 17 item 8): a sensor that delivers nothing is a
 * failure (exit 1, naming the sensor and why, no file), and an existing recording is never
 * overwritten without --force.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('record-cli');

function record(config: string, out: string, ...more: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', TSX, CLI, 'record', '--config', config, '--out', out, '--seconds', '0.5', ...more],
    { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, EDGEBIND_DEBUG: '' } },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const replayConfig = join(dir, 'replay.yaml');
writeFileSync(
  replayConfig,
  `sensors:\n  - { id: th, driver: replay, modality: thermal, file: ${join(SAMPLES, 'room-thermal.ebf')} }\n`,
);

test('an existing recording is refused (exit 2) unless --force, which replaces it', () => {
  const out = join(dir, 'replay-out');
  const first = record(replayConfig, out);
  assert.equal(first.code, 0, first.stderr);
  const file = join(out, 'th.ebf');
  assert.ok(statSync(file).size > 0);
  writeFileSync(file, 'keep me');
  const again = record(replayConfig, out);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /th\.ebf already exists; pass --force to overwrite, or choose another --out/);
  assert.equal(statSync(file).size, 'keep me'.length, 'left as it was');
  const forced = record(replayConfig, out, '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.ok(statSync(file).size > 'keep me'.length, 'recorded anew');
});

test('a sensor that captures nothing (no I2C bus) exits 1 naming it and why; no file', () => {
  const config = join(dir, 'i2c.yaml');
  writeFileSync(config, 'sensors:\n  - { id: imu, driver: mpu6050, modality: imu, bus: 97 }\n');
  const out = join(dir, 'i2c-out');
  const r = record(config, out);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^imu: nothing captured \(down: .*i2c-97.*\); no file written$/m);
  assert.match(r.stderr, /^edgebind: captured nothing from imu \(down: .*\/dev\/i2c-97/m);
  assert.equal(existsSync(join(out, 'imu.ebf')), false);
});
