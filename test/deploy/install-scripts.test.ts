/**
 * Dependencies' install scripts are reviewed in package.json's `allowScripts` (npm 11.16+): every
 * one is approved or denied, so `npm ci` runs silently, and onnxruntime-node's, which downloads
 * CUDA libraries from NuGet, is denied (issue 17 item 12: npm printed a warning on every call).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/agent-config.js';

test('every dependency install script is approved or denied, and npm prints no config warning', () => {
  const r = spawnSync('npm', ['install-scripts', 'ls'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.error, undefined, `npm could not be run: ${r.error?.message}`);
  assert.equal(r.status, 0, `npm install-scripts ls (needs npm >= 11.16) failed:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /No packages with unreviewed install scripts/);
  assert.doesNotMatch(r.stderr, /npm warn/i);
});

test('onnxruntime-node may not run its install script (a download from outside the registry)', () => {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    allowScripts?: Record<string, boolean>;
  };
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  for (const native of ['i2c-bus', '@serialport/bindings-cpp'])
    assert.equal(pkg.allowScripts?.[native], true);
});
