/**
 * Generic serial line protocol for custom boards (docs/serial-protocol.md): one sample per text
 * line, CSV or JSON, values already in the modality's native unit, an optional `#edgebind` header
 * declaring what the board sends, and an optional NMEA-style `*HH` checksum per CSV line.
 * Every line is validated on its own; a bad one is rejected and counted, never thrown.
 */
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { DeviceError } from '../../errors.js';
import type { Clock } from '../../pipeline/clock.js';
import type { Frame, SensorModality } from '../../pipeline/types.js';
import { createSerialLink, type SerialLink } from '../bus/serial.js';
import {
  SampleTimer,
  messageOf,
  reconnectFields,
  reconnectingSource,
  type HealthTracker,
  type RejectRateRule,
} from '../reconnect.js';
import type { FrameSource } from '../types.js';
import { StallWatchdog } from '../stall-watchdog.js';

export const SerialLinesConfigSchema = z.strictObject({
  ...sensorBase,
  driver: z.literal('serial-lines'),
  path: z.string().min(1).meta({
    description:
      'Serial device, e.g. /dev/ttyACM0 or /dev/serial/by-id/… (stable across replugs). Needs restart.',
  }),
  baudRate: z
    .int()
    .positive()
    .default(115_200)
    .meta({ description: 'Baud rate (ignored by USB CDC boards).' }),
  format: z
    .enum(['csv', 'json'])
    .default('csv')
    .meta({ description: 'How the board writes each sample line.' }),
  sampleShape: z.array(z.int().positive()).min(1).max(3).meta({
    description: 'Shape of one sample (one line): [6] for an IMU, [8, 8] for an 8×8 thermal grid.',
  }),
  rateHz: z
    .number()
    .positive()
    .max(100_000)
    .meta({ description: 'Samples (lines) per second the board sends.' }),
  samplesPerFrame: z
    .int()
    .min(1)
    .max(100_000)
    .default(1)
    .meta({ description: 'Samples batched into one frame.' }),
  requireHeader: z.boolean().default(false).meta({
    description: 'Reject data lines until the board has sent an `#edgebind` header that matches this config.',
  }),
  requireChecksum: z
    .boolean()
    .default(false)
    .meta({ description: 'Reject CSV lines without a `*HH` checksum.' }),
  maxLineBytes: z
    .int()
    .min(64)
    .max(1 << 20)
    .default(16_384)
    .meta({
      description: 'Longer lines are garbage: discarded up to the next newline and counted.',
    }),
  stallMs: z.int().min(0).max(600_000).default(5000).meta({
    description:
      'Reopen the port when no byte arrives for this long, ms (0 = never); keep it above the line period.',
  }),
  ...reconnectFields,
});
export type SerialLinesConfig = z.infer<typeof SerialLinesConfigSchema>;

/**
 * When a board counts as degraded (docs/serial-protocol.md): 5 rejected lines among its last 200
 * (2.5 %); ok again at 1 or none. One bad line in a few hundred is line noise, not a fault, and
 * must not flap the sensor between ok and degraded (issue 17 item 12).
 */
export const SERIAL_REJECT_RATE: RejectRateRule = { windowItems: 200, degradedAt: 5, okAt: 1 };

export interface SerialLinesDeps {
  /** Default: the real serialport binding. */
  link?: SerialLink;
}

export function serialLinesFrames(config: SerialLinesConfig, deps: SerialLinesDeps = {}): FrameSource {
  const link = deps.link ?? createSerialLink();
  return reconnectingSource({
    sensorId: config.id,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    rejectRate: SERIAL_REJECT_RATE,
    session: (signal, health, ctx) => session(config, link, ctx.clock, health, signal),
  });
}

async function* session(
  config: SerialLinesConfig,
  link: SerialLink,
  clock: Clock,
  health: HealthTracker,
  signal: AbortSignal,
): AsyncGenerator<Frame> {
  // A stall (board hung, or an unplug the binding missed) closes this session; the loop reopens.
  const sessionAc = new AbortController();
  const onOuterAbort = () => sessionAc.abort(signal.reason);
  signal.addEventListener('abort', onOuterAbort, { once: true });
  let stalled = false;
  // Measures the board's silence, not this process's busy spells (issue #24).
  const watchdog = new StallWatchdog({
    stallMs: config.stallMs,
    onStall: () => {
      stalled = true;
      sessionAc.abort(new Error('stalled'));
    },
  });
  let conn;
  try {
    conn = await link.open({ path: config.path, baudRate: config.baudRate }, sessionAc.signal);
  } catch (err) {
    signal.removeEventListener('abort', onOuterAbort);
    throw new DeviceError(config.id, `${config.id}: ${messageOf(err)}`, { disconnected: true, cause: err });
  }
  const parser = new LineParser(config);
  const size = parser.sampleSize;
  const timer = new SampleTimer(clock, config.rateHz);
  let frame = new Float32Array(config.samplesPerFrame * size);
  let fill = 0;
  const line = Buffer.alloc(config.maxLineBytes);
  let len = 0;
  let overflow = false;
  watchdog.arm();
  try {
    for await (const chunk of conn.data()) {
      watchdog.data();
      watchdog.arm();
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        const end = nl < 0 ? chunk.length : nl;
        const piece = end - start;
        if (!overflow && len + piece <= line.length) {
          line.set(chunk.subarray(start, end), len);
          len += piece;
        } else overflow = true;
        if (nl < 0) break;
        start = nl + 1;
        // A whole line is in `line[0, len)`.
        if (overflow) {
          health.reject(`line longer than ${config.maxLineBytes} bytes`);
        } else {
          const r = parser.parse(
            line.toString('utf8', 0, line[len - 1] === 0x0d ? len - 1 : len),
            frame,
            fill * size,
          );
          if (r === 'sample') {
            health.accept();
            fill++;
            if (fill === config.samplesPerFrame) {
              const data = frame;
              frame = new Float32Array(config.samplesPerFrame * size);
              fill = 0;
              // The consumer's time is not the board's: no stall timing while it holds the frame.
              watchdog.disarm();
              yield {
                sensorId: config.id,
                modality: config.modality,
                tMs: timer.stamp(config.samplesPerFrame),
                rateHz: config.rateHz,
                data,
                shape: [config.samplesPerFrame, ...config.sampleShape],
              };
              watchdog.arm();
            }
          } else if (r !== 'skip') {
            health.reject(r.reject);
          }
        }
        len = 0;
        overflow = false;
      }
    }
    if (stalled) throw new Error(`no data for ${config.stallMs} ms`);
  } catch (err) {
    if (err instanceof DeviceError) throw err;
    throw new DeviceError(config.id, `${config.id}: ${messageOf(err)}`, { disconnected: true, cause: err });
  } finally {
    watchdog.disarm();
    signal.removeEventListener('abort', onOuterAbort);
    await conn.close();
  }
}

