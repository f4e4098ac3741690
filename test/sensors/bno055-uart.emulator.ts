/**
 * BNO055 in UART mode: Bosch's framing (hardware.md §1.5) in front of the register model of
 * `Bno055Emulator`. Requests `AA 00 reg len data…` (write) → `EE 01`; `AA 01 reg len` (read) →
 * `BB len data…`; a wrong start byte → `EE 06`. Faults: BUS_OVER_RUN (`EE 07`) for the next N
 * requests, lost replies, and unplug (the open link's data stream throws, new opens fail).
 */
import type { Bno055UartLink } from '../../src/sensors/i2c/bno055.js';
import type { I2cBus } from '../../src/sensors/bus/i2c.js';
import { Bno055Emulator } from './bno055.emulator.js';

export class Bno055UartEmulator {
  readonly chip = new Bno055Emulator();
  /** Every request frame received, as bytes. */
  readonly requests: number[][] = [];
  private overrunLeft = 0;
  private silentLeft = 0;
  private unplugged = false;
  private links = new Set<{ fail: (err: Error) => void }>();
  opens = 0;

  overrunNext(n: number): void {
    this.overrunLeft = n;
  }
  /** The next `n` requests get no reply at all. */
  dropNext(n: number): void {
    this.silentLeft = n;
  }
  unplug(): void {
    this.unplugged = true;
    for (const l of this.links) l.fail(Object.assign(new Error('port disconnected'), { disconnected: true }));
  }
  replug(): void {
    this.unplugged = false;
    this.chip.replug();
  }

  /** The frame source's `openLink`. */
  readonly openLink = async (_path: string, _baudRate: number): Promise<Bno055UartLink> => {
    if (this.unplugged) throw Object.assign(new Error('cannot open port: ENOENT'), { disconnected: true });
    this.opens++;
    const bus: I2cBus = await this.chip.openBus(0);
    const queue: Uint8Array[] = [];
    let failure: Error | undefined;
    let closed = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const entry = {
      fail: (err: Error) => {
        failure = err;
        notify();
      },
    };
    this.links.add(entry);
    const reply = (bytes: number[]) => {
      setTimeout(() => {
        queue.push(Uint8Array.from(bytes));
        notify();
      }, 1);
    };
    return {
      write: async (req) => {
        if (failure || closed) throw failure ?? new Error('port closed');
        this.requests.push([...req]);
        if (this.silentLeft > 0) {
          this.silentLeft--;
          return;
        }
        if (this.overrunLeft > 0) {
          this.overrunLeft--;
          return reply([0xee, 0x07]);
        }
        if (req[0] !== 0xaa) return reply([0xee, 0x06]);
        const [, op, reg = 0, len = 0] = req;
        if (op === 0x00) {
          for (let i = 0; i < len; i++) await bus.writeByte(0x28, reg + i, req[4 + i] ?? 0);
          return reply([0xee, 0x01]);
        }
        const buf = Buffer.alloc(len);
        for (let off = 0; off < len; off += 32) {
          const n = Math.min(32, len - off);
          await bus.readI2cBlock(0x28, reg + off, n, buf.subarray(off, off + n));
        }
        return reply([0xbb, len, ...buf]);
      },
      data: () => ({
        [Symbol.asyncIterator]: () => ({
          next: async (): Promise<IteratorResult<Uint8Array>> => {
            for (;;) {
              if (failure) throw failure;
              const chunk = queue.shift();
              if (chunk) return { value: chunk, done: false };
              if (closed) return { value: undefined, done: true };
              await new Promise<void>((r) => (wake = r));
            }
          },
        }),
      }),
      close: async () => {
        closed = true;
        this.links.delete(entry);
        notify();
        await bus.close();
      },
    };
  };
}
