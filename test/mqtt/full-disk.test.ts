/**
 * A full state disk (issue #14 item 1), as it was reproduced: `edgebind run` with its stateDir on
 * a 256 KiB tmpfs and the broker (a real Mosquitto) down. The outbox fills the disk; the agent
 * says so and keeps running; stopped and started again with the disk still full (as systemd
 * does) it starts, leaves no temp files, and once the broker is back every event the outbox kept
 * reaches a subscriber, seqs are never reused, and health comes back to `ok`.
 *
 * Where this machine cannot mount a tmpfs, the same story runs on the publisher and outbox with
 * ENOSPC injected through the outbox's file layer, against the same real Mosquitto.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { LOCK_FILE } from '../../src/daemon/state-lock.js';
import { ensureTestPack } from '../../src/encoders/registry.js';
import { DurableOutbox } from '../../src/mqtt/outbox.js';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { REPO, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { FaultyFiles } from '../helpers/faulty-files.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector, type MqttCollector } from '../helpers/mqtt-collector.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

const TSX = import.meta.resolve('tsx');
const dir = tempDir('full-disk');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
let broker: Mosquitto;
let disk: Tmpfs | undefined;

before(async () => {
  broker = await startMosquitto({ persistence: true });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  disk?.unmount();
  await broker?.close();
});

// Only a give-up bound: each wait ends when its condition holds. Agent starts under whole-suite
// load took over a minute (issue #24).
const GIVE_UP_MS = 180_000;

async function until(
  what: string,
  ok: () => boolean,
  timeoutMs = GIVE_UP_MS,
  detail = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await sleep(20);
  }
}

interface Agent {
  child: ChildProcess;
  /** Seq of every event the agent logged as queued. */
  queued: number[];
  lines: string[];
  exited: Promise<number | NodeJS.Signals | null>;
  alive(): boolean;
}

function runAgent(config: string): Agent {
  const child = spawn(
    process.execPath,
    ['--import', TSX, join(REPO, 'src/cli/index.ts'), 'run', '--config', config],
    {
      cwd: dir,
      env: { ...process.env, EDGEBIND_DEBUG: '', NOTIFY_SOCKET: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  const queued: number[] = [];
  const lines: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    const m = /"seq":(\d+).*mqtt: event \d+ queued/.exec(line);
    if (m) queued.push(Number(m[1]));
    else lines.push(line);
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal)),
  );
  return { child, queued, lines, exited, alive: () => child.exitCode === null && child.signalCode === null };
}

const msg = (a: Agent, re: RegExp) => a.lines.find((l) => re.test(l));

/** Delivered events by seq; a seq delivered twice must be the same message. */
function bySeq(sub: MqttCollector, topic: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of sub.messages) {
    if (m.topic !== topic) continue;
    const seq = (m.json as { seq: number }).seq;
    const seen = out.get(seq);
    if (seen !== undefined) assert.equal(m.text, seen, `seq ${seq} always names the same message`);
    out.set(seq, m.text);
  }
  return out;
}

