/**
 * The agent as a user runs it (`edgebind run`), killed with SIGKILL mid-stream while the broker is
 * down, then started again: every event it had produced before the kill reaches a subscriber,
 * with its original seq, and seqs continue after the restart without reuse.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { REPO, labelsHeardBy, sampleConfig, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const TSX = import.meta.resolve('tsx');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const brokers: Mosquitto[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const b of brokers) await b.close();
});

/** Starts `edgebind run`; `queued` collects the seq of every event the agent logged as queued. */
function runAgent(config: string, queued: number[]): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', TSX, join(REPO, 'src/cli/index.ts'), 'run', '--config', config],
    {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  createInterface({ input: child.stderr }).on('line', (line) => {
    const m = /"seq":(\d+).*mqtt: event \d+ queued/.exec(line);
    if (m) queued.push(Number(m[1]));
  });
  return child;
}

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('kill -9 of the agent mid-stream: no event produced before the kill is lost', async () => {
  const port = await freePort();
  const broker = await startMosquitto({ port, persistence: true });
  brokers.push(broker);
  const dir = tempDir('agent-kill');
  const file = join(dir, 'agent.yaml');
  const cfg = sampleConfig({
    stateDir: join(dir, 'state'),
    deviceId: 'killed',
    mqtt: { broker: broker.url, reconnectMinMs: 100, reconnectMaxMs: 1000, healthIntervalS: 0 },
    log: { level: 'debug' },
  });
  cfg.sensors = [
    {
      id: 'mic',
      modality: 'audio',
      file: join(SAMPLES, 'room-audio.wav'),
      driver: 'replay',
      speed: 0,
      loop: true,
    },
  ];
  cfg.labels = labelsHeardBy(cfg);
  writeFileSync(file, toYaml(cfg));
  const sub = await startCollector({
    url: broker.url,
    filter: 'edgebind/killed/events',
    clientId: 'killed-sub',
    clean: false,
    reconnectPeriodMs: 100,
  });
  const seqs = () => new Set(sub.messages.map((m) => (m.json as { seq: number }).seq));

  const first: number[] = [];
  const second: number[] = [];
  try {
    const a = runAgent(file, first);
    await until('events to flow', () => seqs().size >= 3);
    await broker.stop(); // what follows piles up in the agent's outbox
    const atStop = first.length;
    await until('events while the broker is down', () => first.length >= atStop + 3);
    a.kill('SIGKILL');
    await once(a, 'exit');

    const pending = first.filter((x) => !seqs().has(x));
    assert.ok(pending.length >= 3, `the kill left undelivered events in the outbox (${pending.length})`);
    await broker.start();
    const b = runAgent(file, second);
    await until('every event of the killed run', () => first.every((s) => seqs().has(s)), 45_000);
    await until('events of the second run', () => second.length >= 1);
    b.kill('SIGTERM');
    await once(b, 'exit');
  } finally {
    await sub.close();
  }
  const ids = new Map<number, string>();
  for (const m of sub.messages) {
    const ev = m.json as { seq: number; id: string; type: string };
    const key = `${ev.id}/${ev.type}`;
    const seen = ids.get(ev.seq);
    if (seen !== undefined) assert.equal(key, seen, `seq ${ev.seq} always names the same message`);
    ids.set(ev.seq, key);
  }
  const lost = first.filter((s) => !ids.has(s));
  assert.deepEqual(lost, [], 'nothing produced before the kill is lost');
  const max1 = Math.max(...first);
  assert.ok(Math.min(...second) > max1, `seqs continue after the restart (${Math.min(...second)} > ${max1})`);
  const all = [...ids.keys()].sort((x, y) => x - y);
  assert.equal(all[0], 1);
  assert.equal(all.at(-1)! - all[0] + 1, all.length, 'no gap in seq');
});
