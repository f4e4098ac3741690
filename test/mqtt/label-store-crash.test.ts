/**
 * Crash safety of the persisted label set: a child process stores growing versions in a loop and
 * is killed with SIGKILL at a random moment, 100 times. The file must always hold one complete
 * version (never torn, never older than one that was already complete).
 *
 * The child is bundled once with esbuild (tsx's own dependency) so each of the 100 starts is a
 * plain `node` start, not a TypeScript loader start: that keeps the test well under 30 s.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { before, test } from 'node:test';
import { build } from 'esbuild';
import { LabelStore } from '../../src/labels/store.js';
import { tempDir } from '../helpers/agent-config.js';
import { labelsForVersion } from './fixtures/persist-versions.js';

const SOURCE = fileURLToPath(new URL('./fixtures/persist-loop.ts', import.meta.url));
// Inside the repository, so the bundle's external packages resolve from its node_modules.
const CHILD = fileURLToPath(
  new URL(`../../node_modules/.cache/edgebind-test/persist-loop-${process.pid}.mjs`, import.meta.url),
);

before(async () => {
  await build({
    entryPoints: [SOURCE],
    outfile: CHILD,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // npm packages stay imports: bundling CommonJS ones (e.g. through the sensor drivers the
    // config schema lists) into ESM breaks their require() calls.
    packages: 'external',
    logLevel: 'error',
  });
});

async function killOnce(dir: string, delayMs: number): Promise<void> {
  const child = spawn(process.execPath, [CHILD, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`persist-loop exited early (${String(code)})`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  await exited;
}

test('kill -9 during label persistence, 100 times: the file is always a complete version', async () => {
  const workers = 4;
  const perWorker = 25;
  let checked = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const dir = tempDir(`crash-${w}`);
      const store = new LabelStore(dir);
      let last = 0;
      for (let i = 0; i < perWorker; i++) {
        await killOnce(dir, 5 + ((i * 7 + w * 13) % 40));
        const stored = store.load(); // throws on a torn or invalid file
        checked++;
        if (!stored) {
          assert.equal(last, 0, 'a stored version never disappears');
          continue;
        }
        assert.ok(stored.version >= last, `version ${stored.version} is not older than ${last}`);
        assert.equal(stored.hash, `v${stored.version}`);
        assert.deepEqual(
          stored.labels,
          labelsForVersion(stored.version),
          `version ${stored.version} is complete`,
        );
        last = stored.version;
      }
    }),
  );
  assert.equal(checked, workers * perWorker);
});
