/**
 * SerialLink: a narrow promise/async-iterable face over serialport 13 (hardware reference §5.2).
 * A connection's `data()` yields chunks until the port closes; an unplug (serialport's
 * DisconnectedError, or any read failure) ends it with a SerialClosedError, `disconnected: true`.
 * Only `open`, `close`, `write` and `list` are used: modem-line calls (`set`/`get`) fail on ptys.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SerialPort as SerialPortClass } from 'serialport';

export interface SerialOpenOptions {
  path: string;
  baudRate: number;
  /**
   * Also treat the port as unplugged when its path disappears, checked this often, ms (default
   * 250; 0 = off). The binding notices an unplug only through a failed read, and after a port
   * with the same fd number was closed during a read it may never notice (seen with socat ptys).
   */
  watchPathMs?: number;
}

export interface SerialPortInfo {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface SerialConnection {
  /** Received bytes; throws SerialClosedError when the port goes away; ends when closed by us. */
  data(): AsyncIterable<Uint8Array>;
  write(bytes: Uint8Array | string): Promise<void>;
  close(): Promise<void>;
}

export interface SerialLink {
  open(opts: SerialOpenOptions, signal: AbortSignal): Promise<SerialConnection>;
  list(): Promise<SerialPortInfo[]>;
}

export class SerialClosedError extends Error {
  override name = 'SerialClosedError';
  constructor(
    message: string,
    readonly disconnected: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * serialport, loaded on first use (as bus/i2c.ts loads i2c-bus), so modules that only need a
 * driver's config schema (`edgebind config check`) do not load the native binding (issue 16).
 */
function serialPortClass(): typeof SerialPortClass {
  const require = createRequire(import.meta.url);
  return (require('serialport') as { SerialPort: typeof SerialPortClass }).SerialPort;
}

/** The real link: serialport's native binding. */
export function createSerialLink(): SerialLink {
  return {
    list: async () =>
      (await serialPortClass().list()).map((p) => ({
        path: p.path,
        manufacturer: p.manufacturer,
        serialNumber: p.serialNumber,
        vendorId: p.vendorId,
        productId: p.productId,
      })),
    open: (opts, signal) => openPort(opts, signal),
  };
}

type Item = { chunk: Buffer } | { end: true } | { error: SerialClosedError };

async function openPort(opts: SerialOpenOptions, signal: AbortSignal): Promise<SerialConnection> {
  const SerialPort = serialPortClass();
  const port = new SerialPort({ path: opts.path, baudRate: opts.baudRate, autoOpen: false, hupcl: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => {
      if (err)
        reject(
          new SerialClosedError(`cannot open ${opts.path}: ${osText(err.message, opts.path)}`, true, {
            cause: err,
          }),
        );
      else resolve();
    }),
  );
  const queue: Item[] = [];
  let wake: (() => void) | undefined;
  let closedByUs = false;
  let done = false;
  const push = (item: Item) => {
    if (done) return;
    if (!('chunk' in item)) done = true;
    queue.push(item);
    wake?.();
    wake = undefined;
  };
  port.on('data', (chunk: Buffer) => {
    push({ chunk });
    if (queue.length > 64) port.pause();
  });
  port.on('error', (err: Error) => {
    push({
      error: new SerialClosedError(`${opts.path}: ${osText(err.message, opts.path)}`, true, { cause: err }),
    });
  });
  port.on('close', (err?: Error & { disconnected?: boolean }) => {
    if (closedByUs && !err) return push({ end: true });
    // serialport's DisconnectedError often says no more than "port closed": not repeated.
    const text = err?.message ? osText(err.message, opts.path) : '';
    const detail = text === '' || /^port (is )?(closed|not open)$/i.test(text) ? '' : `: ${text}`;
    push({
      error: new SerialClosedError(`${opts.path} closed${detail}`, err?.disconnected ?? true, { cause: err }),
    });
  });
  let watch: NodeJS.Timeout | undefined;
  const close = () =>
    new Promise<void>((resolve) => {
      clearInterval(watch);
      closedByUs = true;
      if (!port.isOpen) {
        push({ end: true });
        return resolve();
      }
      port.close(() => {
        push({ end: true });
        resolve();
      });
    });
  const onAbort = () => void close();
  signal.addEventListener('abort', onAbort, { once: true });
  const watchMs = opts.watchPathMs ?? 250;
  if (watchMs > 0) {
    watch = setInterval(() => {
      if (existsSync(opts.path)) return;
      push({ error: new SerialClosedError(`${opts.path} disappeared (unplugged)`, true) });
      clearInterval(watch);
      closedByUs = true;
      if (port.isOpen) port.close(() => {});
    }, watchMs);
  }

  return {
    async *data() {
      try {
        for (;;) {
          const item = queue.shift();
          if (!item) {
            if (port.isPaused()) port.resume();
            await new Promise<void>((r) => (wake = r));
            continue;
          }
          if ('chunk' in item) yield item.chunk;
          else if ('end' in item) return;
          else throw item.error;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        await close();
      }
    },
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        port.write(bytes, (err) => (err ? reject(err) : port.drain(() => resolve())));
      }),
    close,
  };
}

/**
 * An error text from serialport without what our message already says: its open error reads
 * "Error: No such file or directory, cannot open /dev/ttyACM0" (issue 17 item 12: reasons said
 * the path and "cannot open" twice).
 */
export function osText(message: string, path: string): string {
  return message
    .replace(/^(\w*Error: )+/, '')
    .replace(`, cannot open ${path}`, '')
    .trim();
}
