/**
 * `classify --plot` (issue 17 item 9), run as a user runs it: the demo recording, the demo
 * config with one label's thresholds pulled apart, and the SVG read back — one score line per
 * label, both thresholds at the configured values, one shaded span per event the tracker made.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import type { ClassifyResult } from '../../src/cli/commands/classify.js';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { parseSvg, points, withClass } from '../helpers/svg.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('classify-plot');
const WAV = join(SAMPLES, 'room-audio.wav');

function edgebind(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), EDGEBIND_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** examples/demo.yaml with absolute paths, its own stateDir, and person_walking at 0.7 / 0.3. */
function demoConfig(): string {
  const cfg = parse(readFileSync(join(REPO, 'examples/demo.yaml'), 'utf8')) as {
    encoders: { pack: string };
    sensors: { file: string }[];
    labels: { name: string; threshold?: number; offThreshold?: number }[];
    stateDir?: string;
  };
  cfg.encoders.pack = join(REPO, 'models/mini');
  for (const s of cfg.sensors) s.file = join(SAMPLES, s.file.replace('../samples/', ''));
  const walking = cfg.labels.find((l) => l.name === 'person_walking')!;
  walking.threshold = 0.7;
  walking.offThreshold = 0.3;
  cfg.stateDir = join(dir, 'state');
  const file = join(dir, 'demo.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
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

  const els = parseSvg(readFileSync(svgFile, 'utf8'));
  const lines = withClass(els, 'score');
  assert.deepEqual(
    lines.map((l) => l.attrs['data-label']),
    timeline.map((s) => s.label),
    'one score line per label, in config order',
  );
  for (const s of timeline) {
    const mine = els.filter((e) => e.label === s.label);
    const line = withClass(mine, 'score')[0]!;
    const pts = points(line);
    assert.equal(pts.length, result.windows.length, `${s.label}: a point per window`);
    assert.ok(
      pts.every((p, i) => i === 0 || p.x > pts[i - 1]!.x),
      'time runs left to right',
    );
    const on = withClass(mine, 'threshold', 'on');
    const off = withClass(mine, 'threshold', 'off');
    assert.equal(on.length, 1);
    assert.equal(off.length, 1);
    const want = s.label === 'person_walking' ? [0.7, 0.3] : [0.5, 0.5];
    assert.deepEqual([Number(on[0]!.attrs['data-value']), Number(off[0]!.attrs['data-value'])], want);
    const above = s.points.filter((p) => p.score >= want[0]!);
    const below = s.points.filter((p) => p.score < want[1]!);
    const yOn = Number(on[0]!.attrs.y1);
    const yOff = Number(off[0]!.attrs.y1);
    assert.ok(yOn <= yOff, 'the start threshold is drawn above (or on) the end threshold');
    pts.forEach((p, i) => {
      if (above.includes(s.points[i]!))
        assert.ok(p.y <= yOn + 0.01, `${s.label}: a point above threshold is drawn above it`);
      if (below.includes(s.points[i]!))
        assert.ok(p.y > yOff, `${s.label}: a point below offThreshold is drawn below it`);
    });
    const spans = withClass(mine, 'event');
    assert.deepEqual(
      spans.map((e) => [
        Number(e.attrs['data-start-s']),
        Number(e.attrs['data-end-s']),
        e.attrs['data-end-reason'],
      ]),
      s.events.map((e) => [e.startMs / 1000, e.endMs / 1000, e.endReason]),
      `${s.label}: one span per event`,
    );
    // No event without a score at or above the label's threshold inside it.
    for (const e of s.events)
      assert.ok(
        s.points.some((p) => p.tMs >= e.startMs && p.tMs <= e.endMs && p.score >= want[0]!),
        `${s.label}: its event ${e.startMs}-${e.endMs} holds a window at or above threshold`,
      );
    if (s.points.every((p) => p.score < want[0]!)) assert.equal(spans.length, 0, `${s.label}: never started`);
  }
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
  const els = parseSvg(readFileSync(svgFile, 'utf8'));
  assert.deepEqual(
    withClass(els, 'score').map((e) => e.attrs['data-label']),
    ['a_dog_barking', 'an_alarm_beeping'],
  );
  assert.deepEqual(
    withClass(els, 'threshold', 'on').map((e) => e.attrs['data-value']),
    ['0.6', '0.6'],
  );
  assert.deepEqual(
    withClass(els, 'threshold', 'off').map((e) => e.attrs['data-value']),
    ['0.25', '0.25'],
  );
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
