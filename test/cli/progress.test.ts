/**
 * Progress lines (issue 17 item 9), drawn by cli-progress: on stderr only when it is a terminal,
 * never into a pipe or with --json; one line redrawn in place and cleared at the end. cli-progress
 * reads Date.now and setTimeout, so time is mock.timers'. The long commands are run as a user runs
 * them, once under a pseudo-terminal (`script`, util-linux) and once into a pipe.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { progress, type ProgressStream } from '../../src/cli/progress.js';
import { localDemoConfig, REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { runCliOnTerminal, runCliSync } from '../helpers/cli.js';

const dir = tempDir('progress');
/** How cli-progress draws a line: cursor to column 1, the line, erase to its end. */
const DRAW = '\x1b[1G';
const END = '\x1b[0K';
/** How it clears the line when finished: column 1, erase the whole line. */
const CLEAR = '\x1b[1G\x1b[2K';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function recorder(isTTY: boolean, columns = 100): ProgressStream & { out: string } {
  const s = {
    isTTY,
    columns,
    out: '',
    write(chunk: string) {
      s.out += chunk;
      return true;
    },
  };
  return s;
}

/** Every line drawn, in order. */
function frames(out: string): string[] {
  return [...out.matchAll(new RegExp(`${esc(DRAW)}(.*?)${esc(END)}`, 'g'))].map((m) => m[1]!);
}

function fakeTime(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
}

/** Time passing as it does: mock.timers' tick does not run timers armed during the tick. */
function advance(t: TestContext, ms: number) {
  for (let i = 0; i < ms; i += 100) t.mock.timers.tick(Math.min(100, ms - i));
}

test('a terminal gets one line redrawn in place, with the phase, its count and time, cleared at the end', (t) => {
  fakeTime(t);
  const stream = recorder(true);
  const bar = progress('eval', { stream });
  assert.equal(bar.active, true);
  bar.update('embedding audio windows', 0, 12);
  advance(t, 3000); // redrawn as the elapsed time changes
  bar.update('embedding audio windows', 3, 12);
  advance(t, 100);
  bar.update('embedding audio windows', 12, 12);
  bar.finish();
  assert.deepEqual(frames(stream.out), [
    'eval: embedding audio windows [--------------------] 0/12 0% 0:00',
    'eval: embedding audio windows [--------------------] 0/12 0% 0:01',
    'eval: embedding audio windows [--------------------] 0/12 0% 0:02',
    'eval: embedding audio windows [--------------------] 0/12 0% 0:03',
    'eval: embedding audio windows [#####---------------] 3/12 25% 0:03 (~0:09 left)',
    'eval: embedding audio windows [####################] 12/12 100% 0:03',
  ]);
  assert.ok(stream.out.endsWith(CLEAR), 'cleared: the command output follows on a clean line');
  assert.doesNotMatch(stream.out, /\n/, 'never a new line');
  // Nothing is drawn after the end, and nothing is left running.
  const before = stream.out;
  advance(t, 5000);
  assert.equal(stream.out, before);
});

test('each phase has its own count and time left; a count without total has no bar', (t) => {
  fakeTime(t);
  const stream = recorder(true);
  const bar = progress('eval', { stream });
  bar.update('reading scenes', 0, 2);
  advance(t, 60_000);
  bar.update('embedding', 1, 4); // a new phase starts its own estimate
  advance(t, 10_000);
  bar.update('embedding', 2, 4);
  advance(t, 100);
  bar.update('replaying', 7);
  bar.finish();
  const drawn = frames(stream.out);
  const at = (line: string) => {
    const i = drawn.indexOf(line);
    assert.ok(i >= 0, `drawn: ${line}\n${drawn.join('\n')}`);
    return i;
  };
  const a = at('eval: embedding [#####---------------] 1/4 25% 1:00');
  const b = at('eval: embedding [##########----------] 2/4 50% 1:10 (~0:20 left)');
  const c = at('eval: replaying 7 1:10');
  assert.ok(a < b && b < c);
  assert.ok(stream.out.endsWith(CLEAR));
});

test('a note follows the count without restarting the estimate; timeLeft false shows none', (t) => {
  fakeTime(t);
  for (const timeLeft of [true, false]) {
    const stream = recorder(true);
    const bar = progress('simulate', { stream, timeLeft });
    bar.update('rendering scenes', 0, 4);
    advance(t, 2000);
    bar.update('rendering scenes', 1, 4, '(a done)');
    advance(t, 2000);
    bar.update('rendering scenes', 2, 4, '(b done)');
    bar.finish();
    assert.equal(
      frames(stream.out).at(-1),
      `simulate: rendering scenes [##########----------] 2/4 50% 0:04${timeLeft ? ' (~0:04 left)' : ''} (b done)`,
    );
  }
});

