/**
 * The narrow I2C binding drivers use (STYLE §3): a promise interface with just the transfers our
 * chips need, a real implementation over `i2c-bus` (fivdi, 5.2.3) and helpers to classify errors.
 * Drivers receive an `openBus(busNumber)` function in their deps and never build a binding
 * themselves, so tests plug in per-instance emulators (`test/sensors/*.emulator.ts`).
 *
 * Repeated start (issue #6): the MLX90640 has 16-bit register addresses and only answers a read
 * when the address write and the read are joined by a REPEATED START; after a STOP it forgets the
 * address (Melexis, mlx90640-library#45). `i2c-bus` 5.2.3 has no generic combined transfer: its
 * SMBus helpers send one command byte, `i2cWrite`/`i2cRead` are plain `write()`/`read()` on the fd
 * with a STOP after each, and it uses the `I2C_RDWR` ioctl only inside `deviceId()`; there is no
 * `i2cTransfer` (the maintainer declined 16-bit register helpers, fivdi/i2c-bus#101). Node cannot
 * issue an ioctl itself, so `writeRead()` runs `i2ctransfer` (i2c-tools ≥ 4.0), which performs
 * one `I2C_RDWR` ioctl with both messages: `i2ctransfer -y <bus> w2@0x33 0x24 0x00 r1664`.
 * One process per block costs a few milliseconds, well inside a subpage period at the refresh
 * rates 400 kHz I2C allows (≤ 16 Hz). Install i2c-tools on the target (`apt install i2c-tools`).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

/** Result of a block read: how many bytes arrived (may be fewer than asked) and the buffer. */
export interface BytesRead {
  bytesRead: number;
  buffer: Buffer;
}

export interface BytesWritten {
  bytesWritten: number;
  buffer: Buffer;
}

/**
 * The subset of i2c-bus's PromisifiedBus our drivers use, plus `writeRead` for repeated-start
 * devices. Addresses are 7-bit (0x00–0x7F); SMBus block transfers carry at most 32 bytes.
 */
