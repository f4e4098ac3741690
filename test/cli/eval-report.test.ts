/**
 * `edgebind eval` on too few scenes (issue 17 item 9): a figure the scenes cannot give is printed
 * as "–" with the reason, never "NaN"; `--report` gains a confusion matrix per modality, as a
 * table in the report and an SVG beside it whose cells hold the counts of every window, and the
 * score distributions (every label's score of every window, shown against not shown) to pick
 * thresholds from.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, tempDir } from '../helpers/agent-config.js';
import { ariaFields, marks, parseSvg } from '../helpers/svg.js';

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
  const matrices: Record<string, { true: string; count: number }[]> = {};
  assert.match(md, /## Confusion matrices \(zero-shot, canonical prompts\)/);
  for (const m of ['audio', 'thermal', 'depth', 'imu']) {
    assert.match(md, new RegExp(`!\\[${m} confusion matrix\\]\\(REPORT-confusion-${m}\\.svg\\)`));
    const svg = parseSvg(readFileSync(join(dir, 'out', `REPORT-confusion-${m}.svg`), 'utf8'));
    const cells = (svg.spec as { data: { values: { true: string; predicted: string; count: number }[] } })
      .data.values;
    const classes = [...new Set(cells.map((c) => c.true))];
    matrices[m] = cells;
    assert.equal(cells.length, classes.length ** 2, `${m}: a square matrix`);
    const total = cells.reduce((a, c) => a + c.count, 0);
    assert.equal(total, windows[m], `${m}: every evaluated window counted once`);
    // vega drew a cell per pair and a count in every cell that has one.
    assert.equal(marks(svg, 'cells').length, classes.length ** 2, `${m}: every cell drawn`);
    assert.deepEqual(
      marks(svg, 'counts').map((t) => [ariaFields(t).true, ariaFields(t).predicted, t.text]),
      cells.filter((c) => c.count > 0).map((c) => [c.true, c.predicted, String(c.count)]),
      `${m}: the counts written in the cells`,
    );
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
        classes.map((p) => cells.find((c) => c.true === t && c.predicted === p)!.count),
      );
    }
  }

  // Score distributions: per modality, every label's score of every window, as a picture and a table.
  assert.match(md, /## Score distributions \(zero-shot, canonical prompts\)/);
  assert.match(md, /!\[score distributions\]\(REPORT-scores\.svg\)/);
  const svg = parseSvg(readFileSync(join(dir, 'out', 'REPORT-scores.svg'), 'utf8'));
  const bins = (
    svg.spec as {
      data: { values: { modality: string; group: string; from: number; to: number; count: number }[] };
    }
  ).data.values;
  const drawn = new Set<string>();
  for (const m of ['audio', 'thermal', 'depth', 'imu']) {
    const mine = bins.filter((b) => b.modality === m);
    if (mine.length === 0) continue;
    drawn.add(m);
    const shown = mine.filter((b) => b.group === 'label shown');
    const notShown = mine.filter((b) => b.group === 'label not shown');
    assert.equal(shown.length, 20, `${m}: 20 bins`);
    assert.deepEqual(
      shown.map((b) => [b.from, b.to]),
      Array.from({ length: 20 }, (_, i) => [i / 20, (i + 1) / 20]),
      `${m}: the bins cover 0 to 1`,
    );
    const sum = (xs: { count: number }[]) => xs.reduce((a, b) => a + b.count, 0);
    // Every label (each class but empty_room) scores every window once; a window that shows a
    // label gives one "shown" score.
    const classes = new Set(matrices[m]!.map((c) => c.true));
    const empty = matrices[m]!.filter((c) => c.true === 'empty_room').reduce((a, c) => a + c.count, 0);
    assert.equal(sum(shown) + sum(notShown), windows[m]! * (classes.size - 1), `${m}: every score binned`);
    assert.equal(sum(shown), windows[m]! - empty, `${m}: one shown score per window with an event`);
    const row = md.split('\n').find((l) => l.startsWith(`| ${m} | `))!;
    const [nShown, , nNot] = row
      .split('|')
      .slice(2, 5)
      .map((x) => Number(x.trim()));
    assert.equal(sum(shown), nShown, `${m}: the table counts what the picture bins`);
    assert.equal(sum(notShown), nNot);
  }
  assert.ok(drawn.has('audio'), 'audio scores drawn');
  const threshold = marks(svg, 'threshold');
  assert.equal(threshold.length, drawn.size, 'the threshold in every panel');
  assert.ok(marks(svg, 'bins').length > 0, 'bars drawn');
});

test('eval --report on scenes without a modality: its timing is "–", not "NaN ms"', () => {
  // A fire scene: only audio and thermal observe fire, so depth and imu have no window to time.
  const data = join(dir, 'fire');
  const sim = edgebind('simulate', '--scenario', 'fire', '--seconds', '12', '--out', data);
  assert.equal(sim.code, 0, sim.stderr);
  const report = join(dir, 'fire-out', 'REPORT.md');
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
  const md = readFileSync(report, 'utf8');
  assert.match(md, /Windows per modality: audio [1-9]\d*, thermal [1-9]\d*, depth 0, imu 0\./);
  assert.doesNotMatch(md, /NaN/);
  assert.match(md, /\): audio \d+\.\d\d ms, thermal \d+\.\d\d ms, depth –, imu –\. /);
});
