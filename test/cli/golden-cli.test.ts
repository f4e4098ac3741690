/**
 * `edgebind features audio` and `edgebind tokenize`, run as a user runs them, reproduce the
 * reference files made with ImageBind's own code (../shared/golden).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REPO, tempDir } from '../helpers/agent-config.js';

const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
const GOLDEN = join(SHARED, 'golden');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('golden-cli');

function edgebind(args: string[]) {
  return spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { encoding: 'utf8' });
}

test('the shared golden files are present', () => {
  assert.ok(existsSync(join(GOLDEN, 'audio/manifest.json')), `missing ${GOLDEN}`);
});

test('features audio reproduces every golden .f32 (≤ 1e-3 at 16 kHz, ≤ 1e-2 resampled)', () => {
  const manifest = JSON.parse(readFileSync(join(GOLDEN, 'audio/manifest.json'), 'utf8')) as {
    cases: { name: string; wav: string; features: string; sampleRate: number }[];
  };
  assert.ok(manifest.cases.length >= 13);
  for (const c of manifest.cases) {
    const out = join(dir, `${c.name}.f32`);
    const r = edgebind(['features', 'audio', join(GOLDEN, 'audio', c.wav), '--out', out]);
    assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
    const got = new Float32Array(new Uint8Array(readFileSync(out)).buffer);
    const want = new Float32Array(new Uint8Array(readFileSync(join(GOLDEN, 'audio', c.features))).buffer);
    assert.equal(got.length, want.length, `${c.name}: length`);
    let max = 0;
    for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!));
    assert.ok(max <= (c.sampleRate === 16000 ? 1e-3 : 1e-2), `${c.name}: max |Δ| ${max}`);
  }
});

test('tokenize reproduces every golden id list', () => {
  const golden = JSON.parse(readFileSync(join(GOLDEN, 'text/tokens.json'), 'utf8')) as {
    cases: { text: string; ids: number[] }[];
  };
  const vocab = join(SHARED, 'imagebind/bpe_simple_vocab_16e6.txt.gz');
  const r = edgebind(['tokenize', '--vocab', vocab, ...golden.cases.map((c) => c.text)]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    JSON.parse(r.stdout),
    golden.cases.map((c) => c.ids),
  );
});
