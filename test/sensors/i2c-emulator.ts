/**
 * Base for per-instance I2C chip emulators (STYLE §3): turns the `I2cBus` calls into the chip's
 * transactions (write … STOP; [write, REPEATED START] read … STOP), enforces i2c-bus's argument
 * rules (7-bit address, ≤ 32-byte SMBus blocks), records writes and injects faults: unplug/replug,
 * NACK or other errno for the next N transfers, short reads, garbage data reads.
 */
import { performance } from 'node:perf_hooks';
import {
  i2cError,
  type BytesRead,
  type BytesWritten,
  type I2cBus,
  type OpenI2cBus,
} from '../../src/sensors/bus/i2c.js';

export interface EmulatorOptions {
  /** 7-bit address the chip answers at. */
  address: number;
  /** Monotonic ms for the chip's own timing; default performance.now. */
  now?: () => number;
  /** Seed for garbage bytes. */
  seed?: number;
}

export interface RecordedWrite {
  /** Bytes after the address byte, as on the wire (first is usually the register). */
  bytes: number[];
  atMs: number;
}

/** The fault API every emulator offers; the shared contract test drives it. */
export interface FaultyI2cDevice {
  /** Hands out bus handles on this chip (the driver's `deps.openBus`). */
  readonly openBus: OpenI2cBus;
  /** Bus handles currently open. */
  readonly openHandles: number;
  readonly opens: number;
  readonly writes: RecordedWrite[];
  /**
   * The chip stops answering: every transfer rejects with `code` until `replug()` (default
   * EREMOTEIO, a NACK on Tegra; ENXIO or EIO on other adapters).
   */
  unplug(code?: string): void;
  /** The chip answers again, freshly powered on (registers at reset values). */
  replug(): void;
  /** The next `n` transfers reject with `code` (EREMOTEIO, ENXIO, EIO…). */
  failNext(n: number, code?: string): void;
  /** The next `n` reads deliver only half the bytes asked for. */
  shortReadNext(n: number): void;
  /** The next `n` data reads (chip-specific: FIFO, pixels…) return random bytes. */
  garbageNext(n: number): void;
}

/** mulberry32: small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export abstract class I2cEmulator implements FaultyI2cDevice {
  readonly writes: RecordedWrite[] = [];
  readonly address: number;
  protected readonly now: () => number;
  private readonly random: () => number;
  /** The errno every transfer rejects with while unplugged; undefined while plugged in. */
  private unplugCode: string | undefined;
  private failLeft = 0;
  private failCode = 'EREMOTEIO';
  private shortLeft = 0;
  private garbageLeft = 0;
  openHandles = 0;
  opens = 0;

  constructor(opts: EmulatorOptions) {
    this.address = opts.address;
    this.now = opts.now ?? (() => performance.now());
    this.random = prng(opts.seed ?? 1);
  }

  /** A write transaction ending in STOP; `bytes` follow the address byte. */
  protected abstract write(bytes: Uint8Array): void;
  /** A read transaction; `prefix` = bytes written before a REPEATED START, null after a STOP. */
  protected abstract read(prefix: Uint8Array | null, length: number): Uint8Array;
  /** Power-on reset: registers to their reset values. */
  protected abstract powerOn(): void;

  unplug(code = 'EREMOTEIO'): void {
    this.unplugCode = code;
  }
  replug(): void {
    this.unplugCode = undefined;
    this.powerOn();
  }
  failNext(n: number, code = 'EREMOTEIO'): void {
    this.failLeft = n;
    this.failCode = code;
  }
  shortReadNext(n: number): void {
    this.shortLeft = n;
  }
  garbageNext(n: number): void {
    this.garbageLeft = n;
  }

  /** Subclasses call this on their data reads: fills `buf` with random bytes while garbage is armed. */
  protected garble(buf: Uint8Array): void {
    if (this.garbageLeft <= 0) return;
    this.garbageLeft--;
    for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(this.random() * 256);
  }

  readonly openBus: OpenI2cBus = async (_busNumber) => {
    this.opens++;
    this.openHandles++;
    let closed = false;
    const op = async <T>(syscall: string, addr: number, fn: () => T): Promise<T> => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (closed) throw Object.assign(new Error('bus closed'), { code: 'ERR_CLOSED' });
      if (!Number.isInteger(addr) || addr < 0 || addr > 0x7f) throw new Error(`Invalid I2C address ${addr}`);
      if (this.unplugCode !== undefined) throw i2cError(this.unplugCode, syscall);
      if (addr !== this.address) throw i2cError('EREMOTEIO', syscall);
      if (this.failLeft > 0) {
        this.failLeft--;
        throw i2cError(this.failCode, syscall);
      }
      return fn();
    };
    const checkBlock = (length: number, buffer: Buffer) => {
      if (!Number.isInteger(length) || length < 0 || length > 32)
        throw new Error(`Invalid buffer length ${length}`);
      if (buffer.length < length) throw new Error(`Buffer must contain at least ${length} bytes`);
    };
    const shortened = (length: number) => {
      if (this.shortLeft <= 0) return length;
      this.shortLeft--;
      return Math.floor(length / 2);
    };
    const doWrite = (bytes: Uint8Array) => {
      this.writes.push({ bytes: [...bytes], atMs: this.now() });
      this.write(bytes);
    };
    const bus: I2cBus = {
      readByte: (addr, cmd) => op('readByte', addr, () => this.read(Uint8Array.of(cmd), 1)[0] ?? 0xff),
      writeByte: (addr, cmd, byte) => op('writeByte', addr, () => doWrite(Uint8Array.of(cmd, byte))),
      readI2cBlock: async (addr, cmd, length, buffer): Promise<BytesRead> => {
        checkBlock(length, buffer);
        return op('readI2cBlock', addr, () => {
          const data = this.read(Uint8Array.of(cmd), length);
          const n = shortened(length);
          buffer.set(data.subarray(0, n));
          return { bytesRead: n, buffer };
        });
      },
      writeI2cBlock: async (addr, cmd, length, buffer): Promise<BytesWritten> => {
        checkBlock(length, buffer);
        return op('writeI2cBlock', addr, () => {
          doWrite(Uint8Array.of(cmd, ...buffer.subarray(0, length)));
          return { bytesWritten: length, buffer };
        });
      },
      i2cRead: (addr, length, buffer) =>
        op('read', addr, () => {
          const data = this.read(null, length);
          const n = shortened(length);
          buffer.set(data.subarray(0, n));
          return { bytesRead: n, buffer };
        }),
      i2cWrite: (addr, length, buffer) =>
        op('write', addr, () => {
          doWrite(Uint8Array.from(buffer.subarray(0, length)));
          return { bytesWritten: length, buffer };
        }),
      writeRead: (addr, out, inLength) =>
        op('i2ctransfer', addr, () => {
          const data = this.read(Uint8Array.from(out), inLength);
          return Buffer.from(data.subarray(0, shortened(inLength)));
        }),
      close: async () => {
        if (!closed) this.openHandles--;
        closed = true;
      },
    };
    return bus;
  };
}
