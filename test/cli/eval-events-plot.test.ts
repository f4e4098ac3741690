/**
 * `eval-events --plot` (issue 17 item 9): truth against detected events on a timeline, one row
 * per label. Read back from the SVG: every truth interval and every event where it was, marked
 * matched, missed or false as the evaluator decided.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { eventTimeline } from '../../src/cli/commands/eval-events.js';
import { eventTimelineSvg } from '../../src/cli/plots.js';
import { evaluate, type DetectedEvent, type EvalMetrics } from '../../src/eval/metrics.js';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { parseSvg, withClass, type SvgElement } from '../helpers/svg.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('eval-events-plot');

const span = (e: SvgElement) => [Number(e.attrs['data-start-s']), Number(e.attrs['data-end-s'])];

test('the timeline marks matched events, false events and missed truth where they were', () => {
  const truth = [
    { label: 'dog', startMs: 1000, endMs: 4000 },
    { label: 'dog', startMs: 10_000, endMs: 12_000 },
    { label: 'alarm', startMs: 5000, endMs: 7000 },
  ];
  const detected: DetectedEvent[] = [
    { id: 'a', label: 'dog', startMs: 1500, endMs: 4500 },
    { id: 'b', label: 'alarm', startMs: 20_000, endMs: 21_000 },
  ];
  const metrics = evaluate(detected, truth, { labels: ['dog', 'alarm', 'siren'] });
  const els = parseSvg(eventTimelineSvg(eventTimeline({ detected, metrics }, truth, 'unit')));
  const rows = withClass(els, 'label').map((g) => g.attrs['data-label']);
  assert.deepEqual(rows, ['alarm', 'dog', 'siren'], 'one row per label, a label with nothing too');
  const of = (label: string, ...cls: string[]) =>
    withClass(
      els.filter((e) => e.label === label),
      ...cls,
    ).map(span);
  assert.deepEqual(of('dog', 'truth', 'matched'), [[1, 4]]);
  assert.deepEqual(of('dog', 'truth', 'missed'), [[10, 12]]);
  assert.deepEqual(of('dog', 'event', 'matched'), [[1.5, 4.5]]);
  assert.deepEqual(of('alarm', 'truth', 'missed'), [[5, 7]]);
  assert.deepEqual(of('alarm', 'event', 'false'), [[20, 21]]);
  assert.equal(els.filter((e) => e.label === 'siren' && e.name === 'rect').length, 0);
  // Later spans sit further right, longer ones are wider.
  const dogTruth = withClass(
    els.filter((e) => e.label === 'dog'),
    'truth',
  );
  assert.ok(Number(dogTruth[1]!.attrs.x) > Number(dogTruth[0]!.attrs.x));
  assert.ok(Number(dogTruth[0]!.attrs.width) > Number(dogTruth[1]!.attrs.width));
});

test('eval-events --plot on the demo recordings: the picture holds the same events the report counts', () => {
  const cfg = parse(readFileSync(join(REPO, 'examples/demo.yaml'), 'utf8')) as {
    encoders: { pack: string };
    sensors: { file: string }[];
    stateDir?: string;
  };
  cfg.encoders.pack = join(REPO, 'models/mini');
  for (const s of cfg.sensors) s.file = join(SAMPLES, s.file.replace('../samples/', ''));
  cfg.stateDir = join(dir, 'state');
  const config = join(dir, 'demo.yaml');
  writeFileSync(config, stringify(cfg));
  const svgFile = join(dir, 'events.svg');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      TSX,
      CLI,
      'eval-events',
      '-c',
      config,
      '-t',
      join(SAMPLES, 'truth.json'),
      '--plot',
      svgFile,
      '--json',
    ],
    { cwd: dir, encoding: 'utf8', timeout: 240_000, env: { ...process.env, EDGEBIND_DEBUG: '' } },
  );
  assert.equal(r.status, 0, r.stderr);
  const { metrics, detected } = JSON.parse(r.stdout) as { metrics: EvalMetrics; detected: DetectedEvent[] };
  const els = parseSvg(readFileSync(svgFile, 'utf8'));
  assert.deepEqual(
    withClass(els, 'label').map((g) => g.attrs['data-label']),
    metrics.labels.map((l) => l.label),
  );
  for (const l of metrics.labels) {
    const mine = els.filter((e) => e.label === l.label);
    assert.equal(withClass(mine, 'truth').length, l.truth, `${l.label}: truth intervals`);
    assert.equal(withClass(mine, 'event', 'matched').length, l.truePositives, `${l.label}: matched events`);
    assert.equal(withClass(mine, 'event', 'false').length, l.falsePositives, `${l.label}: false events`);
    assert.deepEqual(
      withClass(mine, 'event').map(span),
      detected
        .filter((e) => e.label === l.label)
        .map((e) => [Math.round(e.startMs / 10) / 100, Math.round(e.endMs / 10) / 100]),
    );
  }
  const t = metrics.total;
  assert.match(
    els.find((e) => e.name === 'title')!.text,
    new RegExp(
      `truth against events \\(${t.truePositives} of ${t.truth} found, ${t.falsePositives} false\\)`,
    ),
  );
  assert.match(r.stderr, /events\.svg: 11 labels, 4 truth intervals, \d+ events/);
  assert.ok(!r.stderr.includes('\r'), 'no progress line into a pipe');

  // On a terminal (`script` gives it one) a progress line counts the windows replayed.
  const command = [
    process.execPath,
    '--import',
    TSX,
    CLI,
    'eval-events',
    '-c',
    config,
    '-t',
    join(SAMPLES, 'truth.json'),
  ]
    .map((a) => `'${a}'`)
    .join(' ');
  const tty = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /eval-events: replaying; windows scored \d+ \d:\d\d/);
  // cli-progress draws from column 1 (ESC [1G) and clears the whole line (ESC [2K) at the end.
  assert.ok(tty.stdout.includes('\x1b[1Geval-events: replaying; windows scored '), 'redrawn in place');
  assert.ok(tty.stdout.includes('\x1b[1G\x1b[2Klabel '), 'the line is cleared before the table');
});
