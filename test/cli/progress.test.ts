/**
 * Progress lines (issue 17 item 9): drawn on stderr only when it is a terminal, never into a pipe
 * or with --json; one line redrawn in place and cleared at the end. The long commands are run as a
 * user runs them, once under a pseudo-terminal (`script`, util-linux) and once into a pipe.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { progress, type ProgressStream } from '../../src/cli/progress.js';
import { REPO, tempDir } from '../helpers/agent-config.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('progress');
/** What each redraw starts with: carriage return, then ANSI "erase line". */
const REDRAW = '\r\x1b[2K';
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

test('a terminal gets one line redrawn in place, at most every interval, cleared at the end', () => {
  let t = 0;
  const stream = recorder(true);
  const bar = progress('eval', { stream, now: () => t, intervalMs: 100 });
  assert.equal(bar.active, true);
  bar.update('embedding audio windows', 0, 12);
  t = 50;
  bar.update('embedding audio windows', 3, 12); // within the interval: not drawn
  t = 3000;
  bar.update('embedding audio windows', 3, 12);
  t = 3010;
  bar.update('embedding audio windows', 12, 12); // complete: drawn at once
  bar.finish();
  const frames = stream.out.split('\r\x1b[2K');
  assert.equal(frames[0], '');
  assert.deepEqual(frames.slice(1), [
    'eval: embedding audio windows [--------------------] 0/12 0% 0:00',
    'eval: embedding audio windows [#####---------------] 3/12 25% 0:03 (~0:09 left)',
    'eval: embedding audio windows [####################] 12/12 100% 0:03',
    '',
  ]);
  assert.doesNotMatch(stream.out, /\n/, 'never a new line: the command output follows on a clean one');
});

test('the time left is the current phase’s own pace; a count without total has no bar', () => {
  let t = 0;
  const stream = recorder(true);
  const bar = progress('eval', { stream, now: () => t });
  bar.update('reading scenes', 0, 2);
  t = 60_000;
  bar.update('embedding', 1, 4); // a new phase starts its own clock
  t = 70_000;
  bar.update('embedding', 2, 4);
  bar.update('replaying', 7);
  const frames = stream.out.split('\r\x1b[2K').slice(1);
  assert.equal(frames[1], 'eval: embedding [#####---------------] 1/4 25% 1:00');
  assert.equal(frames[2], 'eval: embedding [##########----------] 2/4 50% 1:10 (~0:10 left)');
  assert.equal(frames[3], 'eval: replaying 7 1:10');
});

test('a line longer than the terminal is cut to its width', () => {
  const stream = recorder(true, 30);
  const bar = progress('simulate', { stream, now: () => 0 });
  bar.update('rendered a-very-long-scene-directory-name', 1, 2);
  assert.equal(stream.out.split('\r\x1b[2K')[1]!.length, 29);
});

test('no terminal, or --json: nothing is written', () => {
  for (const [stream, enabled] of [
    [recorder(false), true],
    [recorder(true), false],
  ] as const) {
    const bar = progress('eval', { stream, enabled, now: () => 0 });
    assert.equal(bar.active, false);
    bar.update('embedding', 1, 2);
    bar.update('embedding', 2, 2);
    bar.finish();
    assert.equal(stream.out, '');
  }
});

test('simulate --repeat 2: a progress line on a terminal, none into a pipe', () => {
  const args = ['simulate', '--scenario', 'demo', '--repeat', '2', '--seconds', '6'];
  const piped = spawnSync(process.execPath, ['--import', TSX, CLI, ...args, '--out', join(dir, 'piped')], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(piped.status, 0, piped.stderr);
  assert.equal(piped.stdout, `wrote 2 scenes to ${join(dir, 'piped')}\n`);
  assert.ok(!piped.stderr.includes('\r') && !piped.stderr.includes('\x1b'), 'no progress into a pipe');
  assert.doesNotMatch(piped.stderr, /rendered/);

  // `script` gives the command a pseudo-terminal, as a user's shell would.
  const command = [process.execPath, '--import', TSX, CLI, ...args, '--out', join(dir, 'tty')]
    .map((a) => `'${a}'`)
    .join(' ');
  const tty = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, COLUMNS: '100' },
  });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(tty.stdout, new RegExp(`${esc(REDRAW)}simulate: rendering \\[-{20}\\] 0/2 0%`));
  assert.match(tty.stdout, new RegExp(`${esc(REDRAW)}simulate: rendered demo-1 \\[#{20}\\] 2/2 100%`));
  assert.ok(tty.stdout.includes(`${REDRAW}wrote 2 scenes to `), 'the line is cleared before the result');
});

test('record: seconds captured on a terminal, nothing into a pipe', () => {
  const config = join(REPO, 'examples/demo.yaml');
  const args = ['record', '--config', config, '--seconds', '2'];
  const piped = spawnSync(
    process.execPath,
    ['--import', TSX, CLI, ...args, '--out', join(dir, 'rec-piped')],
    {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  assert.equal(piped.status, 0, piped.stderr);
  assert.match(piped.stdout, /^mic: .*mic\.wav — \d+ frames, 2\.00 s$/m);
  assert.ok(!piped.stderr.includes('\r') && !piped.stderr.includes('\x1b'), 'no progress into a pipe');

  const command = [process.execPath, '--import', TSX, CLI, ...args, '--out', join(dir, 'rec-tty')]
    .map((a) => `'${a}'`)
    .join(' ');
  const tty = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(tty.status, 0, tty.stdout);
  assert.match(
    tty.stdout,
    new RegExp(`${esc(REDRAW)}record: capturing 4 sensors; seconds \\[[#-]{20}\\] \\d/2`),
  );
  assert.ok(tty.stdout.includes(`${REDRAW}mic: `), 'the line is cleared before the summary');
});