test('after finish the next update draws the line again (a message printed between)', (t) => {
  fakeTime(t);
  const stream = recorder(true);
  const bar = progress('record', { stream });
  bar.update('capturing', 0, 2);
  bar.finish();
  stream.write('mic: degraded\n');
  advance(t, 1000);
  bar.update('capturing', 1, 2);
  bar.finish();
  const i = stream.out.indexOf('mic: degraded\n');
  assert.ok(stream.out.slice(0, i).endsWith(CLEAR), 'cleared before the message');
  assert.deepEqual(frames(stream.out.slice(i)), ['record: capturing [##########----------] 1/2 50% 0:01']);
});

test('a line longer than the terminal is cut one short of its width', (t) => {
  fakeTime(t);
  const stream = recorder(true, 30);
  const bar = progress('simulate', { stream });
  bar.update('rendered a-very-long-scene-directory-name', 1, 2);
  bar.finish();
  assert.equal(frames(stream.out)[0], 'simulate: rendered a-very-lon');
  assert.equal(frames(stream.out)[0]!.length, 29);
});

test('no terminal, or --json: nothing is written', (t) => {
  fakeTime(t);
  for (const [stream, enabled] of [
    [recorder(false), true],
    [recorder(true), false],
  ] as const) {
    const bar = progress('eval', { stream, enabled });
    assert.equal(bar.active, false);
    bar.update('embedding', 1, 2);
    advance(t, 1000);
    bar.update('embedding', 2, 2);
    bar.finish();
    assert.equal(stream.out, '');
  }
});

test('simulate --repeat 2: a progress line on a terminal, none into a pipe', () => {
  const args = ['simulate', '--scenario', 'demo', '--repeat', '2', '--seconds', '6'];
  const piped = runCliSync([...args, '--out', join(dir, 'piped')], { cwd: dir, timeoutMs: 240_000 });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, `wrote 2 scenes to ${join(dir, 'piped')}\n`);
  assert.ok(!piped.stderr.includes('\r') && !piped.stderr.includes('\x1b'), 'no progress into a pipe');
  assert.doesNotMatch(piped.stderr, /rendered/);

  const tty = runCliOnTerminal([...args, '--out', join(dir, 'tty')], {
    cwd: dir,
    timeoutMs: 240_000,
    env: { COLUMNS: '100' },
  });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(
    tty.stdout,
    new RegExp(`${esc(DRAW)}simulate: rendering scenes \\[-{20}\\] 0/2 0% 0:00${esc(END)}`),
  );
  assert.match(
    tty.stdout,
    new RegExp(
      `${esc(DRAW)}simulate: rendering scenes \\[#{20}\\] 2/2 100% \\d+:\\d\\d \\(demo-1 done\\)${esc(END)}`,
    ),
  );
  assert.ok(tty.stdout.includes(`${CLEAR}wrote 2 scenes to `), 'the line is cleared before the result');
});

test('record: seconds captured on a terminal, nothing into a pipe', () => {
  const config = join(REPO, 'examples/demo.yaml');
  const args = ['record', '--config', config, '--seconds', '2'];
  const piped = runCliSync([...args, '--out', join(dir, 'rec-piped')], { cwd: dir, timeoutMs: 120_000 });
  assert.equal(piped.status, 0, piped.stderr);
  assert.match(piped.stdout, /^mic: .*mic\.wav — \d+ frames, 2\.00 s$/m);
  assert.ok(!piped.stderr.includes('\r') && !piped.stderr.includes('\x1b'), 'no progress into a pipe');

  const tty = runCliOnTerminal([...args, '--out', join(dir, 'rec-tty')], { cwd: dir, timeoutMs: 120_000 });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(
    tty.stdout,
    new RegExp(`${esc(DRAW)}record: capturing 4 sensors; seconds \\[[#-]{20}\\] \\d/2`),
  );
  assert.ok(tty.stdout.includes(`${CLEAR}mic: `), 'the line is cleared before the summary');
});

test('eval-events --json on a terminal: the JSON alone, no progress line', () => {
  const config = localDemoConfig(dir);
  const args = ['eval-events', '-c', config, '-t', join(SAMPLES, 'truth.json')];
  const tty = runCliOnTerminal([...args, '--json'], {
    cwd: dir,
    timeoutMs: 240_000,
    env: { EDGEBIND_DEBUG: '' },
  });
  assert.equal(tty.status, 0, tty.stdout);
  assert.ok(!tty.stdout.includes('\x1b'), 'no escape codes');
  assert.doesNotMatch(tty.stdout, /replaying/);
  const report = JSON.parse(tty.stdout) as { metrics: unknown };
  assert.ok(report.metrics, 'the output is the report');
});
