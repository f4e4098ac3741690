/**
 * Smoke test of the Python trainer (train/train.py) on a tiny simulated dataset: a few steps of
 * both stages, ONNX export, and the agent loading the resulting pack. Needs /usr/bin/python3 with
 * torch and numpy (Debian: python3-torch python3-numpy).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import pino from 'pino';
import { readManifest } from '../../src/encoders/pack.js';
import { openEncoders } from '../../src/encoders/registry.js';
import { SENSOR_MODALITIES } from '../../src/pipeline/types.js';
import { makeSample } from '../../src/sim/dataset.js';
import { dumpDataset } from '../../src/sim/dump-dataset.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.EDGEBIND_PYTHON ?? '/usr/bin/python3';
const dir = await mkdtemp(join(tmpdir(), 'edgebind-train-'));
after(() => rm(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

test(
  'train.py: a few steps on a tiny dump give a pack the agent loads and runs',
  { timeout: 120_000 },
  async () => {
    dumpDataset({ out: join(dir, 'data'), seed: 5, perClass: 1 });
    const pack = join(dir, 'pack');
    const r = await run(PYTHON, [
      'train/train.py',
      '--data',
      join(dir, 'data'),
      '--out',
      pack,
      '--scale',
      '0.005',
      '--batch',
      '16',
    ]);
    assert.equal(r.code, 0, r.out.slice(-3000));
    assert.match(r.out, /stage1 step/);
    assert.match(r.out, /stage2 imu step/);
    assert.ok(!r.out.includes('\r'), 'no progress bar when stderr is not a terminal (issue 17)');
    const manifest = await readManifest(pack);
    assert.equal(manifest.tokenizer.kind, 'word-hash');
    assert.equal(manifest.license, 'Apache-2.0');
    assert.deepEqual(manifest.encoders.audio?.input.shape, ['batch', 3, 1, 128, 204]);
    assert.match(await readFile(join(pack, 'LICENSE'), 'utf8'), /Apache License/);

    const encoders = await openEncoders({
      config: {
        stateDir: dir,
        encoders: { pack, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1, maxBatch: 8 },
      },
      modalities: [...SENSOR_MODALITIES],
      logger: pino({ level: 'silent' }),
    });
    try {
      const [t] = await encoders.text.embed(['a dog barking']);
      assert.equal(t!.length, manifest.embeddingDim);
      const sample = makeSample('dog_barking', 3);
      for (const m of SENSOR_MODALITIES) {
        const [v] = await encoders.windows.get(m)!.embed([sample.windows[m]]);
        const norm = Math.hypot(...v!);
        assert.ok(Math.abs(norm - 1) < 1e-3, `${m} embedding is unit length (${norm})`);
      }
    } finally {
      await encoders.close();
    }
  },
);
