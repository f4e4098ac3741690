/**
 * systemd's notify protocol (sd_notify(3)): READY=1 once started, WATCHDOG=1 at half of
 * WATCHDOG_USEC, STOPPING=1 on shutdown, STATUS=… for `systemctl status`. Without NOTIFY_SOCKET
 * (not started by systemd, or not Type=notify) every call is a no-op.
 *
 * Why not just `dgram`: Node has no AF_UNIX SOCK_DGRAM socket, and NOTIFY_SOCKET is one (a path,
 * or `@name` in the abstract namespace). Transports, best first:
 *
 * 1. `unix-dgram` (optional native module, what Zigbee2MQTT uses): datagrams from our own PID,
 *    so `NotifyAccess=main` suffices. Used when it is installed.
 * 2. A long-lived `perl` helper (perl-base is Essential on Debian, Ubuntu and JetPack, and its
 *    Socket module does AF_UNIX datagrams) that reads one hex-encoded message per line on stdin
 *    and sends it. Messages come from the helper's PID, so the unit needs `NotifyAccess=all`.
 *    Unlike spawning `systemd-notify` per message, the sender stays alive, so systemd can always
 *    attribute it to our cgroup (systemd-notify races with its own exit on systemd < 246 and, from
 *    246 on, blocks up to 5 s on a barrier that only systemd itself answers).
 *
 * The unit ships with `NotifyAccess=all` so either transport works.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

/** Sends one notify datagram. Errors are reported through `onError`, never thrown. */
export interface NotifyTransport {
  readonly name: string;
  send(message: string): void;
  close(): void;
}

export interface NotifyEnv {
  NOTIFY_SOCKET?: string | undefined;
  WATCHDOG_USEC?: string | undefined;
  WATCHDOG_PID?: string | undefined;
}

export interface SdNotifierOptions {
  /** Default: `process.env`. */
  env?: NotifyEnv;
  /** Default: `process.pid`; compared with WATCHDOG_PID. */
  pid?: number;
  logger?: Logger;
  /** Opens the transport; default `openNotifyTransport`. Tests inject a recorder. */
  openTransport?: (socketPath: string, onError: (err: Error) => void) => Promise<NotifyTransport>;
}

/**
 * The watchdog ping interval in ms (half of WATCHDOG_USEC), or undefined when the watchdog is off
 * or meant for another process (WATCHDOG_PID set to a PID that is not ours).
 */
