/**
 * A real Mosquitto broker for MQTT integration tests, on a free 127.0.0.1 port, that tests can
 * stop, kill and start again on the same port (broker-outage tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, isListening } from './free-port.js';

export interface MosquittoOptions {
  /** Port on 127.0.0.1. Default: a free one. */
  port?: number;
  /** Appended verbatim to the generated `mosquitto.conf`. */
  extraConfig?: string;
  /** Keep retained messages and sessions across `stop()`/`start()` (saved on SIGTERM). Default false. */
  persistence?: boolean;
  /** How long one start may take before it fails. Default 10000 ms. */
  startTimeoutMs?: number;
}

export interface Mosquitto {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>`. */
  readonly url: string;
  /** Temp dir holding `mosquitto.conf` (and `mosquitto.db` with persistence). */
  readonly dir: string;
  readonly running: boolean;
  /** Starts it again after `stop()`/`kill()`, on the same port; no-op while running. */
  start(): Promise<void>;
  /** SIGTERM, then waits for the exit (SIGKILL after 5 s). No-op when stopped. */
  stop(): Promise<void>;
  /** `stop()` then `start()` on the same port. */
  restart(): Promise<void>;
  /** SIGKILL (a crash: nothing saved, no clean disconnects) and waits for the exit. */
  kill(): Promise<void>;
  /** Everything Mosquitto logged, across restarts. */
  logs(): string;
  /** `stop()` and delete the temp dir; call it in `after()`. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const FALLBACK_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/sbin'];
const MAX_LOG_CHARS = 2_000_000;
const STOP_GRACE_MS = 5000;

/**
 * Absolute path of `name` from `PATH` or the usual sbin dirs. Throws, naming the Debian package to
 * install, when it is missing: integration tests must fail then, never skip.
 */
export function findExecutable(
  name: string,
  aptPackage: string,
  opts: { searchPath?: string; fallbackDirs?: readonly string[] } = {},
): string {
  const dirs = [
    ...(opts.searchPath ?? process.env.PATH ?? '').split(path.delimiter).filter(Boolean),
    ...(opts.fallbackDirs ?? FALLBACK_DIRS),
  ];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} not found on PATH or in ${FALLBACK_DIRS.join(', ')}; ` +
      `MQTT integration tests need it: apt-get install ${aptPackage}`,
  );
}

/** Starts Mosquitto and resolves once it accepts connections. */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = findExecutable('mosquitto', 'mosquitto');
  const broker = new MosquittoProcess(bin, opts);
  live.add(broker);
  try {
    await broker.start();
  } catch (err) {
    await broker.close();
    throw err;
  }
  return broker;
}

/** Brokers not closed yet; killed when the test process exits so none outlives it. */
const live = new Set<MosquittoProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const broker of live) broker.killSync();
  });
}

class MosquittoProcess implements Mosquitto {
  readonly dir: string;
  private portNumber: number | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private starts = 0;
  /** Serialises start/stop/kill so overlapping calls from a test cannot interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bin: string,
    private readonly opts: MosquittoOptions,
  ) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'edgebind-mosquitto-'));
    this.portNumber = opts.port;
    installExitHook();
  }

  get port(): number {
    if (this.portNumber === undefined) throw new Error('mosquitto has not started yet');
    return this.portNumber;
  }

  get url(): string {
    return `mqtt://${HOST}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  logs(): string {
    return this.output;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop('SIGTERM'));
  }

  kill(): Promise<void> {
    return this.enqueue(() => this.doStop('SIGKILL'));
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.doStop('SIGTERM');
      await this.doStart();
    });
  }

  async close(): Promise<void> {
    await this.stop();
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** For the exit hook: no waiting possible there. */
  killSync(): void {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const result = this.queue.then(op);
    this.queue = result.catch(() => {});
    return result;
  }

  private async doStart(): Promise<void> {
    if (this.child) return;
    const timeoutMs = this.opts.startTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const portFixed = this.portNumber !== undefined;
    let port = this.portNumber ?? (await freePort(HOST));
    // Wait out whatever still holds the port (e.g. the previous instance winding down).
    while (await isListening(port, HOST, 200)) {
      if (Date.now() > deadline) throw new Error(`port ${HOST}:${port} still in use after ${timeoutMs} ms`);
      await delay(50);
    }
    for (let attempt = 1; ; attempt++) {
      const failure = await this.spawnOnce(port, deadline);
      if (failure === undefined) {
        this.portNumber = port;
        return;
      }
      if (!/address already in use/i.test(failure) || Date.now() > deadline) {
        throw new Error(
          `mosquitto failed to start on ${HOST}:${port}: ${failure}\n--- logs ---\n${this.output}`,
        );
      }
      // Lost a race for the port: retry the same port (restart) or take another (first start).
      if (!portFixed) port = await freePort(HOST);
      await delay(Math.min(50 * attempt, 500));
    }
  }

  /** One launch; resolves undefined once ready, else the reason it failed (process stopped). */
  private async spawnOnce(port: number, deadline: number): Promise<string | undefined> {
    const configFile = path.join(this.dir, 'mosquitto.conf');
    writeFileSync(configFile, this.config(port));
    this.starts += 1;
    this.append(`--- start #${this.starts} on port ${port} ---\n`);
    let attemptLog = '';

    const child = spawn(this.bin, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Keep a forgotten broker from holding the test process open; the exit hook kills it.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) {
      (stream as Socket).unref();
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        attemptLog += chunk;
        this.append(chunk);
      });
    }
    let exitReason: string | undefined;
    const exited = (once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>).then(
      ([code, signal]) => {
        exitReason = `exited with ${signal ?? `code ${String(code)}`}`;
        this.append(`--- ${exitReason} ---\n`);
        if (this.child === child) this.child = undefined;
      },
      (err: unknown) => {
        exitReason = `spawn failed: ${(err as Error).message}`;
        if (this.child === child) this.child = undefined;
      },
    );
    this.child = child;
    this.exited = exited;

    // Ready = Mosquitto says it is running (so the listener is its own) and the port answers.
    for (;;) {
      if (exitReason !== undefined) {
        const tail = attemptLog.trim().split('\n').slice(-3).join(' / ');
        return `${exitReason}: ${tail}`;
      }
      if (/mosquitto version \S+ running/.test(attemptLog) && (await isListening(port, HOST))) {
        return undefined;
      }
      if (Date.now() > deadline) {
        await this.doStop('SIGKILL');
        return 'not ready before the start timeout';
      }
      await delay(25);
    }
  }

  private async doStop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private config(port: number): string {
    const lines = [
      `listener ${port} ${HOST}`,
      'allow_anonymous true',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'log_type subscribe',
      'log_type unsubscribe',
      'connection_messages true',
      'log_timestamp_format %H:%M:%S',
    ];
    // As root, Mosquitto 2 drops to user `mosquitto`, which cannot write our 0700 temp dir.
    if (process.getuid?.() === 0) lines.push('user root');
    if (this.opts.persistence) {
      lines.push('persistence true', `persistence_location ${this.dir}${path.sep}`);
    } else {
      lines.push('persistence false');
    }
    if (this.opts.extraConfig) lines.push(this.opts.extraConfig);
    return `${lines.join('\n')}\n`;
  }

  private append(text: string): void {
    this.output += text;
    if (this.output.length > MAX_LOG_CHARS) this.output = this.output.slice(-MAX_LOG_CHARS / 2);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