test('state disk full with the broker down: no crash, restart with the disk still full, every kept event delivered', async (t) => {
  const state = join(dir, 'state');
  const mounted = mountTmpfs(state, 256 * 1024);
  if ('refused' in mounted) {
    t.diagnostic(`no tmpfs (${mounted.refused}): injecting ENOSPC through the outbox's file layer`);
    return injectedFullDisk();
  }
  disk = mounted;
  const pack = join(dir, 'pack');
  await ensureTestPack(pack);
  const topics = deviceTopics('edgebind', 'full-disk');
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    toYaml({
      deviceId: 'full-disk',
      stateDir: state,
      mqtt: { broker: broker.url, reconnectMinMs: 100, reconnectMaxMs: 1000, healthIntervalS: 1 },
      encoders: { pack },
      sensors: [
        {
          id: 'mic',
          driver: 'replay',
          modality: 'audio',
          file: join(SAMPLES, 'room-audio.wav'),
          speed: 0,
          loop: true,
        },
      ],
      // Always over threshold, an update per window: a steady stream of events.
      labels: [{ name: 'anything', prompts: ['a sound'], threshold: 0 }],
      events: { minWindows: 1, endWindows: 1, updateIntervalMs: 1 },
      log: { level: 'debug' },
    }),
  );
  const sub = await startCollector({
    url: broker.url,
    filter: [topics.events, topics.health],
    clientId: 'full-disk-sub',
    clean: false,
    reconnectPeriodMs: 100,
  });
  try {
    await broker.stop();

    // 1. The outbox fills the disk: a warning naming ENOSPC, and the agent goes on.
    const a = runAgent(file);
    await until(
      'the full-disk warning',
      () => msg(a, /outbox: cannot append to the log.*ENOSPC/) !== undefined || !a.alive(),
      120_000,
      () => a.lines.slice(-20).join('\n'),
    );
    assert.ok(a.alive(), `the agent runs on with a full disk:\n${a.lines.slice(-20).join('\n')}`);
    assert.match(msg(a, /outbox: cannot append/)!, /events are kept in memory/);
    const atFull = a.queued.length;
    await until('events after the disk filled', () => a.queued.length >= atFull + 20 || !a.alive());
    assert.ok(a.alive(), 'still running, still queueing');
    assert.ok(disk.free() < 8192, `the disk is full (${disk.free()} bytes free)`);

    // 2. Stopped as systemd would: exit 0, and it says how many held events it could not keep.
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.lines.slice(-20).join('\n'));
    const lostLine = msg(a, /could not be written to the full state disk and are lost/);
    const lost = lostLine ? Number((JSON.parse(lostLine) as { lost: number }).lost) : 0;
    // Held records are always the newest: everything before them is in the log.
    const kept = [...a.queued].sort((x, y) => x - y).slice(0, a.queued.length - lost);
    assert.ok(kept.length > 50, `events kept on the disk (${kept.length})`);
    t.diagnostic(
      `first run: ${a.queued.length} events queued, ${kept.length} kept on disk, ${lost} held in memory lost`,
    );

    // 3. Started on the full disk and killed -9 there (an OOM kill): its lock stays behind.
    const k = runAgent(file);
    await until(
      'the killed run to queue events',
      () => k.queued.length >= 20 || !k.alive(),
      GIVE_UP_MS,
      () => k.lines.slice(-20).join('\n'),
    );
    assert.ok(k.alive(), 'it runs on the full disk');
    k.child.kill('SIGKILL');
    await k.exited;
    assert.ok(existsSync(join(state, LOCK_FILE)), 'kill -9 left the lock');

    // 4. Restart with the disk still full, a stale lock and an old temp file about: it starts.
    const outbox = join(state, 'devices', 'full-disk', 'outbox');
    writeFileSync(join(outbox, `.events.ack.${a.child.pid}.tmp`), '');
    assert.ok(disk.free() < 8192, `the disk is still full (${disk.free()} bytes free)`);
    const b = runAgent(file);
    await until(
      'the second start to finish',
      () => msg(b, /"msg":"edgebind running as full-disk/) !== undefined || !b.alive(),
      GIVE_UP_MS,
      () => b.lines.slice(-20).join('\n'),
    );
    assert.ok(b.alive(), `started on a full disk:\n${b.lines.slice(-20).join('\n')}`);
    assert.deepEqual(
      readdirSync(outbox).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp files left',
    );

    assert.ok(msg(b, /taking over a stale lock/), 'it took the stale lock over on the full disk');

    // 5. The broker is back: every kept event arrives, then the new ones; health recovers.
    await broker.start();
    const events = () => bySeq(sub, topics.events);
    await until(
      'every event the first run kept',
      () => kept.every((s) => events().has(s)),
      90_000,
      () => {
        const got = events();
        return `missing ${kept.filter((s) => !got.has(s)).length} of ${kept.length}`;
      },
    );
    const bFirst = b.queued.length;
    await until('new events of the second run', () => b.queued.length >= bFirst + 20);
    const fresh = b.queued.slice(bFirst, bFirst + 20);
    await until("the second run's new events", () => fresh.every((s) => events().has(s)), GIVE_UP_MS);
    assert.ok(
      Math.min(...b.queued) > Math.max(...a.queued, ...k.queued),
      'seqs are never reused, not even those lost with the first run',
    );
    const health = await sub.waitFor((m) => {
      if (m.topic !== topics.health) return false;
      const h = m.json as { mqtt: { connected: boolean; outboxState: string; outboxUnwritten: number } };
      return h.mqtt.connected && h.mqtt.outboxState === 'ok' && h.mqtt.outboxUnwritten === 0;
    }, 30_000);
    assert.ok(health);
    assert.ok(b.alive());

    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.lines.slice(-20).join('\n'));
    assert.equal(existsSync(join(state, LOCK_FILE)), false, 'the lock is removed');
  } finally {
    await sub.close();
  }
});

/** The fallback: publisher + outbox on a disk that answers ENOSPC, against the real broker. */
async function injectedFullDisk(): Promise<void> {
  const topics = deviceTopics('edgebind', 'full-disk-injected');
  const sub = await startCollector({
    url: broker.url,
    filter: topics.events,
    clientId: 'fdi-sub',
    clean: false,
    reconnectPeriodMs: 100,
  });
  const files = new FaultyFiles();
  const outboxDir = join(dir, 'injected');
  const open = () =>
    new DurableOutbox({
      dir: outboxDir,
      maxBytes: 1 << 24,
      maxRecords: 100_000,
      maxAgeMs: 0,
      retryMs: 50,
      files,
    });
  const publisher = (outbox: DurableOutbox) =>
    new MqttPublisher({
      url: broker.url,
      clientId: 'fdi-agent',
      topics,
      outbox,
      keepaliveS: 5,
      reconnectMinMs: 100,
      reconnectMaxMs: 300,
      logger: pino({ level: 'silent' }),
    });
  try {
    await broker.stop();
    const first = publisher(open());
    first.start();
    const produced: number[] = [];
    const emit = (p: MqttPublisher) =>
      produced.push(p.publishEvent({ id: `ev-${produced.length}`, type: 'start' }).seq);
    for (let i = 0; i < 50; i++) emit(first);
    files.full = true;
    for (let i = 0; i < 20; i++) emit(first);
    assert.equal(first.stats().outboxState, 'degraded');
    assert.equal(first.stats().outboxUnwritten, 20);
    await first.stop(0);
    // Restart with the disk still full: the 50 logged events are kept, the 20 held ones were lost.
    const second = publisher(open());
    second.start();
    for (let i = 0; i < 20; i++) emit(second);
    await broker.start();
    const kept = [...produced.slice(0, 50), ...produced.slice(70)];
    await until('every kept event', () => kept.every((s) => bySeq(sub, topics.events).has(s)), 30_000);
    assert.ok(Math.min(...produced.slice(70)) > produced[69]!, 'seqs are never reused');
    await until('everything delivered with the disk still full', () => second.stats().outboxDepth === 0);
    files.full = false;
    emit(second);
    await until(
      'health back to ok',
      () => second.stats().outboxState === 'ok' && second.stats().outboxDepth === 0,
    );
    await second.stop();
  } finally {
    await sub.close();
  }
}
