/**
 * `eval-events --plot` (issue 17 item 9): truth against detected events on a timeline, one row
 * per label. Read back from the SVG (the marks vega drew and the vega-lite spec it carries): every
 * truth interval and every event where it was, marked matched, missed or false as the evaluator decided.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventTimeline } from '../../src/cli/commands/eval-events.js';
import { eventTimelineSvg } from '../../src/cli/plots.js';
import { evaluate, type DetectedEvent, type EvalMetrics } from '../../src/eval/metrics.js';
import { localDemoConfig, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { runCliOnTerminal, runCliSync } from '../helpers/cli.js';
import { ariaFields, marks, parseSvg, type ParsedSvg } from '../helpers/svg.js';

const dir = tempDir('eval-events-plot');

/** The spans vega drew, as [label, kind, startS, endS]. */
const drawn = (svg: ParsedSvg) =>
  marks(svg, 'spans').map((m) => {
    const f = ariaFields(m);
    return [f.label!, f.kind!, Number(f.startS), Number(f.endS)] as const;
  });
const spansOf = (svg: ParsedSvg, label: string, kind: string) =>
  drawn(svg)
    .filter((d) => d[0] === label && d[1] === kind)
    .map((d) => [d[2], d[3]]);

test('the timeline marks matched events, false events and missed truth where they were', async () => {
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
  const svg = parseSvg(await eventTimelineSvg(eventTimeline({ detected, metrics }, truth, 'unit')));
  const y = (svg.spec as { layer: { encoding: { y: { scale: { domain: string[] } } } }[] }).layer[0]!.encoding
    .y;
  assert.deepEqual(y.scale.domain, ['alarm', 'dog', 'siren'], 'one row per label, a label with nothing too');
  assert.deepEqual(spansOf(svg, 'dog', 'truth, found'), [[1, 4]]);
  assert.deepEqual(spansOf(svg, 'dog', 'truth, missed'), [[10, 12]]);
  assert.deepEqual(spansOf(svg, 'dog', 'event, matched'), [[1.5, 4.5]]);
  assert.deepEqual(spansOf(svg, 'alarm', 'truth, missed'), [[5, 7]]);
  assert.deepEqual(spansOf(svg, 'alarm', 'event, false'), [[20, 21]]);
  assert.equal(drawn(svg).filter((d) => d[0] === 'siren').length, 0);
  assert.equal(drawn(svg).length, 5, 'every span drawn once');
  // Bars as vega drew them: later spans further right, longer ones wider; truth above events.
  const box = (label: string, kind: string) => {
    const m = marks(svg, 'spans').find((e) => ariaFields(e).label === label && ariaFields(e).kind === kind)!;
    const [x, yTop, w] = /^M([\d.-]+),([\d.-]+)h([\d.-]+)/.exec(m.attrs.d!)!.slice(1).map(Number);
    return { x: x!, y: yTop!, w: w! };
  };
  assert.ok(box('dog', 'truth, missed').x > box('dog', 'truth, found').x);
  assert.ok(box('dog', 'truth, found').w > box('dog', 'truth, missed').w);
  assert.ok(box('dog', 'truth, found').y < box('dog', 'event, matched').y, 'truth above, events below');
});

test('eval-events --plot on the demo recordings: the picture holds the same events the report counts', () => {
  const config = localDemoConfig(dir);
  const svgFile = join(dir, 'events.svg');
  const r = runCliSync(
    ['eval-events', '-c', config, '-t', join(SAMPLES, 'truth.json'), '--plot', svgFile, '--json'],
    { cwd: dir, timeoutMs: 240_000, env: { EDGEBIND_DEBUG: '' } },
  );
  assert.equal(r.status, 0, r.stderr);
  const { metrics, detected } = JSON.parse(r.stdout) as { metrics: EvalMetrics; detected: DetectedEvent[] };
  const svg = parseSvg(readFileSync(svgFile, 'utf8'));
  const y = (svg.spec as { layer: { encoding: { y: { scale: { domain: string[] } } } }[] }).layer[0]!.encoding
    .y;
  assert.deepEqual(
    y.scale.domain,
    metrics.labels.map((l) => l.label),
  );
  for (const l of metrics.labels) {
    const mine = drawn(svg).filter((d) => d[0] === l.label);
    assert.equal(mine.filter((d) => d[1].startsWith('truth')).length, l.truth, `${l.label}: truth intervals`);
    assert.equal(
      mine.filter((d) => d[1] === 'event, matched').length,
      l.truePositives,
      `${l.label}: matched events`,
    );
    assert.equal(
      mine.filter((d) => d[1] === 'event, false').length,
      l.falsePositives,
      `${l.label}: false events`,
    );
    assert.deepEqual(
      mine.filter((d) => d[1].startsWith('event')).map((d) => [d[2], d[3]]),
      detected
        .filter((e) => e.label === l.label)
        .map((e) => [Math.round(e.startMs) / 1000, Math.round(e.endMs) / 1000]),
    );
  }
  const t = metrics.total;
  assert.match(
    svg.title,
    new RegExp(
      `truth against events \\(${t.truePositives} of ${t.truth} found, ${t.falsePositives} false\\)`,
    ),
  );
  assert.match(r.stderr, /events\.svg: 11 labels, 4 truth intervals, \d+ events/);
  assert.ok(!r.stderr.includes('\r'), 'no progress line into a pipe');

  // On a terminal (`script` gives it one) a progress line counts the windows replayed.
  const tty = runCliOnTerminal(['eval-events', '-c', config, '-t', join(SAMPLES, 'truth.json')], {
    cwd: dir,
    timeoutMs: 240_000,
  });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, /eval-events: replaying; windows scored \d+ \d:\d\d/);
  // cli-progress draws from column 1 (ESC [1G) and clears the whole line (ESC [2K) at the end.
  assert.ok(tty.stdout.includes('\x1b[1Geval-events: replaying; windows scored '), 'redrawn in place');
  assert.ok(tty.stdout.includes('\x1b[1G\x1b[2Klabel '), 'the line is cleared before the table');
});
