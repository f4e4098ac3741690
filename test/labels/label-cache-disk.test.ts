/**
 * The label cache on a full state disk (issue #14): applying labels still works (the cache is an
 * optimisation), the failure is logged once with the file, and no partial temp file is left to
 * take the space that the event outbox needs. On a real size-limited tmpfs.
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LabelSchema, ScoringSchema } from '../../src/config/schema.js';
import type { TextEncoder } from '../../src/encoders/types.js';
import { buildLabelSet, clearLabelMemoryCache } from '../../src/labels/build.js';
import { tempDir } from '../helpers/agent-config.js';
import { captureLogger } from '../helpers/log-capture.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

const DIM = 64;
const text: TextEncoder = {
  provider: 'cpu',
  embed: (texts) =>
    Promise.resolve(
      texts.map((t) => {
        const v = new Float32Array(DIM);
        for (let i = 0; i < t.length; i++) v[(t.charCodeAt(i) * 31 + i) % DIM]! += 1;
        const n = Math.hypot(...v);
        return v.map((x) => x / n);
      }),
    ),
};

let disk: Tmpfs | undefined;
after(() => disk?.unmount());

test('a label cache that does not fit the disk: labels apply, one warning names the file, no temp file remains', async (t) => {
  const dir = tempDir('label-cache-disk');
  const mounted = mountTmpfs(join(dir, 'state'), 16 * 1024);
  let cacheDir: string;
  if ('refused' in mounted) {
    // Without a tmpfs: a cache directory that cannot be created fails the same way (ENOTDIR).
    t.diagnostic(`no tmpfs (${mounted.refused}): the cache directory sits below a file instead`);
    writeFileSync(join(dir, 'a-file'), '');
    cacheDir = join(dir, 'a-file', 'label-cache');
  } else {
    disk = mounted;
    cacheDir = join(mounted.dir, 'label-cache');
  }
  // 200 prompts × 3 templates of 64 floats: about 70 KB of cache, more than the 16 KiB disk.
  const labels = Array.from({ length: 20 }, (_, i) =>
    LabelSchema.parse({
      name: `l${i}`,
      prompts: Array.from({ length: 10 }, (_, j) => `sound number ${i} variant ${j}`),
    }),
  );
  const { logger, lines } = captureLogger('warn');
  clearLabelMemoryCache();
  const set = await buildLabelSet({
    labels,
    scoring: ScoringSchema.parse({}),
    modalities: ['audio'],
    text,
    pack: { id: 'p', version: '1' },
    cacheDir,
    logger,
  });
  assert.equal(set.labels.length, 20, 'every label is built');
  const warnings = lines
    .map((l) => JSON.parse(l) as { msg: string })
    .filter((l) => /label cache/.test(l.msg));
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.ok(warnings[0]!.msg.includes(cacheDir), warnings[0]!.msg);
  if (disk) {
    assert.deepEqual(
      readdirSync(cacheDir).filter((f) => f.includes('.tmp-')),
      [],
      'the partial temp file was removed',
    );
    assert.ok(disk.free() > 8 * 1024, `the space is free again (${disk.free()} bytes)`);
  }
  clearLabelMemoryCache();
});
