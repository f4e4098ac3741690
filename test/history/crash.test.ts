/**
 * kill -9 during history writes, 20 times (issue #18): a child writes windows as fast as it can
 * and is killed after a varying number of its writes. After each kill the store opens and answers
 * a search, every whole record carries its CRC, and every window the child had reported written
 * is still there. The child is bundled once with esbuild so each start is a plain `node` start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { before, test } from 'node:test';
import { build } from 'esbuild';
import { HEADER_BYTES, recordBytesFor, recordIntact } from '../../src/history/format.js';
import { listSegments, scanHistory } from '../../src/history/reader.js';
import { tempDir } from '../helpers/agent-config.js';

const SOURCE = fileURLToPath(new URL('./fixtures/writer-loop.ts', import.meta.url));
const CHILD = fileURLToPath(
  new URL(`../../node_modules/.cache/edgebind-test/history-writer-loop-${process.pid}.mjs`, import.meta.url),
);

before(async () => {
  await build({
    entryPoints: [SOURCE],
    outfile: CHILD,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
});

/**
 * Starts the child, kills it with SIGKILL after its `writes`-th report; the last count it reported
 * and the child's pid (its segment's name ends with it).
 * Its windows start at the current hour's start: a run that began near the hour and wrote into the
 * next one would open a second segment (a shake run at 09:00 failed that way).
 */
async function killAfter(dir: string, writes: number): Promise<{ reported: number; pid: number }> {
  const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const child = spawn(process.execPath, [CHILD, dir, String(hourStart)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let reported = 0;
  let seen = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    reported = Number(/^written (\d+)$/.exec(line)?.[1] ?? Number.NaN);
    if (++seen === writes) {
      child.kill('SIGKILL');
      break;
    }
  }
  const [code, signal] = (await exited) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL', `the child exited by itself (code ${String(code)})`);
  return { reported, pid: child.pid! };
}

test('kill -9 during writes, 20 times: the store opens, answers, and keeps every reported window', async () => {
  const dir = tempDir('history-crash');
  const rb = recordBytesFor(128);
  let before = 0;
  for (let run = 0; run < 20; run++) {
    const { reported, pid } = await killAfter(dir, 1 + ((run * 7) % 11));
    const segments = listSegments(dir);
    assert.equal(segments.length, run + 1, 'each run writes its own segment');
    let whole = 0;
    for (const seg of segments) {
      const bytes = readFileSync(seg.path);
      const records = Math.floor((bytes.length - HEADER_BYTES) / rb);
      for (let r = 0; r < records; r++)
        assert.ok(recordIntact(bytes, HEADER_BYTES + r * rb, rb), `${seg.name} record ${r} is intact`);
      whole += records;
    }
    const own = segments.find((seg) => seg.name.endsWith(`-${pid}.ebh`));
    assert.ok(
      own,
      `run ${run}: no segment of child ${pid} among ${segments.map((seg) => seg.name).join(', ')}`,
    );
    const newest = Math.floor((readFileSync(own.path).length - HEADER_BYTES) / rb);
    assert.ok(newest >= reported, `run ${run}: ${newest} windows on disk, the child reported ${reported}`);
    const q = new Float32Array(128).fill(1 / Math.sqrt(128));
    const { hits, stats } = scanHistory(dir, { vector: q, keep: 10 });
    assert.equal(stats.windows, whole);
    assert.equal(stats.damaged, 0);
    assert.equal(hits.length, 10);
    assert.ok(whole > before);
    before = whole;
  }
});
