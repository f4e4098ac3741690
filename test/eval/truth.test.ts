/**
 * Ground-truth files for `eval-events` (issue 17 item 2): the list format and the simulator's own
 * truth.json (what `simulate` writes and samples/ ships) both read; a bad file names every
 * problem at its place.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { readTruth } from '../../src/eval/harness.js';
import { ConfigError } from '../../src/errors.js';
import { REPO, SAMPLES, sampleConfig, tempDir } from '../helpers/agent-config.js';

const dir = tempDir('truth');
const file = (name: string, body: unknown) => {
  const f = join(dir, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body));
  return f;
};

test("the simulator's truth.json (samples/) reads as its incidents in milliseconds", async () => {
  const truth = await readTruth(join(SAMPLES, 'truth.json'));
  assert.equal(truth.length, 4);
  assert.deepEqual(truth[0], { label: 'person_walking', startMs: 3000, endMs: 12000 });
});

test('the list format still reads as it is', async () => {
  const list = [{ label: 'a', startMs: 0, endMs: 1000 }];
  assert.deepEqual(await readTruth(file('list.json', list)), list);
});

test('a bad truth file names every problem at its path', async () => {
  const bad = file('bad.json', {
    events: [
      { label: 'x', startS: 3, endS: 1 },
      { label: 'y', startS: -1, endS: 2 },
    ],
  });
  await assert.rejects(readTruth(bad), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ['events[0]', 'events[1].startS'],
    );
    assert.match(err.message, /events\[0\]: endS must not be before startS/);
    return true;
  });
  await assert.rejects(
    readTruth(file('neither.json', { a: 1 })),
    /must be a list .* or a simulator truth\.json/,
  );
  await assert.rejects(
    readTruth(join(dir, 'missing.json')),
    /missing\.json: cannot read ground truth: file not found/,
  );
});

test('eval-events -t samples/truth.json runs (exit 0) and scores the four incidents', () => {
  const config = join(dir, 'replay.yaml');
  const labels = ['person_walking', 'person_falling', 'alarm_beeping', 'dog_barking'].map((name) => ({
    name,
    prompts: [name.replace('_', ' ')],
  }));
  writeFileSync(config, stringify(sampleConfig({ stateDir: join(dir, 'state'), labels })));
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(REPO, 'src/cli/index.ts'),
      'eval-events',
      '-c',
      config,
      '-t',
      join(SAMPLES, 'truth.json'),
      '--json',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { metrics: { total: { truth: number } } };
  assert.equal(report.metrics.total.truth, 4, 'every incident of samples/truth.json is scored');
});
