/**
 * Two agents on one state directory, as real processes against a real Mosquitto: the second
 * `edgebind run` (or `edgebind demo` sharing the default stateDir) exits 1 naming the holder's pid
 * while the first keeps running; after a kill -9 the next start takes the stale lock over.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureTestPack } from '../../src/encoders/registry.js';
import { LOCK_FILE, type LockOwner } from '../../src/daemon/state-lock.js';
import { REPO, SAMPLES, loopingMicConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const dir = tempDir('cli-lock');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
// The demo's default stateDir is $XDG_CACHE_HOME/edgebind: the run config uses the same one.
const CACHE = join(dir, 'cache');
const STATE = join(CACHE, 'edgebind');
const LOCK = join(STATE, LOCK_FILE);

let broker: Mosquitto;
const children: ChildProcess[] = [];
before(async () => {
  broker = await startMosquitto();
  await ensureTestPack(join(STATE, 'packs', 'edgebind-test'));
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  /** Exit code (or signal) once it has exited. */
  exited: Promise<number | NodeJS.Signals | null>;
}

function edgebind(args: string[]): Proc {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: dir,
    env: { ...process.env, XDG_CACHE_HOME: CACHE, EDGEBIND_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.resume();
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('close', (code, signal) => (clearTimeout(killer), resolve(code ?? signal))),
  );
  return { child, stderr: () => stderr, exited };
}

const lockOwner = () => JSON.parse(readFileSync(LOCK, 'utf8')) as LockOwner;

/** The one `edgebind: …` line of a refused start, with no stack trace. */
function refusal(p: Proc): string {
  const lines = p
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('edgebind:'));
  assert.equal(lines.length, 1, p.stderr());
  assert.doesNotMatch(p.stderr(), /^\s+at /m, 'no stack trace');
  return lines[0]!;
}

test('a second run or demo on a held stateDir exits 1 naming the holder; kill -9 leaves a lock the next start takes over', async () => {
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    toYaml(
      loopingMicConfig({
        deviceId: 'lock-1',
        stateDir: STATE,
        mqtt: { broker: broker.url, healthIntervalS: 0 },
      }),
    ),
  );
  const sub = await startCollector({ url: broker.url, filter: 'edgebind/lock-1/status' });
  try {
    const first = edgebind(['run', '--config', file]);
    await sub
      .waitFor((m) => m.text === 'online', 60_000)
      .catch((err: Error) => {
        throw new Error(`${err.message}; stderr:\n${first.stderr().slice(-3000)}`);
      });
    const held = lockOwner();
    assert.equal(held.pid, first.child.pid);
    assert.equal(held.host, hostname());

    const second = edgebind(['run', '--config', file, '--device-id', 'lock-2']);
    assert.equal(await second.exited, 1, second.stderr());
    const expected = `edgebind: ${STATE} is in use by another edgebind (pid ${first.child.pid} on host ${hostname()}, since ${held.startedAt})`;
    const line = refusal(second);
    assert.ok(line.startsWith(expected), line);
    assert.ok(line.includes(`kill ${first.child.pid}`), line);
    assert.ok(line.includes(`delete ${LOCK}`), line);

    const demoPort = await freePort();
    const demo = edgebind(['demo', '--port', String(demoPort), '--seconds', '5']);
    assert.equal(await demo.exited, 1, demo.stderr());
    assert.ok(refusal(demo).startsWith(expected), demo.stderr());

    assert.equal(first.child.exitCode, null, 'the first agent keeps running');
    assert.deepEqual(lockOwner(), held, 'and keeps its lock');
    assert.deepEqual(
      sub.messages.map((m) => m.text),
      ['online'],
      'no second agent came online, the first never went offline',
    );

    // kill -9 leaves the lock file behind; its pid is gone, so the next start takes it over.
    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(lockOwner().pid, first.child.pid, 'the killed agent left its lock');
    await sub.waitFor((m) => m.text === 'offline', 10_000); // its last will
    sub.clear();
    const next = edgebind(['run', '--config', file]);
    await sub
      .waitFor((m) => m.text === 'online', 60_000)
      .catch((err: Error) => {
        throw new Error(`${err.message}; stderr:\n${next.stderr().slice(-3000)}`);
      });
    assert.equal(lockOwner().pid, next.child.pid);
    assert.match(
      next.stderr(),
      new RegExp(`"msg":"taking over a stale lock: pid ${first.child.pid} on .* is not running"`),
    );

    next.child.kill('SIGTERM');
    assert.equal(await next.exited, 0, next.stderr());
    assert.equal(existsSync(LOCK), false, 'a clean stop removes the lock');
  } finally {
    await sub.close();
  }
});

test('a failed start releases the lock it took', async () => {
  const file = join(dir, 'bad-pack.yaml');
  // A pack that exists (config check passes) but whose manifest is torn: the start fails after
  // taking the lock, while loading the pack.
  const broken = join(dir, 'broken-pack');
  mkdirSync(broken, { recursive: true });
  writeFileSync(join(broken, 'manifest.json'), '{"formatVersion":');
  writeFileSync(
    file,
    toYaml({
      stateDir: STATE,
      mqtt: { broker: broker.url },
      encoders: { pack: broken },
      sensors: [{ id: 'mic', driver: 'replay', modality: 'audio', file: join(SAMPLES, 'room-audio.wav') }],
      labels: [{ name: 'alarm_beeping', prompts: ['an alarm beeping'] }],
    }),
  );
  const run = edgebind(['run', '--config', file]);
  assert.equal(await run.exited, 2, run.stderr());
  assert.match(refusal(run), /broken-pack.*manifest\.json: not valid JSON/);
  assert.equal(existsSync(LOCK), false);
});
