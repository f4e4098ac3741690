/**
 * `edgebind history replay` (retroactive labels, issue #18) over the history a real agent wrote:
 * the example replay (examples/replay.yaml, the mini pack, every sensor as fast as it reads) runs
 * to its end; replaying the config's labels over its history gives the events the live agent
 * published, at the same times; a label matching nothing fires nothing; bad usage is named.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { REPO, tempDir } from '../helpers/agent-config.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const dir = tempDir('history-replay');
const CONFIG = join(dir, 'agent.yaml');
const live: EventPayload[] = [];

interface ReplayJson {
  labels: {
    name: string;
    events: { start: string; end: string; peakScore: number; endReason: string; sensors: string[] }[];
    windows: number;
    maxScore: number;
  }[];
}

const edgebind = (args: string[]) => runCli(['history', 'replay', ...args], { cwd: dir });

before(async () => {
  const cfg = parse(readFileSync(join(REPO, 'examples/replay.yaml'), 'utf8')) as Record<string, unknown>;
  cfg.encoders = { pack: join(REPO, 'models/mini') };
  cfg.sensors = (cfg.sensors as { file: string }[]).map((s) => ({
    ...s,
    file: join(REPO, 'examples', s.file),
    speed: 0,
    loop: false,
  }));
  cfg.stateDir = join(dir, 'state');
  cfg.deviceId = 'replay-1';
  cfg.mqtt = { broker: 'embedded', embeddedPort: await freePort(), healthIntervalS: 0 };
  cfg.log = { level: 'silent' };
  writeFileSync(CONFIG, stringify(cfg));
  const agent = await startAgent({
    config: await loadConfig(CONFIG),
    logger: createLogger({ level: 'silent', format: 'json' }),
    onEvent: (e) => live.push(e),
    deterministic: true,
  });
  await agent.done;
  await agent.stop();
});

test("replaying the config's labels gives the live agent's events, at its times", async () => {
  const ended = live.filter((e) => e.type === 'end');
  assert.ok(ended.length >= 2, `the live agent made ${ended.length} events`);
  const r = await edgebind(['--config', CONFIG, '--since', '2d', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ReplayJson;
  for (const e of ended) {
    const label = out.labels.find((l) => l.name === e.label);
    assert.ok(label, `${e.label} replayed`);
    const near = (a: string, b: string) => Math.abs(Date.parse(a) - Date.parse(b)) <= 1000;
    const match = label.events.find((x) => near(x.start, e.startTime) && near(x.end, e.endTime!));
    assert.ok(match, `${e.label} ${e.startTime}→${e.endTime} replayed: ${JSON.stringify(label.events)}`);
    assert.ok(Math.abs(match.peakScore - e.peakScore) <= 0.05, `${e.label} peak`);
    assert.deepEqual([...match.sensors].sort(), [...e.sensors].sort());
  }
});

test('a label that matches nothing fires nothing; human output names it', async () => {
  const labels = join(dir, 'glass.yaml');
  writeFileSync(
    labels,
    stringify([{ name: 'glass', prompts: ['glass breaking'], modalities: ['audio'], threshold: 0.9 }]),
  );
  const r = await edgebind(['--labels', labels, '--config', CONFIG, '--since', '2d']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /no label would have fired/);
  assert.match(r.stdout, /^glass +0 events/m);
  assert.match(r.stderr, /int8 embeddings/); // the summary goes to stderr, like the scan figures
});

test('bad usage, a history disabled or absent: exits non-zero naming what is wrong', async () => {
  const bad = await edgebind(['--config', CONFIG, '--since', 'yesterday']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /since/i);
  const sensor = await edgebind(['--config', CONFIG, '--since', '2d', '--sensor', 'nope']);
  assert.notEqual(sensor.code, 0);
  assert.match(sensor.stderr, /nope/);
  const off = join(dir, 'off.yaml');
  writeFileSync(
    off,
    stringify({ ...(parse(readFileSync(CONFIG, 'utf8')) as object), history: { enabled: false } }),
  );
  const disabled = await edgebind(['--config', off, '--since', '1h']);
  assert.notEqual(disabled.code, 0);
  assert.match(disabled.stderr, /history\.enabled is false/);
  const empty = await edgebind(['--label', 'a', '--since', '1h', '--state-dir', join(dir, 'none')]);
  assert.notEqual(empty.code, 0);
  assert.match(empty.stderr, /no history in/);
});

test('--modality narrows --label to the sensors that can observe it; a label that matched but made no event gets a hint', async () => {
  const audio = await edgebind([
    ...['--label', 'alarm', '--prompt', 'an alarm beeping', '--modality', 'audio'],
    ...['--config', CONFIG, '--since', '2d', '--json'],
  ]);
  assert.equal(audio.code, 0, audio.stderr);
  const alarm = (JSON.parse(audio.stdout) as ReplayJson).labels.find((l) => l.name === 'alarm')!;
  assert.ok(alarm.events.length >= 1, 'an audio-only alarm label fires on the alarm');
  for (const e of alarm.events) assert.deepEqual(e.sensors, ['mic']);
  // Windows at the threshold that never make an event (here: events.minWindows longer than any
  // incident) are explained, not left as a bare "0 events".
  const strict = join(dir, 'strict.yaml');
  const cfg = parse(readFileSync(CONFIG, 'utf8')) as { events: object };
  writeFileSync(strict, stringify({ ...cfg, events: { ...cfg.events, minWindows: 50 } }));
  const none = await edgebind(['--config', strict, '--since', '2d']);
  assert.equal(none.code, 0, none.stderr);
  assert.match(none.stdout, /no label would have fired/);
  assert.match(
    none.stderr,
    /hint: alarm_beeping: \d+ windows reached its threshold but no event formed.*events\.minWindows.*--modality/,
  );
  const alone = await edgebind(['--config', CONFIG, '--since', '2d', '--modality', 'audio']);
  assert.notEqual(alone.code, 0);
  assert.match(alone.stderr, /--modality go with --label/);
  const bad = await edgebind([
    '--label',
    'alarm',
    '--modality',
    'sound',
    '--config',
    CONFIG,
    '--since',
    '2d',
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /sound/);
});
