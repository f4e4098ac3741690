/**
 * Signals during start-up, against real `edgebind run` processes (issue #14 item 5): from the
 * moment the process owns its signal handlers (read from /proc/<pid>/status, before the config is
 * even loaded) a SIGHUP storm through the whole start-up neither kills it nor goes unnoticed (it
 * is deferred, then one reload runs), and SIGINT/SIGTERM at any step of start-up stop it with
 * exit 0, a log line, and no `edgebind.lock` left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LOCK_FILE } from '../../src/daemon/state-lock.js';
import { ensureTestPack } from '../../src/encoders/registry.js';
import { REPO, loopingMicConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';

const dir = tempDir('startup-signals');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const PACK = join(dir, 'pack');
const children: ChildProcess[] = [];

before(async () => {
  await ensureTestPack(PACK);
});
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stateDir: string;
  stderr(): string;
  /** Exit code, or the signal that killed it. */
  exited: Promise<number | NodeJS.Signals | null>;
}

async function startRun(name: string): Promise<Run> {
  const stateDir = join(dir, name);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    toYaml(
      loopingMicConfig({
        deviceId: name,
        stateDir,
        mqtt: { broker: 'embedded', embeddedPort: await freePort(), healthIntervalS: 0 },
        encoders: { pack: PACK },
        log: { level: 'debug' },
      }),
    ),
  );
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'run', '--config', file], {
    cwd: dir,
    env: { ...process.env, EDGEBIND_DEBUG: '', NOTIFY_SOCKET: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, signal) => (clearTimeout(killer), resolve(code ?? signal))),
  );
  return { child, stateDir, stderr: () => stderr, exited };
}

/** Signals the process catches, from /proc (bit n-1 of SigCgt is signal n). */
function caught(pid: number): Set<number> {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return new Set();
  }
  const mask = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
  const out = new Set<number>();
  for (let n = 1; n <= 64; n++) if ((mask >> BigInt(n - 1)) & 1n) out.add(n);
  return out;
}
const SIGHUP = 1;
const SIGINT = 2;
const SIGTERM = 15;

async function until(what: string, ok: () => boolean, run: Run, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (run.child.exitCode !== null || run.child.signalCode !== null)
      throw new Error(
        `exited (${run.child.exitCode ?? run.child.signalCode}) waiting for ${what}:\n${run.stderr()}`,
      );
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The `msg` of every JSON log line. */
const msgs = (run: Run) =>
  run
    .stderr()
    .split('\n')
    .flatMap((l) => {
      try {
        return [(JSON.parse(l) as { msg: string }).msg];
      } catch {
        return [];
      }
    });

test('a SIGHUP storm from the first moment through start-up: deferred with a log line, one reload, still running', async () => {
  const run = await startRun('hup');
  const pid = run.child.pid!;
  await until('the SIGHUP handler', () => caught(pid).has(SIGHUP), run);
  assert.ok(
    !run.stderr().includes('edgebind starting'),
    'handlers are in before the config is loaded (before anything slow)',
  );
  let sent = 0;
  const ready = () => run.stderr().includes('"msg":"edgebind running as hup');
  while (!ready()) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) break;
    run.child.kill('SIGHUP');
    sent++;
    await new Promise((r) => setTimeout(r, 40));
  }
  await until('start-up to finish under SIGHUPs', ready, run);
  assert.ok(sent >= 5, `SIGHUPs all through start-up (${sent})`);
  await until('the deferred reload', () => msgs(run).includes('config reloaded: no changes'), run);
  const m = msgs(run);
  assert.ok(m.includes('SIGHUP during start-up: deferred; the config is re-read once start-up has finished'));
  assert.ok(m.includes('re-reading the config for the SIGHUP received during start-up'));
  assert.equal(run.child.exitCode, null, 'still running');

  run.child.kill('SIGTERM');
  assert.equal(await run.exited, 0, run.stderr());
  assert.equal(existsSync(join(run.stateDir, LOCK_FILE)), false, 'the lock is removed');
});

/** Where in start-up the stop signal lands: the first log line that has to be out first. */
const STEPS: { name: string; marker: string | undefined; signal: 'SIGINT' | 'SIGTERM' }[] = [
  { name: 'int-loading', marker: undefined, signal: 'SIGINT' }, // modules still loading
  { name: 'int-locked', marker: '"msg":"locked ', signal: 'SIGINT' },
  { name: 'term-pack', marker: '"msg":"encoder text: loaded', signal: 'SIGTERM' },
  { name: 'int-labels', marker: '"msg":"labels: ', signal: 'SIGINT' },
];

for (const step of STEPS) {
  test(`${step.signal} during start-up (${step.marker ?? 'before the config is read'}): exit 0, lock removed`, async () => {
    const run = await startRun(step.name);
    const pid = run.child.pid!;
    // Our handlers go in together; SIGHUP tells them apart from tsx's own SIGINT/SIGTERM relay.
    const num = step.signal === 'SIGINT' ? SIGINT : SIGTERM;
    await until(`the ${step.signal} handler`, () => caught(pid).has(SIGHUP) && caught(pid).has(num), run);
    if (step.marker) await until(step.marker, () => run.stderr().includes(step.marker!), run);
    run.child.kill(step.signal);
    assert.equal(await run.exited, 0, run.stderr());
    const m = msgs(run);
    const handled =
      m.includes(`${step.signal} during start-up: stopping`) || m.includes(`stopping (${step.signal})`);
    assert.ok(handled, `a log line says the signal stopped it:\n${run.stderr()}`);
    assert.equal(existsSync(join(run.stateDir, LOCK_FILE)), false, `no ${LOCK_FILE} left behind`);
  });
}