export type ParseResult = 'sample' | 'skip' | { reject: string };

/** Plausible ranges of native values per modality; outside them a line is garbage. */
const RANGES: Record<SensorModality, [number, number]> = {
  audio: [-1, 1],
  thermal: [-273.15, 2000],
  depth: [0, 1_000_000],
  imu: [-1e5, 1e5],
};

/** Validates one line (without its newline) and writes its values into `out` at `at`. */
export class LineParser {
  readonly sampleSize: number;
  private headerOk: boolean;
  private headerProblem: string | undefined;

  constructor(
    private readonly config: Pick<
      SerialLinesConfig,
      'modality' | 'format' | 'sampleShape' | 'rateHz' | 'requireHeader' | 'requireChecksum'
    >,
  ) {
    this.sampleSize = config.sampleShape.reduce((a, b) => a * b, 1);
    this.headerOk = !config.requireHeader;
  }

  parse(text: string, out: Float32Array, at: number): ParseResult {
    const line = text.trim();
    if (line === '') return 'skip';
    if (line.startsWith('#')) return this.header(line);
    if (!this.headerOk) {
      return { reject: this.headerProblem ?? 'data before the #edgebind header' };
    }
    const values = this.config.format === 'csv' ? this.csv(line) : this.json(line);
    if (typeof values === 'string') return { reject: values };
    if (values.length !== this.sampleSize) {
      return { reject: `${values.length} values, expected ${this.sampleSize}` };
    }
    const [lo, hi] = RANGES[this.config.modality];
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v) || v < lo || v > hi)
        return { reject: `value ${v} out of range for ${this.config.modality}` };
    }
    for (let i = 0; i < values.length; i++) out[at + i] = values[i]!;
    return 'sample';
  }

  /** `#edgebind key=value …`; other `#` lines are comments. */
  private header(line: string): ParseResult {
    const m = /^#\s*edgebind\b(.*)$/.exec(line);
    if (!m) return 'skip';
    const fields = new Map<string, string>();
    for (const tok of m[1]!.trim().split(/\s+/).filter(Boolean)) {
      const eq = tok.indexOf('=');
      if (eq <= 0) return this.badHeader(`malformed header field "${tok}"`);
      fields.set(tok.slice(0, eq), tok.slice(eq + 1));
    }
    const c = this.config;
    const want: Record<string, string> = {
      modality: c.modality,
      shape: c.sampleShape.join('x'),
      format: c.format,
    };
    for (const [k, v] of Object.entries(want)) {
      const got = fields.get(k);
      if (got !== undefined && got !== v) return this.badHeader(`board sends ${k}=${got}, config says ${v}`);
    }
    const rate = fields.get('rate');
    if (rate !== undefined && Math.abs(Number(rate) - c.rateHz) > 1e-6 * c.rateHz) {
      return this.badHeader(`board sends rate=${rate}, config says ${c.rateHz}`);
    }
    this.headerOk = true;
    this.headerProblem = undefined;
    return 'skip';
  }

  private badHeader(problem: string): ParseResult {
    this.headerOk = false;
    this.headerProblem = `header mismatch: ${problem}`;
    return { reject: this.headerProblem };
  }

  private csv(line: string): number[] | string {
    let body = line;
    const star = line.lastIndexOf('*');
    if (star >= 0) {
      const sum = line.slice(star + 1);
      body = line.slice(0, star);
      if (!/^[0-9A-Fa-f]{2}$/.test(sum)) return `bad checksum field "${sum}"`;
      if (xorChecksum(body) !== parseInt(sum, 16)) return 'checksum mismatch';
    } else if (this.config.requireChecksum) return 'missing *HH checksum';
    const parts = body.split(',');
    const values = new Array<number>(parts.length);
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!.trim();
      // Number('') is 0 and Number('0x10') is 16: accept plain decimal notation only.
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(p)) return `not a number: "${p.slice(0, 20)}"`;
      values[i] = Number(p);
    }
    return values;
  }

  private json(line: string): number[] | string {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return 'not JSON';
    }
    const v = Array.isArray(parsed)
      ? parsed
      : typeof parsed === 'object' && parsed !== null
        ? (parsed as { v?: unknown }).v
        : undefined;
    if (!Array.isArray(v)) return 'JSON line without a "v" array';
    const flat = (v as unknown[]).flat(2);
    if (!flat.every((x): x is number => typeof x === 'number')) return 'non-numeric value in "v"';
    return flat;
  }
}

/** NMEA-style checksum: XOR of the bytes of `body`, as two hex digits after `*`. */
export function xorChecksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i) & 0xff;
  return x;
}
