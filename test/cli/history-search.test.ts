/**
 * `edgebind history search` (issue #18) against a running agent's state directory: the agent
 * (a looping real-time mic replay with the test pack) writes its history while the CLI reads it;
 * text and example queries print moments, the agent goes on writing, and bad usage exits 2 with
 * what is wrong. The CLI takes no lock and writes nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Agent } from '../../src/agent-types.js';
import { parseSince } from '../../src/cli/since.js';
import { REPO, SAMPLES, tempDir } from '../helpers/agent-config.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { startLoopingAgent, until } from '../helpers/looping-agent.js';

const dir = tempDir('history-cli');
const STATE = join(dir, 'state');
let agent: Agent;
let historyDir: string;

type Run = CliRun;

const edgebind = (args: string[]): Promise<Run> => runCli(args, { cwd: dir });

before(async () => {
  ({ agent, historyDir } = await startLoopingAgent(dir, {
    deviceId: 'hist-cli',
    stateDir: STATE,
    mqtt: { broker: 'embedded', embeddedPort: await freePort(), healthIntervalS: 0 },
  }));
  await until('10 windows written', () => (agent.stats().history?.written ?? 0) >= 10);
});
after(async () => {
  await agent.stop();
});

test('a text search while the agent writes: moments as JSON, the agent goes on', async () => {
  const before = agent.stats().history!.written;
  const r = await edgebind([
    'history',
    'search',
    '--text',
    'an alarm beeping',
    '--since',
    '1h',
    '--top',
    '3',
    '--json',
    '--state-dir',
    STATE,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    moments: {
      start: string;
      end: string;
      score: number;
      sensors: string[];
      modalities: string[];
      windows: number;
    }[];
    stats: { windows: number; segments: number };
    pack: { id: string };
  };
  assert.equal(out.pack.id, 'edgebind-test');
  assert.ok(out.stats.windows >= before, `${out.stats.windows} windows searched, ${before} were written`);
  assert.ok(out.moments.length >= 1 && out.moments.length <= 3);
  for (const m of out.moments) {
    assert.deepEqual(m.sensors, ['mic']);
    assert.deepEqual(m.modalities, ['audio']);
    assert.ok(Date.parse(m.end) > Date.parse(m.start));
    assert.ok(m.score >= -1 && m.score <= 1);
  }
  for (let k = 1; k < out.moments.length; k++) assert.ok(out.moments[k - 1]!.score >= out.moments[k]!.score);
  // Read-only: no lock, no new file from the CLI; the agent has written on meanwhile.
  assert.ok(readdirSync(historyDir).every((n) => n.endsWith('.ebh')));
  await until('the agent writing on', () => agent.stats().history!.written > out.stats.windows);
  assert.equal(agent.stats().history!.state, 'ok');
});

test('an example recording finds the windows it was replayed as, in lines', async () => {
  const r = await edgebind([
    'history',
    'search',
    '--example',
    join(SAMPLES, 'room-audio.wav'),
    '--modality',
    'audio',
    '--top',
    '2',
    '--state-dir',
    STATE,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.length >= 1 && lines.length <= 2, r.stdout);
  assert.match(
    lines[0]!,
    /^ 1\. \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ → .* score (0\.\d{3}|1\.000)( \(z -?\d+\.\d\))? {2}mic \[audio\] {2}\d+ windows, best mic at /,
  );
  assert.match(r.stderr, /\d+ windows in \d+ segments searched in \d+ ms/);
});

test('bad usage exits 2 saying what is wrong; no history exits 1 naming the directory', async () => {
  const neither = await edgebind(['history', 'search', '--state-dir', STATE]);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /give one of --text, --example or --event/);
  const since = await edgebind([
    'history',
    'search',
    '--text',
    'x',
    '--since',
    'yesterday',
    '--state-dir',
    STATE,
  ]);
  assert.equal(since.code, 2);
  assert.match(
    since.stderr,
    /expected a duration such as 24h, 30m, 90s, 2d or an ISO 8601 time, got "yesterday"/,
  );
  const ebf = await edgebind(['history', 'search', '--example', 'x.ebf', '--state-dir', STATE]);
  assert.equal(ebf.code, 2);
  assert.match(ebf.stderr, /--example x\.ebf: give --example-modality/);
  // Another pack's embeddings live in another space: refused, naming both.
  const other = await edgebind([
    ...['history', 'search', '--text', 'x', '--pack', join(REPO, 'models/mini')],
    ...['--state-dir', STATE],
  ]);
  assert.equal(other.code, 2);
  assert.match(
    other.stderr,
    /the history was written with pack edgebind-test \S+, .*models\/mini is edgebind-mini \S+: its embeddings are not comparable/,
  );
  const empty = join(dir, 'empty');
  const none = await edgebind(['history', 'search', '--text', 'x', '--state-dir', empty]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no history in .*empty \(no devices\/<id>\/history\)/);
  assert.doesNotMatch(none.stderr, /^\s+at /m);
});

test('--since takes durations and ISO times', () => {
  const now = Date.UTC(2026, 11, 6, 12);
  assert.equal(parseSince('24h', now), now - 86_400_000);
  assert.equal(parseSince('90s', now), now - 90_000);
  assert.equal(parseSince('2026-12-05T22:00:00Z', now), Date.UTC(2026, 11, 5, 22));
  assert.throws(() => parseSince('-3h', now), /expected a duration/);
});
