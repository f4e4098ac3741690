/**
 * A custom board on a socat pty pair, talking the serial line protocol through the real serialport
 * binding. `unplug()` kills socat (both ends vanish, as with a USB unplug); `replug()` starts it
 * again with the same link names. Per-instance; nothing global.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

export interface BoardOptions {
  dir: string;
  name: string;
  /** Line for sample k (without newline). */
  line: (k: number) => string;
  rateHz: number;
  /** Lines written per write() call. */
  batch?: number;
}

export class SerialBoardEmulator {
  /** The path the driver opens. */
  readonly hostPath: string;
  private readonly boardPath: string;
  private socat: ChildProcess | undefined;
  private port: SerialPort | undefined;
  private timer: NodeJS.Timeout | undefined;
  private k = 0;
  /** Lines queued to go out before the next samples (garbage, headers). */
  private readonly inject: string[] = [];
  written = 0;

  constructor(private readonly opts: BoardOptions) {
    this.hostPath = join(opts.dir, `${opts.name}-host`);
    this.boardPath = join(opts.dir, `${opts.name}-board`);
  }

  async plug(): Promise<void> {
    this.socat = spawn(
      'socat',
      ['-d', '-d', `pty,raw,echo=0,link=${this.hostPath}`, `pty,raw,echo=0,link=${this.boardPath}`],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 5000;
    while (!existsSync(this.hostPath) || !existsSync(this.boardPath)) {
      if (Date.now() > deadline) throw new Error('socat did not create the pty links');
      await new Promise((r) => setTimeout(r, 10));
    }
    const port = new SerialPort({ path: this.boardPath, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    port.on('error', () => {});
    this.port = port;
    const periodMs = (1000 * (this.opts.batch ?? 1)) / this.opts.rateHz;
    this.timer = setInterval(() => this.tick(), periodMs);
  }

  /** Goes silent (a hung board) while the port stays open, until `talk()`. */
  silent = false;

  /** Writes these raw strings before the next samples. */
  send(...raw: string[]): void {
    this.inject.push(...raw);
  }

  private tick(): void {
    if (!this.port?.isOpen || this.silent) return;
    let out = this.inject.splice(0).join('');
    for (let i = 0; i < (this.opts.batch ?? 1); i++) out += `${this.opts.line(this.k++)}\n`;
    this.port.write(out);
    this.written++;
  }

  /** Kills socat: both pty ends disappear. */
  async unplug(): Promise<void> {
    clearInterval(this.timer);
    const s = this.socat;
    this.socat = undefined;
    const port = this.port;
    this.port = undefined;
    if (s && s.exitCode === null) {
      await new Promise<void>((r) => {
        s.once('exit', () => r());
        s.kill('SIGTERM');
      });
    }
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }

  async replug(): Promise<void> {
    await this.plug();
  }

  async close(): Promise<void> {
    await this.unplug();
  }
}
