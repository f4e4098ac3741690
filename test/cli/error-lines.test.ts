/**
 * Bad input files as a user meets them (issue 17 item 4): a real `edgebind` process prints one
 * line naming the file and what is wrong with it, never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';

const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const dir = tempDir('error-lines');

function edgebind(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, EDGEBIND_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exactly one line on stderr, starting `edgebind: `, and no stack frame. */
function oneLine(stderr: string): string {
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  const lines = stderr.split('\n').filter((l) => l.length > 0 && !l.startsWith('npm warn'));
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /^edgebind: /);
  return lines[0]!;
}

test('features audio on an .ebf file: one line, the file is not a WAV; exit 1', () => {
  const r = edgebind('features', 'audio', join(SAMPLES, 'room-thermal.ebf'), '-o', join(dir, 'x.f32'));
  assert.equal(r.code, 1);
  assert.match(oneLine(r.stderr), /room-thermal\.ebf: not a RIFF\/WAVE file/);
});

test('tokenize --vocab missing or not a vocabulary: one line naming the file; exit 2 (a bad pack file)', () => {
  const missing = edgebind('tokenize', '--vocab', '/nonexist.gz', 'hi');
  assert.equal(missing.code, 2);
  assert.equal(oneLine(missing.stderr), 'edgebind: tokenizer vocabulary not found: /nonexist.gz');
  const readme = edgebind('tokenize', '--vocab', join(REPO, 'README.md'), 'hi');
  assert.equal(readme.code, 2);
  assert.match(oneLine(readme.stderr), /README\.md is not gzip UTF-8 text$/);
});

test('tokenize --help says where a vocabulary comes from', () => {
  const r = edgebind('tokenize', '--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout.replace(/\s+/g, ' '), /inside an exported ImageBind pack, or CLIP's/);
  assert.match(r.stdout.replace(/\s+/g, ' '), /edgebind ships none/);
});
