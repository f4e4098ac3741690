/**
 * Usage errors as a user meets them (issue 17 item 12): a real `edgebind` process, exit status 2
 * (commander's usage status, program.ts), one line naming the option and what it takes, no raw
 * errno text; and `eval --pack test` accepted as every other command accepts it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('usage-errors');
const WAV = join(SAMPLES, 'room-audio.wav');

function edgebind(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), EDGEBIND_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('simulate --scenario dragon: exit 2, the option, the value and the scenarios there are', () => {
  const r = edgebind('simulate', '--scenario', 'dragon', '--out', join(dir, 'sim'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--scenario <name>' argument 'dragon' is invalid/);
  assert.match(r.stderr, /all, demo, random, person_walking/);
});

test('classify --labels ",,": exit 2 naming --labels', () => {
  const r = edgebind('classify', '--pack', 'test', '-m', 'audio', '--labels', ',,', WAV);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--labels <list>' argument ',,' is invalid\. expected comma-separated labels/);
});

test('classify --top 0: exit 2, asks for a whole number, not milliseconds', () => {
  const r = edgebind('classify', '--pack', 'test', '-m', 'audio', '--labels', 'a,b', '--top', '0', WAV);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--top <k>' argument '0' is invalid\. expected a whole number ≥ 1/);
  assert.doesNotMatch(r.stderr, /milliseconds/);
  const t = edgebind('classify', '--pack', 'test', '-m', 'audio', '--labels', 'a', '--temperature', '0', WAV);
  assert.equal(t.code, 2, t.stderr);
  assert.match(t.stderr, /--temperature <t>' argument '0' is invalid\. expected a number > 0/);
});

test('a usage check made after parsing (--whole with --window-ms) exits 2 too', () => {
  const r = edgebind(
    'classify',
    '--pack',
    'test',
    '-m',
    'audio',
    '--labels',
    'a',
    '--whole',
    '--window-ms',
    '500',
    WAV,
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /^edgebind: --whole .* cannot be combined with --window-ms .*\(run with --help for usage\)$/m,
  );
});

test('eval --data /nonexist: exit 2, one line naming the path, no ENOENT', () => {
  const r = edgebind('eval', '--pack', 'test', '--data', '/nonexist');
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr, 'edgebind: /nonexist: no such directory\n');
  const empty = edgebind('eval', '--pack', 'test', '--data', dir);
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(empty.stderr, /no simulated scenes \(truth\.json\) found; write some with `edgebind simulate/);
});

test('eval --pack test runs on the random-weight test pack, as the other commands do', () => {
  const r = edgebind('eval', '--pack', 'test', '--data', SAMPLES, '--no-events', '--json');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { pack: { id: string }; scenes: number; packBytes: number };
  assert.equal(out.pack.id, 'edgebind-test');
  assert.equal(out.scenes, 1);
  assert.ok(out.packBytes > 0, 'the generated pack is measured');
});

test('run --mqtt-url with a bad URL: exit 2 blaming the flag, not examples/replay.yaml (item 6)', () => {
  const r = edgebind('run', '--config', join(REPO, 'examples/replay.yaml'), '--mqtt-url', 'htp:/bad url');
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    'edgebind: invalid option\n  --mqtt-url "htp:/bad url": must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// URL\n',
  );
});
