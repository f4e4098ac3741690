/**
 * `classify --plot` (issue 17 item 9), run as a user runs it: the demo recording, the demo
 * config with one label's thresholds pulled apart, and the SVG read back (the vega-lite spec it
 * carries and the marks vega drew) — one score line per label, both thresholds at the configured
 * values, one shaded span per event the tracker made.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ClassifyResult } from '../../src/cli/commands/classify.js';
import { localDemoConfig, REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { runCliSync } from '../helpers/cli.js';
import { ariaFields, marks, parseSvg, pathPoints, translateY } from '../helpers/svg.js';

/** One label's panel in the spec `classify --plot` draws (src/cli/plots.ts). */
interface Panel {
  title: { text: string; subtitle: string };
  layer: { name: string; data: { values: Record<string, unknown>[] } }[];
}

const dir = tempDir('classify-plot');
const WAV = join(SAMPLES, 'room-audio.wav');

function edgebind(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = runCliSync(args, {
    cwd: dir,
    timeoutMs: 240_000,
    env: { XDG_CACHE_HOME: join(dir, 'cache'), EDGEBIND_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** examples/demo.yaml with absolute paths, its own stateDir, and person_walking at 0.7 / 0.3. */
function demoConfig(): string {
  return localDemoConfig(dir, (cfg) => {
    const walking = cfg.labels.find((l) => l.name === 'person_walking')!;
    walking.threshold = 0.7;
    walking.offThreshold = 0.3;
  });
}

test('classify --config --plot on the demo recording: per label its score line, both thresholds and its events', () => {
  const config = demoConfig();
  const svgFile = join(dir, 'audio.svg');
  const r = edgebind('classify', '--config', config, '-m', 'audio', WAV, '--plot', svgFile, '--json');
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as ClassifyResult;
  const timeline = result.timeline!;
  const truth = JSON.parse(readFileSync(join(SAMPLES, 'truth.json'), 'utf8')) as {
    events: { label: string; startS: number; endS: number }[];
  };
  // Every demo label listens to audio.
  assert.equal(timeline.length, 11);
  const events = timeline.reduce((n, s) => n + s.events.length, 0);
  assert.match(
    r.stderr,
    new RegExp(`${svgFile}: 11 labels, ${result.windows.length} windows, ${events} events`),
  );

  const svg = parseSvg(readFileSync(svgFile, 'utf8'));
  assert.match(
    svg.title,
    /^room-audio\.wav \(audio, pack edgebind-mini [\d.]+\): score per label, thresholds, events$/,
  );
  const panels = (svg.spec as { vconcat: Panel[] }).vconcat;
  assert.deepEqual(
    panels.map((p) => p.title.text),
    timeline.map((s) => s.label),
    'one panel per label, in config order',
  );
  timeline.forEach((s, i) => {
    const layer = (name: string) => panels[i]!.layer.find((l) => l.name === `p${i}_${name}`)!.data.values;
    const line = marks(svg, `p${i}_score`);
    assert.equal(line.length, 1, `${s.label}: one score line`);
    const pts = pathPoints(line[0]!);
    assert.equal(pts.length, result.windows.length, `${s.label}: a point per window`);
    assert.equal(layer('score').length, result.windows.length);
    assert.ok(
      pts.every((p, k) => k === 0 || p.x > pts[k - 1]!.x),
      'time runs left to right',
    );
    const rules = marks(svg, `p${i}_thresholds`);
    const on = rules.filter((r) => ariaFields(r).series === 'threshold (start)');
    const off = rules.filter((r) => ariaFields(r).series === 'offThreshold (end)');
    assert.equal(on.length, 1);
    assert.equal(off.length, 1);
    const want = s.label === 'person_walking' ? [0.7, 0.3] : [0.5, 0.5];
    assert.deepEqual([Number(ariaFields(on[0]!).value), Number(ariaFields(off[0]!).value)], want);
    assert.equal(
      panels[i]!.title.subtitle.startsWith(`threshold ${want[0]} / offThreshold ${want[1]};`),
      true,
    );
    const above = s.points.filter((p) => p.score >= want[0]!);
    const below = s.points.filter((p) => p.score < want[1]!);
    const yOn = translateY(on[0]!);
    const yOff = translateY(off[0]!);
    assert.ok(yOn <= yOff, 'the start threshold is drawn above (or on) the end threshold');
    pts.forEach((p, k) => {
      if (above.includes(s.points[k]!))
        assert.ok(p.y <= yOn + 0.01, `${s.label}: a point above threshold is drawn above it`);
      if (below.includes(s.points[k]!))
        assert.ok(p.y > yOff, `${s.label}: a point below offThreshold is drawn below it`);
    });
    const spans = marks(svg, `p${i}_events`);
    assert.equal(spans.length, s.events.length, `${s.label}: one shaded span per event`);
    assert.deepEqual(
      layer('events').map((e) => [e.startS, e.endS, e.ended]),
      s.events.map((e) => [e.startMs / 1000, e.endMs / 1000, e.endReason ?? 'open']),
      `${s.label}: the spans are the events`,
    );
    spans.forEach((span, k) => {
      assert.equal(Number(ariaFields(span).startS), s.events[k]!.startMs / 1000);
      assert.equal(Number(ariaFields(span).endS), s.events[k]!.endMs / 1000);
    });
    // Each span says its peak and why it ended, readable without hovering.
    assert.deepEqual(
      marks(svg, `p${i}_notes`).map((n) => n.text),
      s.events.map((e) => `peak ${e.peakScore.toFixed(2)}, ${e.endReason ?? 'open'}`),
    );
    // No event without a score at or above the label's threshold inside it.
    for (const e of s.events)
      assert.ok(
        s.points.some((p) => p.tMs >= e.startMs && p.tMs <= e.endMs && p.score >= want[0]!),
        `${s.label}: its event ${e.startMs}-${e.endMs} holds a window at or above threshold`,
      );
    if (s.points.every((p) => p.score < want[0]!)) assert.equal(spans.length, 0, `${s.label}: never started`);
  });
  // The picture shows the demo's scene: each scripted incident the mini pack hears in audio has an
  // event overlapping it.
  for (const g of truth.events) {
    const s = timeline.find((x) => x.label === g.label)!;
    assert.ok(
      s.events.some((e) => e.startMs < g.endS * 1000 && e.endMs > g.startS * 1000),
      `${g.label} ${g.startS}-${g.endS} s has an event in the picture`,
    );
  }
  // The text output lists the same events, in time order, with why each ended.
  const text = edgebind('classify', '--config', config, '-m', 'audio', WAV, '--top', '2');
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /events \(as the agent's tracker makes them from these scores\)\n {2}\d+\.\d-\d+\.\d s {2}person_walking/,
  );
});

test('classify --labels --threshold --off-threshold --plot: the thresholds given are the ones drawn', () => {
  const svgFile = join(dir, 'labels.svg');
  const r = edgebind(
    'classify',
    '--pack',
    join(REPO, 'models/mini'),
    '-m',
    'audio',
    '--labels',
    'a dog barking,an alarm beeping',
    '--threshold',
    '0.6',
    '--off-threshold',
    '0.25',
    '--plot',
    svgFile,
    '--state-dir',
    join(dir, 'state'),
    WAV,
  );
  assert.equal(r.code, 0, r.stderr);
  const svg = parseSvg(readFileSync(svgFile, 'utf8'));
  assert.deepEqual(
    (svg.spec as { vconcat: Panel[] }).vconcat.map((p) => p.title.text),
    ['a_dog_barking', 'an_alarm_beeping'],
  );
  for (const i of [0, 1]) {
    assert.equal(marks(svg, `p${i}_score`).length, 1);
    assert.deepEqual(
      marks(svg, `p${i}_thresholds`).map((r) => [ariaFields(r).series, ariaFields(r).value]),
      [
        ['threshold (start)', '0.6'],
        ['offThreshold (end)', '0.25'],
      ],
    );
  }
});

test('classify --plot usage errors: exit 2, one line saying what to do', () => {
  const cases: [string[], RegExp][] = [
    [
      ['--pack', 'test', '--labels', 'a', '--whole', '--plot', 'x.svg'],
      /--whole gives one window, nothing to draw/,
    ],
    [['--pack', 'test'], /give --labels "a,b,c" or --config FILE/],
    [
      ['--pack', 'test', '--labels', 'a', '--threshold', '0.5', '--off-threshold', '0.6'],
      /--off-threshold 0\.6 must not exceed --threshold 0\.5/,
    ],
    [
      ['--pack', 'test', '--labels', 'a', '--threshold', '1.5'],
      /--threshold <score>' argument '1\.5' is invalid\. expected a score from 0 to 1/,
    ],
    [
      ['--config', join(REPO, 'examples/demo.yaml'), '--labels', 'a'],
      /--config takes the labels and scoring from the config file/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = edgebind('classify', '-m', 'audio', '--state-dir', join(dir, 'state'), ...args, WAV);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});
