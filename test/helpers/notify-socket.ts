/**
 * A systemd notify socket the test owns. Node cannot receive AF_UNIX datagrams, so `socat -v`
 * does: it logs each datagram to stderr after a `> DATE length=N from=A to=B` header, and the
 * header's length tells where the datagram ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Datagram {
  text: string;
  /** Milliseconds since the receiver started. */
  atMs: number;
}

export interface NotifyReceiver {
  /** What to put in NOTIFY_SOCKET (a path, or `@name` for the abstract namespace). */
  readonly address: string;
  readonly datagrams: readonly Datagram[];
  /** Resolves with the first datagram (already received or to come) that matches. */
  waitFor(match: RegExp, timeoutMs?: number): Promise<Datagram>;
  close(): Promise<void>;
}

const HEADER = /> \d{4}\/\d\d\/\d\d \S+\s+length=(\d+) from=\d+ to=\d+\n/;

/** `address`: a socket path, or `@name` for an abstract socket. */
export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const spec = address.startsWith('@')
    ? `ABSTRACT-RECV:${address.slice(1)}`
    : `UNIX-RECV:${address},unlink-early`;
  const child: ChildProcess = spawn('socat', ['-u', '-v', spec, '/dev/null'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const t0 = Date.now();
  const datagrams: Datagram[] = [];
  const waiters: { match: RegExp; resolve: (d: Datagram) => void }[] = [];
  let buf = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    buf += chunk;
    for (;;) {
      const m = HEADER.exec(buf);
      if (!m) break;
      const start = m.index + m[0].length;
      const len = Number(m[1]);
      if (buf.length < start + len) break;
      const d = { text: buf.slice(start, start + len), atMs: Date.now() - t0 };
      buf = buf.slice(start + len);
      datagrams.push(d);
      for (const w of [...waiters]) {
        if (w.match.test(d.text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(d);
        }
      }
    }
  });
  // Wait until socat has bound the socket.
  const deadline = Date.now() + 5000;
  if (!address.startsWith('@')) {
    while (!existsSync(address)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`socat did not bind ${address}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } else {
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address,
    datagrams,
    waitFor(match, timeoutMs = 10_000) {
      const seen = datagrams.find((d) => match.test(d.text));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no datagram matching ${String(match)}; got ${JSON.stringify(datagrams.map((d) => d.text))}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (d) => {
            clearTimeout(timer);
            resolve(d);
          },
        });
      });
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