export interface I2cBus {
  /** SMBus read byte: START addr W cmd RESTART addr R byte STOP. */
  readByte(addr: number, cmd: number): Promise<number>;
  /** SMBus write byte: START addr W cmd byte STOP. */
  writeByte(addr: number, cmd: number, byte: number): Promise<void>;
  /** SMBus read I2C block (≤ 32 bytes from register `cmd`, auto-incrementing on most chips). */
  readI2cBlock(addr: number, cmd: number, length: number, buffer: Buffer): Promise<BytesRead>;
  /** SMBus write I2C block (≤ 32 bytes to register `cmd`). */
  writeI2cBlock(addr: number, cmd: number, length: number, buffer: Buffer): Promise<BytesWritten>;
  /** Plain I2C read (`read()` on the fd): START addr R … STOP. */
  i2cRead(addr: number, length: number, buffer: Buffer): Promise<BytesRead>;
  /** Plain I2C write (`write()` on the fd): START addr W … STOP. */
  i2cWrite(addr: number, length: number, buffer: Buffer): Promise<BytesWritten>;
  /**
   * Combined transfer: write `out`, REPEATED START, read `inLength` bytes, STOP (one `I2C_RDWR`
   * ioctl). Needed by the MLX90640. Resolves with exactly the bytes read.
   */
  writeRead(addr: number, out: Uint8Array, inLength: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** Opens bus `/dev/i2c-<busNumber>`; what drivers take in their deps. */
export type OpenI2cBus = (busNumber: number) => Promise<I2cBus>;

/**
 * errno codes that mean "the device did not answer": Tegra reports a NACK as EREMOTEIO, the
 * kernel's fault-codes document prefers ENXIO, other adapters say EIO; ETIMEDOUT/EAGAIN come from
 * clock stretching and arbitration loss, ENODEV/ENOENT from a bus adapter that went away.
 */
const DISCONNECT_CODES = new Set(['EREMOTEIO', 'ENXIO', 'EIO', 'ETIMEDOUT', 'EAGAIN', 'ENODEV', 'ENOENT']);

/** errno numbers for the same codes (i2c-bus SMBus errors carry positive, libuv errors negative errno). */
const DISCONNECT_ERRNOS = new Set([121, 6, 5, 110, 11, 19, 2]);

/** True when `err` is an I/O error that a reconnect may heal (see DISCONNECT_CODES). */
export function isI2cDisconnect(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  if (typeof code === 'string' && DISCONNECT_CODES.has(code)) return true;
  return typeof errno === 'number' && DISCONNECT_ERRNOS.has(Math.abs(errno));
}

/** An Error shaped like i2c-bus's native SMBus errors: "EREMOTEIO, Remote I/O error", errno 121. */
export function i2cError(
  code: string,
  syscall: string,
): Error & { code: string; errno: number; syscall: string } {
  const table: Record<string, [number, string]> = {
    EREMOTEIO: [121, 'Remote I/O error'],
    ENXIO: [6, 'No such device or address'],
    EIO: [5, 'Input/output error'],
    ETIMEDOUT: [110, 'Connection timed out'],
  };
  const [errno, text] = table[code] ?? [5, 'Input/output error'];
  return Object.assign(new Error(`${code}, ${text}`), { code, errno, syscall });
}

/** The part of i2c-bus's module we call (the package ships no types; @types/i2c-bus is not installed). */
interface I2cBusModule {
  openPromisified(busNumber: number, options?: { forceAccess?: boolean }): Promise<PromisifiedBus>;
}

interface PromisifiedBus {
  readByte(addr: number, cmd: number): Promise<number>;
  writeByte(addr: number, cmd: number, byte: number): Promise<void>;
  readI2cBlock(addr: number, cmd: number, length: number, buffer: Buffer): Promise<BytesRead>;
  writeI2cBlock(addr: number, cmd: number, length: number, buffer: Buffer): Promise<BytesWritten>;
  i2cRead(addr: number, length: number, buffer: Buffer): Promise<BytesRead>;
  i2cWrite(addr: number, length: number, buffer: Buffer): Promise<BytesWritten>;
  close(): Promise<void>;
}

export interface RealI2cOptions {
  /** I2C_SLAVE_FORCE: talk to an address a kernel driver has claimed. Default false. */
  forceAccess?: boolean;
  /** Path or name of i2c-tools' `i2ctransfer`, used by `writeRead`. Default `i2ctransfer`. */
  i2ctransfer?: string;
  /** Time limit for one `i2ctransfer` run, ms. Default 2000. */
  transferTimeoutMs?: number;
}

/** Runs one combined transfer through `i2ctransfer`; see the module comment for why. */
export function i2ctransferWriteRead(
  busNumber: number,
  addr: number,
  out: Uint8Array,
  inLength: number,
  options: RealI2cOptions = {},
): Promise<Buffer> {
  checkAddress(addr);
  if (inLength < 1 || inLength > 8192 || out.length < 1 || out.length > 8192) {
    // The kernel caps each I2C_RDWR message at 8192 bytes.
    return Promise.reject(
      new RangeError(`i2ctransfer message length out of range (${out.length}/${inLength})`),
    );
  }
  const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
  const args = [
    '-y',
    ...(options.forceAccess ? ['-f'] : []),
    String(busNumber),
    `w${out.length}@${hex(addr)}`,
    ...Array.from(out, hex),
    `r${inLength}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      options.i2ctransfer ?? 'i2ctransfer',
      args,
      { timeout: options.transferTimeoutMs ?? 2000, maxBuffer: inLength * 5 + 1024 },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT' && !stderr) {
          // The tool itself is missing: an installation problem that no reconnect heals.
          return reject(
            Object.assign(
              new Error('i2ctransfer not found: install i2c-tools (apt install i2c-tools)', { cause: err }),
              {
                code: 'I2CTRANSFER_MISSING',
              },
            ),
          );
        }
        if (err) {
          // i2ctransfer prints e.g. "Error: Sending messages failed: Remote I/O error".
          const text = `${stderr}`.trim() || err.message;
          const code = /Remote I\/O/i.test(text)
            ? 'EREMOTEIO'
            : /No such device or address/i.test(text)
              ? 'ENXIO'
              : /timed out/i.test(text) || err.killed
                ? 'ETIMEDOUT'
                : /No such file/i.test(text)
                  ? 'ENOENT'
                  : 'EIO';
          return reject(
            Object.assign(new Error(`${code}, i2ctransfer: ${text}`, { cause: err }), {
              code,
              syscall: 'i2ctransfer',
            }),
          );
        }
        const bytes = `${stdout}`
          .trim()
          .split(/\s+/)
          .filter((s) => s.length > 0)
          .map((s) => Number.parseInt(s, 16));
        if (bytes.length !== inLength || bytes.some((b) => !(b >= 0 && b <= 255))) {
          return reject(
            Object.assign(new Error(`EIO, i2ctransfer printed ${bytes.length} of ${inLength} bytes`), {
              code: 'EIO',
            }),
          );
        }
        resolve(Buffer.from(bytes));
      },
    );
  });
}

function checkAddress(addr: number): void {
  if (!Number.isInteger(addr) || addr < 0 || addr > 0x7f) throw new TypeError(`Invalid I2C address ${addr}`);
}

/**
 * Opens a real bus through i2c-bus's promise API. The native addon is loaded on first use, so
 * importing this module on a machine without it (CI, tests) is harmless. Note that i2c-bus opens
 * `/dev/i2c-N` lazily: a missing bus shows up as ENOENT on the first transfer, not here.
 */
export function realI2cBus(options: RealI2cOptions = {}): OpenI2cBus {
  return async (busNumber) => {
    const require = createRequire(import.meta.url);
    const mod = require('i2c-bus') as I2cBusModule;
    const bus = await mod.openPromisified(busNumber, { forceAccess: options.forceAccess ?? false });
    return {
      readByte: (addr, cmd) => bus.readByte(addr, cmd),
      writeByte: (addr, cmd, byte) => bus.writeByte(addr, cmd, byte),
      readI2cBlock: (addr, cmd, length, buffer) => bus.readI2cBlock(addr, cmd, length, buffer),
      writeI2cBlock: (addr, cmd, length, buffer) => bus.writeI2cBlock(addr, cmd, length, buffer),
      i2cRead: (addr, length, buffer) => bus.i2cRead(addr, length, buffer),
      i2cWrite: (addr, length, buffer) => bus.i2cWrite(addr, length, buffer),
      writeRead: (addr, out, inLength) => i2ctransferWriteRead(busNumber, addr, out, inLength, options),
      close: () => bus.close(),
    };
  };
}

/**
 * Reads `length` bytes from 8-bit register `reg` in ≤ 32-byte SMBus blocks (the SMBus limit),
 * rejecting a short read with EIO so that callers never see a half-filled buffer.
 */
export async function readRegisters(bus: I2cBus, addr: number, reg: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  for (let off = 0; off < length; off += 32) {
    const n = Math.min(32, length - off);
    const chunk = out.subarray(off, off + n);
    const { bytesRead } = await bus.readI2cBlock(addr, reg + off, n, chunk);
    if (bytesRead !== n)
      throw Object.assign(new Error(`short read: ${bytesRead} of ${n} bytes`), { code: 'SHORT_READ' });
  }
  return out;
}
