/**
 * Training progress (issue 17): train/progress.py draws tqdm bars on stderr only when it is a
 * terminal, clears them when done, and leaves the training log on stdout byte for byte as without
 * them; without tqdm the log is the same and nothing is drawn. Needs /usr/bin/python3 with tqdm
 * (Debian: python3-tqdm). The terminal is a pseudo-terminal from `script` (util-linux).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PYTHON = process.env.EDGEBIND_PYTHON ?? '/usr/bin/python3';
/** Three steps of a bar with a log line each, as train.py's loops do; `hide` blocks tqdm's import. */
const loop = (hide: boolean) =>
  [
    'import sys, time',
    "sys.path.insert(0, 'train')",
    ...(hide ? ["sys.modules['tqdm'] = None"] : []),
    'from progress import bar, say',
    "for step in bar(range(3), 'stage1'):",
    '    time.sleep(0.15)',
    "    say(f'[train] stage1 step {step}')",
    "say('[train] done')",
  ].join('\n');
const LOG = '[train] stage1 step 0\n[train] stage1 step 1\n[train] stage1 step 2\n[train] done\n';

function piped(hide: boolean) {
  return spawnSync(PYTHON, ['-c', loop(hide)], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
}

/** Under a pseudo-terminal: stdout and stderr together, new lines as the terminal writes them. */
function onTerminal(hide: boolean) {
  const command = `'${PYTHON}' -c "${loop(hide)}"`;
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, COLUMNS: '80' },
  });
  assert.equal(r.status, 0, r.stdout);
  return r.stdout;
}

test('into a pipe: the log lines only, with tqdm or without', () => {
  for (const hide of [false, true]) {
    const r = piped(hide);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, LOG);
    assert.equal(r.stderr, '', 'no bar on a stderr that is not a terminal');
  }
});

test('on a terminal: a bar with the phase and its count, cleared before the next line and at the end', () => {
  const out = onTerminal(false);
  assert.match(out, /stage1: +0%.*0\/3/);
  assert.match(out, /stage1: +\d+%.*[12]\/3/);
  // The log lines are whole, each after the bar was wiped (carriage return, blanks, carriage return).
  for (const line of LOG.trimEnd().split('\n'))
    assert.match(out, new RegExp(`\\r +\\r${line.replace(/[[\]]/g, '\\$&')}\\r\\n`));
  assert.doesNotMatch(out.slice(out.indexOf('[train] done')), /stage1/, 'nothing drawn after the end');
});

test('on a terminal without tqdm: training still runs, the same lines and no bar', () => {
  assert.equal(onTerminal(true), LOG.replaceAll('\n', '\r\n'));
});
