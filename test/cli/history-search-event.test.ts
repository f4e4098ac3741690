/**
 * `edgebind history search --event ID` (issue #18) against a running agent: a label that matches
 * every window makes events that end after 3 s; the CLI finds one in the agent's outbox log and
 * searches with its fused embedding (events.includeEmbedding), leaving its own span out; the same
 * event's windows in the history make a query too (history/event.ts); an id the outbox no longer
 * holds exits 1 saying why.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Agent } from '../../src/agent-types.js';
import { eventQuery } from '../../src/history/event.js';
import { listSegments, readSegmentHeader } from '../../src/history/reader.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { tempDir } from '../helpers/agent-config.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { startLoopingAgent, until } from '../helpers/looping-agent.js';

const dir = tempDir('history-event');
const STATE = join(dir, 'state');
let agent: Agent;
let historyDir: string;
const ended: EventPayload[] = [];

before(async () => {
  ({ agent, historyDir } = await startLoopingAgent(dir, {
    deviceId: 'hist-event',
    stateDir: STATE,
    mqtt: { broker: 'embedded', embeddedPort: await freePort(), healthIntervalS: 0 },
    config: {
      labels: [{ name: 'anything', prompts: ['an alarm beeping'], threshold: 0 }],
      events: { maxDurationMs: 3000, cooldownMs: 0, includeEmbedding: true },
    },
    onEvent: (ev) => {
      if (ev.type === 'end') ended.push(ev);
    },
  }));
  // The first event's windows are on disk once the history has written well past its end.
  await until('an event ended', () => ended.length >= 1);
  const written = agent.stats().history!.written;
  await until('its windows written', () => agent.stats().history!.written >= written + 6);
});
after(async () => {
  await agent.stop();
});

test('--event searches with the event embedding and leaves its own span out', async () => {
  const ev = ended[0]!;
  assert.ok(ev.embedding, 'events.includeEmbedding puts the fused embedding in the event');
  const r = await runCli(
    ['history', 'search', '--event', ev.id, '--top', '5', '--json', '--state-dir', STATE],
    { cwd: dir },
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    query: { event: string; from: string; windows: number; span: string };
    moments: { start: string; end: string; score: number }[];
    stats: { windows: number };
  };
  assert.equal(out.query.event, ev.id);
  assert.equal(out.query.from, 'embedding');
  assert.equal(out.query.span, `${ev.startTime} → ${ev.endTime}`);
  assert.ok(out.stats.windows > 0);
  const [s, e] = [Date.parse(ev.startTime), Date.parse(ev.endTime!)];
  for (const m of out.moments)
    assert.ok(
      Date.parse(m.end) <= s || Date.parse(m.start) >= e,
      `moment ${m.start} → ${m.end} overlaps the event`,
    );
});

test("without an embedding, the event's windows in the history are the query", () => {
  const ev = ended[0]!;
  const header = readSegmentHeader(listSegments(historyDir).at(-1)!.path);
  if (typeof header === 'string') throw new Error(header);
  const q = eventQuery(historyDir, { ...ev, embedding: undefined }, { ...ev.pack, dim: header.dim });
  assert.equal(q.from, 'windows');
  // A 3 s event of 2 s windows every 0.5 s: the windows that lie wholly within it.
  assert.ok(q.windows >= 1 && q.windows <= ev.windows, `${q.windows} windows of ${ev.windows}`);
  assert.equal(q.vector.length, header.dim);
  assert.ok(Math.abs(Math.hypot(...q.vector) - 1) < 1e-5);
  assert.throws(
    () =>
      eventQuery(
        historyDir,
        { ...ev, embedding: undefined, pack: { id: 'other', version: '9' } },
        { ...ev.pack, dim: header.dim },
      ),
    /detected with pack other 9, the history holds edgebind-test/,
  );
});

test('an event the outbox no longer holds exits 1 saying the agent keeps recent events only', async () => {
  const r = await runCli(
    ['history', 'search', '--event', '019ac1f2-6a4e-7c1d-9a53-2f0c4b7f1e20', '--state-dir', STATE],
    { cwd: dir },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /event 019ac1f2-6a4e-7c1d-9a53-2f0c4b7f1e20 is not in .*outbox\/events\.log: the agent keeps an event only until/,
  );
  const both = await runCli(['history', 'search', '--text', 'x', '--event', 'y', '--state-dir', STATE], {
    cwd: dir,
  });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /give one of --text, --example or --event/);
});
