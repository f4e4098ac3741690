/**
 * Recording: a sensor's frames written in the replay format (docs/replay-format.md) — 16-bit WAV for
 * audio, `.ebf` float32 frame files otherwise — so `driver: replay` plays them back unchanged.
 * Records are appended as frames arrive; the WAV sizes are patched when the recording closes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../pipeline/clock.js';
import type { Frame, SensorModality } from '../pipeline/types.js';
import { encodeHeader, encodeRecord, type FrameFileHeader } from './formats/frame-file.js';
import { encodeWav16 } from './formats/wav.js';
import type { FrameSource, SensorHealth } from './types.js';

const UNITS: Record<SensorModality, string> = { audio: '', thermal: 'degC', depth: 'mm', imu: 'm/s2,rad/s' };

export interface RecordingSummary {
  sensorId: string;
  file: string;
  frames: number;
  samples: number;
  durationMs: number;
  health?: SensorHealth;
}

/** Where a sensor's recording goes: `<dir>/<sensorId>.wav` for audio, `.ebf` otherwise. */
export function recordingFile(dir: string, sensorId: string, modality: SensorModality): string {
  return join(dir, `${sensorId}.${modality === 'audio' ? 'wav' : 'ebf'}`);
}

/** Writes one sensor's frames to `recordingFile(dir, sensorId, modality)`; no file until a frame comes. */
export class RecordingWriter {
  private fh: FileHandle | undefined;
  private header: FrameFileHeader | undefined;
  private t0 = Number.NaN;
  private bytes = 0;
  private audioChannels = 1;
  frames = 0;
  samples = 0;
  durationMs = 0;
  readonly file: string;

  constructor(
    dir: string,
    readonly sensorId: string,
    readonly modality: SensorModality,
    private readonly source = 'edgebind record',
  ) {
    this.file = recordingFile(dir, sensorId, modality);
  }

  async write(frame: Frame): Promise<void> {
    if (frame.modality !== this.modality) {
      throw new TypeError(`${this.sensorId}: ${frame.modality} frame in a ${this.modality} recording`);
    }
    const n = frame.shape[0] ?? 0;
    if (!this.fh) {
      this.fh = await open(this.file, 'w');
      this.t0 = frame.tMs;
      if (this.modality === 'audio') {
        if (frame.rateHz !== 16000 || frame.shape.length > 2) {
          throw new TypeError(`${this.sensorId}: audio must be [n] or [n, channels] at 16 kHz`);
        }
        // Sizes are zero until close() patches them. A multi-channel replay's frames are already
        // interleaved, as WAV stores them.
        this.audioChannels = frame.shape[1] ?? 1;
        const channels = Array.from({ length: this.audioChannels }, () => new Float32Array(0));
        await this.append(encodeWav16({ sampleRateHz: 16000, channels }));
      } else {
        this.header = {
          version: 1,
          modality: this.modality,
          unit: UNITS[this.modality],
          dtype: 'float32',
          scale: 1,
          sampleShape: frame.shape.slice(1),
          rateHz: frame.rateHz,
          source: this.source,
        };
        await this.append(encodeHeader(this.header));
      }
    }
    if (this.modality === 'audio') {
      if ((frame.shape[1] ?? 1) !== this.audioChannels) {
        throw new TypeError(
          `${this.sensorId}: audio frame of shape [${frame.shape.join(', ')}] in a ${this.audioChannels}-channel recording`,
        );
      }
      const buf = Buffer.alloc(frame.data.length * 2);
      for (let i = 0; i < frame.data.length; i++) {
        const s = Math.max(-1, Math.min(32767 / 32768, frame.data[i]!));
        buf.writeInt16LE(Math.round(s * 32768), i * 2);
      }
      await this.append(buf);
    } else {
      await this.append(encodeRecord(this.header!, frame.tMs - this.t0, frame.data));
    }
    this.frames++;
    this.samples += n;
    this.durationMs = frame.tMs + (n * 1000) / frame.rateHz - this.t0;
  }

  private async append(buf: Uint8Array): Promise<void> {
    await this.fh!.write(buf, 0, buf.length, this.bytes);
    this.bytes += buf.length;
  }

  async close(): Promise<RecordingSummary> {
    if (this.fh) {
      if (this.modality === 'audio') {
        const sizes = Buffer.alloc(4);
        sizes.writeUInt32LE(this.bytes - 8, 0);
        await this.fh.write(sizes, 0, 4, 4);
        sizes.writeUInt32LE(this.bytes - 44, 0);
        await this.fh.write(sizes, 0, 4, 40);
      }
      await this.fh.close();
      this.fh = undefined;
    }
    return {
      sensorId: this.sensorId,
      file: this.file,
      frames: this.frames,
      samples: this.samples,
      durationMs: this.durationMs,
    };
  }
}

/** Passes frames through unchanged, writing each one first. */
export async function* recorded(
  frames: AsyncIterable<Frame>,
  writer: RecordingWriter,
): AsyncGenerator<Frame> {
  for await (const frame of frames) {
    await writer.write(frame);
    yield frame;
  }
}

export interface RecordOptions {
  sensors: readonly { id: string; modality: SensorModality; source: FrameSource }[];
  dir: string;
  /** Seconds of data to capture per sensor (counted in sample time). */
  seconds: number;
  clock: Clock;
  signal: AbortSignal;
  /** Give up on a sensor this long after `seconds` if it has not delivered enough, ms. */
  graceMs?: number;
  onHealth?: (sensorId: string, health: SensorHealth) => void;
}

/** Records every sensor at once for `seconds` of data each; resolves with one summary per sensor. */
export async function recordSensors(opts: RecordOptions): Promise<RecordingSummary[]> {
  const wantMs = opts.seconds * 1000;
  return Promise.all(
    opts.sensors.map(async (s) => {
      const writer = new RecordingWriter(opts.dir, s.id, s.modality);
      const ac = new AbortController();
      const onAbort = () => ac.abort(opts.signal.reason);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      const deadline = setTimeout(
        () => ac.abort(new Error('recording deadline')),
        wantMs + (opts.graceMs ?? 10_000),
      );
      let health: SensorHealth | undefined;
      try {
        const frames = s.source({
          clock: opts.clock,
          signal: ac.signal,
          onHealth: (h) => {
            health = h;
            opts.onHealth?.(s.id, h);
          },
        });
        for await (const frame of frames) {
          await writer.write(frame);
          // Sample times are sums of periods: allow float rounding at the boundary.
          if (writer.durationMs >= wantMs - 1e-3 || ac.signal.aborted) break;
        }
      } finally {
        clearTimeout(deadline);
        opts.signal.removeEventListener('abort', onAbort);
        ac.abort();
      }
      const summary = await writer.close();
      return health ? { ...summary, health } : summary;
    }),
  );
}
