/** The state directory lock: one agent per stateDir, stale locks taken over, ours alone released. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { exitCodeFor, EXIT_FAILURE, StateLockedError } from '../../src/errors.js';
import { acquireStateLock, LOCK_FILE, type LockOwner } from '../../src/daemon/state-lock.js';
import { createLogger } from '../../src/log.js';
import { REPO, tempDir } from '../helpers/agent-config.js';

const root = tempDir('state-lock');
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A fresh state dir per test. */
function stateDir(): string {
  const dir = join(root, `s${++n}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function writeLock(dir: string, content: string | Partial<LockOwner>, ageMs = 0): string {
  const file = join(dir, LOCK_FILE);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  if (ageMs > 0) {
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(file, t, t);
  }
  return file;
}

function readLock(dir: string): LockOwner {
  return JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockOwner;
}

/** A logger whose lines land in `lines` (JSON). */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', stream }), lines };
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await once(child, 'exit');
  return pid;
}

/** A live process that is not this one; killed after the file's tests. */
function liveChild(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function rejectsLocked(
  p: Promise<unknown>,
  ...patterns: (RegExp | string)[]
): Promise<StateLockedError> {
  let caught: unknown;
  await p.then(
    () => assert.fail('expected STATE_LOCKED'),
    (err: unknown) => (caught = err),
  );
  assert.ok(caught instanceof StateLockedError, String(caught));
  assert.equal(caught.code, 'STATE_LOCKED');
  assert.equal(caught.name, 'StateLockedError');
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), caught.message);
    else assert.match(caught.message, p);
  }
  return caught;
}

test('acquire writes {pid, startedAt, host, bootId} with O_EXCL, creating the dir; release removes it once', async () => {
  const dir = join(stateDir(), 'not', 'yet');
  const lock = await acquireStateLock(dir);
  assert.equal(lock.file, join(dir, LOCK_FILE));
  const owner = readLock(dir);
  assert.equal(owner.pid, process.pid);
  assert.equal(owner.host, hostname());
  assert.ok(Math.abs(Date.parse(owner.startedAt) - Date.now()) < 60_000, owner.startedAt);
  assert.match(owner.bootId ?? '', /^[0-9a-f-]{36}$/, 'Linux boot id');
  assert.deepEqual(lock.owner, owner);
  assert.equal(lock.release(), true);
  assert.equal(existsSync(lock.file), false);
  assert.equal(lock.release(), false, 'idempotent');
  // Free again.
  (await acquireStateLock(dir)).release();
});

test('a second acquire in this process fails: STATE_LOCKED naming the dir, the pid and the way out', async () => {
  const dir = stateDir();
  const lock = await acquireStateLock(dir);
  try {
    const err = await rejectsLocked(
      acquireStateLock(dir),
      `${dir} is in use by another edgebind (pid ${process.pid} on host ${hostname()}, since ${lock.owner.startedAt})`,
      /would corrupt its outbox/,
      `systemctl stop edgebind, or kill ${process.pid}`,
      /give this one its own stateDir/,
      `delete ${lock.file}`,
    );
    assert.equal(err.stateDir, dir);
    assert.equal(err.file, lock.file);
    assert.deepEqual(err.holder, lock.owner);
    assert.equal(exitCodeFor(err), EXIT_FAILURE, 'exit 1: a restart heals once the holder stops');
    assert.equal(readLock(dir).startedAt, lock.owner.startedAt, 'the holder keeps its lock');
  } finally {
    lock.release();
  }
});

test('a lock held by another live process on this host is honoured', async () => {
  const dir = stateDir();
  const child = liveChild();
  const owner = { pid: child.pid!, startedAt: '2026-01-02T03:04:05.000Z', host: hostname() };
  const file = writeLock(dir, owner, 60_000);
  await rejectsLocked(
    acquireStateLock(dir),
    `pid ${child.pid} on host ${hostname()}, since ${owner.startedAt}`,
  );
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), owner, 'left untouched');
});

test('a lock from another host is honoured whatever its pid: this host cannot check it', async () => {
  const dir = stateDir();
  const owner = { pid: await deadPid(), startedAt: '2026-01-02T03:04:05.000Z', host: 'elsewhere' };
  const file = writeLock(dir, owner);
  await rejectsLocked(
    acquireStateLock(dir),
    `pid ${owner.pid} on host elsewhere`,
    'This host cannot check a process on elsewhere',
    `if no edgebind runs on elsewhere, delete ${file}`,
  );
});

test('a stale lock (its pid has exited) is taken over with a warning', async () => {
  const dir = stateDir();
  const pid = await deadPid();
  writeLock(dir, { pid, startedAt: '2026-01-02T03:04:05.000Z', host: hostname() });
  const { logger, lines } = captureLogger();
  const lock = await acquireStateLock(dir, { logger });
  try {
    assert.equal(readLock(dir).pid, process.pid);
    assert.equal(readLock(dir).startedAt, lock.owner.startedAt);
    const warn = lines.find((l) => l.level === 40);
    assert.ok(warn, JSON.stringify(lines));
    assert.equal(
      warn.msg,
      `taking over a stale lock: pid ${pid} on ${hostname()} (since 2026-01-02T03:04:05.000Z) is not running`,
    );
    assert.equal(existsSync(`${lock.file}.takeover`), false, 'the takeover guard is gone');
  } finally {
    lock.release();
  }
});

test('a lock from an earlier boot is stale even if its pid now runs', async () => {
  const dir = stateDir();
  const child = liveChild();
  writeLock(dir, { pid: child.pid!, startedAt: '2026-01-02T03:04:05.000Z', host: hostname(), bootId: 'x' });
  const { logger, lines } = captureLogger();
  const lock = await acquireStateLock(dir, { logger });
  lock.release();
  assert.match(String(lines.find((l) => l.level === 40)?.msg), /is from an earlier boot$/);
});

test("this pid in a lock this process does not hold is an earlier process's (pids repeat)", async () => {
  const dir = stateDir();
  writeLock(dir, { pid: process.pid, startedAt: '2026-01-02T03:04:05.000Z', host: hostname() });
  const { logger, lines } = captureLogger();
  const lock = await acquireStateLock(dir, { logger });
  lock.release();
  assert.match(String(lines.find((l) => l.level === 40)?.msg), /was this pid in an earlier process$/);
});

test('unreadable lock files (garbage, empty, bad pid) are taken over with a warning', async () => {
  for (const content of ['not json', '', '{}', '{"pid":0,"startedAt":"x","host":"h"}', '[1]']) {
    const dir = stateDir();
    writeLock(dir, content, 60_000);
    const { logger, lines } = captureLogger();
    const lock = await acquireStateLock(dir, { logger });
    try {
      assert.equal(readLock(dir).pid, process.pid, JSON.stringify(content));
      assert.equal(
        lines.find((l) => l.level === 40)?.msg,
        `taking over an unreadable lock file ${lock.file}`,
        JSON.stringify(content),
      );
    } finally {
      lock.release();
    }
  }
});

test('a young unreadable lock file may be mid-write: it is re-read for garbageGraceMs first', async () => {
  const dir = stateDir();
  writeLock(dir, '');
  const t0 = Date.now();
  const lock = await acquireStateLock(dir, { garbageGraceMs: 400 });
  lock.release();
  assert.ok(Date.now() - t0 >= 350, `waited ${Date.now() - t0} ms`);
});

test('release leaves a lock that is no longer ours', async () => {
  const dir = stateDir();
  const lock = await acquireStateLock(dir);
  const other = { pid: process.pid + 1, startedAt: '2026-01-02T03:04:05.000Z', host: hostname() };
  writeLock(dir, other);
  assert.equal(lock.release(), false);
  assert.deepEqual(readLock(dir), other);
  // Same pid, another start time (another acquire of this process) is not ours either.
  rmSync(lock.file);
  const a = await acquireStateLock(dir);
  writeLock(dir, { ...a.owner, startedAt: '2000-01-01T00:00:00.000Z' });
  assert.equal(a.release(), false);
  assert.equal(existsSync(a.file), true);
});

test('a takeover in progress elsewhere is waited for; past timeoutMs that is STATE_LOCKED naming the guard', async () => {
  const dir = stateDir();
  const file = writeLock(dir, {
    pid: await deadPid(),
    startedAt: '2026-01-02T03:04:05.000Z',
    host: hostname(),
  });
  writeFileSync(`${file}.takeover`, '');
  const err = await rejectsLocked(
    acquireStateLock(dir, { timeoutMs: 300, guardStaleMs: 60_000 }),
    `${dir}: could not take ${file} within 300 ms`,
    `Try again; if no edgebind is starting, delete ${file}.takeover`,
  );
  assert.equal(err.holder, undefined);
  // A guard older than guardStaleMs was left by a crash: removed, and the takeover goes ahead.
  const lock = await acquireStateLock(dir, { timeoutMs: 5000, guardStaleMs: 200 });
  lock.release();
  assert.equal(existsSync(`${file}.takeover`), false);
});

test('a state dir that cannot be created fails with the path in the message', async () => {
  const dir = stateDir();
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(acquireStateLock(join(dir, 'file', 'state')), (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, 'ENOTDIR');
    assert.ok(err.message.includes(join(dir, 'file')), err.message);
    return true;
  });
});

test('four processes racing for one stale lock: exactly one wins, the others get STATE_LOCKED', async () => {
  const dir = stateDir();
  writeLock(dir, { pid: await deadPid(), startedAt: '2026-01-02T03:04:05.000Z', host: hostname() });
  // Each child loads, says "ready", acquires on "go", reports, then holds until stdin closes.
  const script = join(root, 'racer.mts');
  writeFileSync(
    script,
    `const { acquireStateLock } = await import(${JSON.stringify(pathToFileURL(join(REPO, 'src/daemon/state-lock.ts')).href)});
let started = false;
process.stdin.on('data', () => {
  if (started) return;
  started = true;
  acquireStateLock(${JSON.stringify(dir)}).then(
    () => console.log('won'),
    (err) => console.log(err.code ?? String(err)),
  );
});
process.stdin.on('end', () => process.exit(0));
console.log('ready');
`,
  );
  const tsx = import.meta.resolve('tsx');
  const racers = Array.from({ length: 4 }, () => {
    const child = spawn(process.execPath, ['--import', tsx, script], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    // Lines queue up so none is missed between two awaits.
    const lines: AsyncIterator<string> = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async (): Promise<string> => {
      const r = await lines.next();
      return r.done ? 'eof' : r.value;
    };
    return { child, next };
  });
  for (const r of racers) assert.equal(await r.next(), 'ready');
  const results = racers.map((r) => r.next());
  for (const r of racers) r.child.stdin.write('go\n');
  const outcome = await Promise.all(results);
  assert.deepEqual([...outcome].sort(), ['STATE_LOCKED', 'STATE_LOCKED', 'STATE_LOCKED', 'won']);
  const winner = racers[outcome.indexOf('won')]!.child;
  assert.equal(readLock(dir).pid, winner.pid);
  for (const r of racers) r.child.stdin.end();
  await Promise.all(
    racers.map((r) => (r.child.exitCode === null ? once(r.child, 'exit') : Promise.resolve())),
  );
});
