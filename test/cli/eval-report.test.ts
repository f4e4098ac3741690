/**
 * `edgebind eval` on too few scenes (issue 17 item 9): a figure the scenes cannot give is printed
 * as "–" with the reason, never "NaN"; `--report` gains a confusion matrix per modality, as a
 * table in the report and an SVG beside it whose cells hold the counts of every window.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from '../helpers/agent-config.js';
import { parseSvg, withClass } from '../helpers/svg.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('eval-report');

function edgebind(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), EDGEBIND_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('eval on one short scene: "–" with the reason instead of NaN; the report has confusion matrices', () => {
  const data = join(dir, 'one');
  const sim = edgebind('simulate', '--scenario', 'demo', '--seconds', '14', '--out', data);
  assert.equal(sim.code, 0, sim.stderr);
  const report = join(dir, 'out', 'REPORT.md');
  const r = edgebind(
    'eval',
    '--pack',
    join(REPO, 'models/mini'),
    '--data',
    data,
    '--no-events',
    '--report',
    report,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /NaN/);
  assert.match(r.stdout, /few-shot audio: 1 –, 2 –, 4 –, 8 –\n/);
  assert.match(
    r.stdout,
    /\n– : not measurable on these scenes \(.*\); write more, e\.g\. `edgebind simulate/,
  );
  assert.equal(r.stderr, '', 'no progress line into a pipe');

  const md = readFileSync(report, 'utf8');
  assert.doesNotMatch(md, /NaN/);
  const windows = Object.fromEntries(
    [.../Windows per modality: ([^.]+)\./.exec(md)![1]!.matchAll(/(audio|thermal|depth|imu) (\d+)/g)].map(
      (m) => [m[1]!, Number(m[2])],
    ),
  );
  assert.match(md, /## Confusion matrices \(zero-shot, canonical prompts\)/);
  for (const m of ['audio', 'thermal', 'depth', 'imu']) {
    assert.match(md, new RegExp(`!\\[${m} confusion matrix\\]\\(REPORT-confusion-${m}\\.svg\\)`));
    const els = parseSvg(readFileSync(join(dir, 'out', `REPORT-confusion-${m}.svg`), 'utf8'));
    const cells = withClass(els, 'cell');
    const classes = [...new Set(cells.map((c) => c.attrs['data-true']))];
    assert.equal(cells.length, classes.length ** 2, `${m}: a square matrix`);
    const total = cells.reduce((a, c) => a + Number(c.attrs['data-count']), 0);
    assert.equal(total, windows[m], `${m}: every evaluated window counted once`);
    // The markdown table says the same, row by row.
    const from = md.indexOf(`\n**${m}**\n`);
    const section = md.slice(
      from,
      md.indexOf('\n\n**', from + 1) > 0 ? md.indexOf('\n\n**', from + 1) : md.indexOf('\n## ', from),
    );
    for (const t of classes) {
      const row = section.split('\n').find((l) => l.startsWith(`| ${t} (`));
      assert.ok(row, `${m}: a table row for ${t}`);
      const counts = row
        .split('|')
        .slice(2, -1)
        .map((x) => Number(x.replace(/\*/g, '').trim()));
      assert.deepEqual(
        counts,
        classes.map((p) =>
          Number(
            cells.find((c) => c.attrs['data-true'] === t && c.attrs['data-predicted'] === p)!.attrs[
              'data-count'
            ],
          ),
        ),
      );
    }
  }
});
