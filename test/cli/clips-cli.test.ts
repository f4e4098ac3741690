/**
 * `edgebind clips list` and `clips export` (issue #18) on the clips a real agent wrote (bundled
 * recordings, test pack): the list names every event's clip, newest first, with its files;
 * export copies them and never overwrites; bad ids, unknown events and a state directory without
 * clips exit with what is wrong.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { ClipInfo } from '../../src/clips/store.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const dir = tempDir('clips-cli');
const STATE = join(dir, 'state');
const events: EventPayload[] = [];

const edgebind = (args: string[]): Promise<CliRun> => runCli(args, { cwd: dir });

before(async () => {
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    toYaml(
      sampleConfig({
        stateDir: STATE,
        deviceId: 'clips-cli',
        mqtt: { broker: 'embedded', embeddedPort: await freePort(), healthIntervalS: 0 },
        history: { enabled: false },
      }),
    ),
  );
  const agent = await startAgent({
    config: await loadConfig(file),
    logger: createLogger({ level: 'silent', format: 'json' }),
    deterministic: true,
    onEvent: (e) => events.push(e),
  });
  await agent.done;
  await agent.stop();
});

test('clips list: every event, newest first, as text and as JSON', async () => {
  const ids = [...new Set(events.map((e) => e.id))];
  assert.ok(ids.length >= 2, `${ids.length} events`);
  const json = await edgebind(['clips', 'list', '--json', '--state-dir', STATE]);
  assert.equal(json.code, 0, json.stderr);
  const clips = JSON.parse(json.stdout) as ClipInfo[];
  assert.deepEqual(clips.map((c) => c.eventId).sort(), [...ids].sort());
  const starts = clips.map((c) => Date.parse(c.start));
  assert.deepEqual(
    starts,
    [...starts].sort((a, b) => b - a),
    'newest first',
  );

  const text = await edgebind(['clips', 'list', '--state-dir', STATE]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.equal(lines.length, clips.length);
  for (const [i, c] of clips.entries()) {
    assert.ok(lines[i]!.includes(c.eventId), lines[i]);
    assert.ok(lines[i]!.includes(c.label), lines[i]);
    assert.match(lines[i]!, /mic\.wav .*imu\.csv|imu\.csv .*mic\.wav/);
  }

  const label = clips[0]!.label;
  const one = await edgebind([
    'clips',
    'list',
    '--json',
    '--label',
    label,
    '--limit',
    '1',
    '--state-dir',
    STATE,
  ]);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual(
    (JSON.parse(one.stdout) as ClipInfo[]).map((c) => c.eventId),
    [clips.find((c) => c.label === label)!.eventId],
  );
  // An hour from now: no event started since then.
  const none = await edgebind([
    'clips',
    'list',
    '--since',
    new Date(Date.now() + 3_600_000).toISOString(),
    '--state-dir',
    STATE,
  ]);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /^no clips in .*clips\n$/);
});

test('clips export copies the files of one clip and never overwrites', async () => {
  const id = events.find((e) => e.type === 'end')!.id;
  const out = join(dir, 'out');
  const r = await edgebind(['clips', 'export', id, '--out', out, '--state-dir', STATE]);
  assert.equal(r.code, 0, r.stderr);
  const copied = readdirSync(join(out, id)).sort();
  assert.ok(copied.includes('event.json') && copied.includes('mic.wav'), copied.join(' '));
  assert.equal(r.stdout.trim().split('\n').length, copied.length);
  const event = JSON.parse(readFileSync(join(out, id, 'event.json'), 'utf8')) as { end?: { id: string } };
  assert.equal(event.end?.id, id);

  const again = await edgebind(['clips', 'export', id, '--out', out, '--state-dir', STATE]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /event\.json exists: not overwritten; remove it or choose another --out/);
});

test('clips: unknown event, bad id and a state directory without clips are refused clearly', async () => {
  const unknown = await edgebind([
    'clips',
    'export',
    'no-such-event',
    '--out',
    join(dir, 'x'),
    '--state-dir',
    STATE,
  ]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no clip for event no-such-event in .*clips-cli/);

  const traversal = await edgebind([
    'clips',
    'export',
    '../x',
    '--out',
    join(dir, 'x'),
    '--state-dir',
    STATE,
  ]);
  assert.equal(traversal.code, 2, 'a bad id is bad usage');
  assert.match(traversal.stderr, /event id "\.\.\/x" is not a plain name/);

  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const nothing = await edgebind(['clips', 'list', '--state-dir', empty]);
  assert.notEqual(nothing.code, 0);
  assert.match(nothing.stderr, /no clips in .*--state-dir/);

  const limit = await edgebind(['clips', 'list', '--limit', '0', '--state-dir', STATE]);
  assert.equal(limit.code, 2);
  assert.match(limit.stderr, /--limit.*expected 1 to 100000, got "0"/);
});