export function watchdogIntervalMs(env: NotifyEnv, pid: number): number | undefined {
  if (!env.WATCHDOG_USEC) return undefined;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export class SdNotifier {
  readonly enabled: boolean;
  /** Set once `start()` found a watchdog to feed. */
  watchdogMs: number | undefined;
  private transport: NotifyTransport | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger | undefined;
  private closed = false;

  private constructor(
    private readonly socketPath: string | undefined,
    private readonly opts: SdNotifierOptions,
  ) {
    this.enabled = socketPath !== undefined && socketPath !== '';
    this.log = opts.logger?.child({ component: 'sd-notify' });
  }

  /** Opens the transport when NOTIFY_SOCKET is set; never throws (notify is best effort). */
  static async open(opts: SdNotifierOptions = {}): Promise<SdNotifier> {
    const env = opts.env ?? process.env;
    const n = new SdNotifier(env.NOTIFY_SOCKET, opts);
    if (!n.enabled) return n;
    const onError = (err: Error) => n.log?.warn({ err: err.message }, `sd_notify: ${err.message}`);
    try {
      n.transport = await (opts.openTransport ?? openNotifyTransport)(n.socketPath!, onError);
      n.log?.debug(`sd_notify via ${n.transport.name} to ${n.socketPath}`);
    } catch (err) {
      // systemd waits for READY=1 and kills us after TimeoutStartSec: say so loudly.
      n.log?.error(
        { err: (err as Error).message },
        `sd_notify: no way to reach ${n.socketPath} (${(err as Error).message}); install perl-base or the unix-dgram module, or systemd will time out waiting for READY=1`,
      );
    }
    return n;
  }

  /** READY=1 (plus STATUS) and starts the watchdog pings if systemd asked for them. */
  ready(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
    if (!this.transport || this.timer !== undefined) return;
    const env = this.opts.env ?? process.env;
    this.watchdogMs = watchdogIntervalMs(env, this.opts.pid ?? process.pid);
    if (this.watchdogMs !== undefined) {
      this.timer = setInterval(() => this.send('WATCHDOG=1'), this.watchdogMs);
      this.timer.unref();
    }
  }

  /** RELOADING=1 while the config is re-read; call `ready()` (or `reloaded()`) when done. */
  reloading(): void {
    this.send('RELOADING=1');
  }

  reloaded(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
  }

  status(text: string): void {
    this.send(`STATUS=${oneLine(text)}`);
  }

  /** STOPPING=1; watchdog pings stop (systemd no longer expects them during stop). */
  stopping(status?: string): void {
    this.stopWatchdog();
    this.send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  close(): void {
    this.stopWatchdog();
    this.closed = true;
    this.transport?.close();
    this.transport = undefined;
  }

  private stopWatchdog(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private send(message: string): void {
    if (this.closed || !this.transport) return;
    this.transport.send(message);
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/** `@name` is the abstract namespace: a leading NUL byte in sun_path. */
export function socketAddress(socketPath: string): string {
  return socketPath.startsWith('@') ? `\0${socketPath.slice(1)}` : socketPath;
}

/** unix-dgram if installed, else the perl helper. */
export async function openNotifyTransport(
  socketPath: string,
  onError: (err: Error) => void,
): Promise<NotifyTransport> {
  const native = await openUnixDgram(socketPath, onError).catch(() => undefined);
  return native ?? openPerlHelper(socketPath, onError);
}

interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): {
    send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
    on(event: 'error', cb: (err: Error) => void): void;
    close(): void;
  };
}

/** The optional native module; rejects when it is not installed. */
async function openUnixDgram(socketPath: string, onError: (err: Error) => void): Promise<NotifyTransport> {
  const name = 'unix-dgram'; // a variable, so tsc does not require the module to exist
  const mod = (await import(name)) as UnixDgramModule & { default?: UnixDgramModule };
  const socket = (mod.default ?? mod).createSocket('unix_dgram');
  socket.on('error', onError);
  const address = socketAddress(socketPath);
  return {
    name: 'unix-dgram',
    send(message) {
      const buf = Buffer.from(message);
      socket.send(buf, 0, buf.length, address, (err) => {
        if (err) onError(err);
      });
    },
    close: () => socket.close(),
  };
}

// Reads hex lines from stdin, sends each as one datagram; exits at EOF (when we exit).
const PERL_HELPER = `use strict; use Socket;
my $p = shift; $p =~ s/^@/\\0/;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\\n";
my $a = pack_sockaddr_un($p);
$| = 1; print "ok\\n";
while (my $l = <STDIN>) { chomp $l; send($s, pack("H*", $l), 0, $a) or print STDERR "send to $p: $!\\n"; }`;

/** Starts the perl helper and waits until it has its socket. */
export async function openPerlHelper(
  socketPath: string,
  onError: (err: Error) => void,
  perl = 'perl',
): Promise<NotifyTransport> {
  const child: ChildProcess = spawn(perl, ['-e', PERL_HELPER, socketPath], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let alive = true;
  child.stderr!.on('data', (d: Buffer) => onError(new Error(`notify helper: ${d.toString().trim()}`)));
  child.stdin!.on('error', (err) => onError(err));
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) =>
      reject(new Error(`cannot start the notify helper (${perl}): ${err.message}`));
    child.once('error', fail);
    child.once('exit', (code) => {
      alive = false;
      fail(new Error(`exited with ${code}`));
    });
    child.stdout!.once('data', () => {
      child.off('error', fail);
      resolve();
    });
  });
  child.on('exit', () => (alive = false));
  child.on('error', onError);
  // The helper must not keep our event loop alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  return {
    name: 'perl helper',
    send(message) {
      if (!alive) return onError(new Error(`notify helper is gone; dropped ${message.split('\n')[0]}`));
      child.stdin!.write(`${Buffer.from(message).toString('hex')}\n`);
    },
    close() {
      alive = false;
      child.stdin!.end();
    },
  };
}
