/**
 * The WebGPU execution provider for real (issue #15), on Mesa's software Vulkan driver (lavapipe,
 * test/helpers/lavapipe.ts): models/mini and the random-weight test pack give the same embeddings
 * on `webgpu` as on `cpu`, through the agent's own path (openEncoders: provider fallback, warm-up),
 * and the first real inference after warm-up pays no shader compilation. Runs in a child process
 * because the driver is chosen by environment variables the dynamic loader reads at start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO, tempDir } from '../helpers/agent-config.js';
import { assertLavapipe, lavapipeEnv, lavapipeTestOptions } from '../helpers/lavapipe.js';
import type { ParityReport } from '../helpers/webgpu-parity-child.js';

const dir = tempDir('webgpu');
const TSX = import.meta.resolve('tsx');
const CHILD = join(REPO, 'test/helpers/webgpu-parity-child.ts');
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'models/mini and the test pack on webgpu (lavapipe) match cpu: cosine >= 0.9999, warm-up before the first window',
  lavapipeTestOptions(),
  async (t) => {
    assertLavapipe();
    const child = spawn(
      process.execPath,
      ['--import', TSX, CHILD, join(dir, 'state'), 'webgpu,cpu', join(REPO, 'models/mini'), 'test'],
      { cwd: dir, env: lavapipeEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    assert.ok(!(out + err).includes('\u001b'), 'no ANSI escape codes from onnxruntime');

    const reports = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ParityReport);
    assert.equal(reports.length, 2);
    for (const r of reports) {
      const pack = r.pack === 'test' ? 'test pack' : 'mini';
      for (const [name, e] of Object.entries(r.encoders)) {
        t.diagnostic(
          `${pack} ${name}: ${e.provider}, cosine ${e.minCosine.toFixed(7)}, warm-up ${e.warmUpMs} ms, ` +
            `first embed ${e.firstEmbedMs} ms, repeat ${e.repeatEmbedMs} ms`,
        );
        assert.equal(e.provider, 'webgpu', `${pack} ${name} runs on webgpu`);
        assert.equal(e.cpuProvider, 'cpu');
        assert.ok(e.minCosine >= 0.9999, `${pack} ${name}: cosine ${e.minCosine}`);
        // Shader compilation on lavapipe takes hundreds of ms to seconds per encoder; after warm-up
        // the first real batch costs about what a repeat does. Generous for a loaded CI machine.
        assert.ok(
          e.firstEmbedMs <= 3 * e.repeatEmbedMs + 1000,
          `${pack} ${name}: first embed ${e.firstEmbedMs} ms after warm-up, repeat ${e.repeatEmbedMs} ms`,
        );
      }
      assert.deepEqual(Object.keys(r.encoders), ['text', 'audio', 'thermal', 'depth', 'imu']);
    }
    // Every encoder said where it runs and how long its warm-up took.
    for (const m of ['text', 'audio', 'thermal', 'depth', 'imu'])
      assert.match(err, new RegExp(`encoder ${m}: warmed up on webgpu in \\d+ ms \\(batch 1-2\\)`));
  },
);
