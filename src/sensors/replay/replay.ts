/**
 * Replay source: plays a recording (WAV for audio, `.ebf` frame files for thermal, depth and IMU)
 * as if a sensor were producing it, in real time or faster, optionally looping.
 *
 * Frame times are the recording's own time laid onto the monotonic clock from the moment playback
 * starts, so windows and event timing follow the data even when replay runs faster than real time.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { FormatError } from '../../errors.js';
import { sleep, type Clock } from '../../pipeline/clock.js';
import type { Frame, SensorModality } from '../../pipeline/types.js';
import { AUDIO_RATE_HZ, interleaved, loadAudio } from '../formats/audio-file.js';
import { readFrameFileHeader, readFrameRecords } from '../formats/frame-file.js';

export interface ReplayOptions {
  sensorId: string;
  modality: SensorModality;
  file: string;
  /** 1 = real time; larger is faster; 0 = as fast as the consumer takes frames. */
  speed: number;
  loop: boolean;
  clock: Clock;
  /** Audio is cut into frames of this many milliseconds. */
  audioChunkMs?: number;
}

interface Chunk {
  /** Recording time of the first sample, ms. */
  tMs: number;
  data: Float32Array;
  shape: number[];
}

export { AUDIO_RATE_HZ };

export async function* replayFrames(opts: ReplayOptions, signal: AbortSignal): AsyncGenerator<Frame> {
  const isWav = extname(opts.file).toLowerCase() === '.wav';
  if (opts.modality === 'audio' && !isWav) {
    throw new FormatError(opts.file, 'audio replay needs a .wav file');
  }
  if (opts.modality !== 'audio' && isWav) {
    throw new FormatError(opts.file, `${opts.modality} replay needs an .ebf frame file, not WAV`);
  }
  // A WAV is decoded once, not once per loop: decoding a 36 s file (3-12 ms, megabytes of
  // garbage) on the event loop at every loop start delayed every sensor's events behind it, and
  // was the largest stall the latency benchmark saw (issue #19). Frame files stream from disk.
  const audio = isWav ? loadAudio(await readFile(opts.file), opts.file) : undefined;
  const load = audio ? () => wavChunks(audio.channels, opts) : () => ebfChunks(opts);
  const t0 = opts.clock.nowMs();
  let loopOffsetMs = 0;
  let rateHz = 0;
  do {
    let lastEndMs = 0;
    let any = false;
    for await (const chunk of load()) {
      any = true;
      rateHz = chunk.rate;
      const n = chunk.shape[0]!;
      const endMs = chunk.tMs + (n * 1000) / chunk.rate;
      lastEndMs = endMs;
      // A chunk is available once its last sample has been "captured".
      if (opts.speed > 0) {
        const due = t0 + (loopOffsetMs + endMs) / opts.speed;
        const wait = due - opts.clock.nowMs();
        if (wait > 0) {
          try {
            await sleep(wait, signal);
          } catch {
            return;
          }
        }
      } else {
        await new Promise<void>((r) => setImmediate(r));
      }
      if (signal.aborted) return;
      yield {
        sensorId: opts.sensorId,
        modality: opts.modality,
        tMs: t0 + loopOffsetMs + chunk.tMs,
        rateHz: chunk.rate,
        data: chunk.data,
        shape: chunk.shape,
      };
    }
    if (!any) throw new FormatError(opts.file, 'recording holds no samples');
    loopOffsetMs += lastEndMs;
  } while (opts.loop && !signal.aborted && rateHz > 0);
}

/**
 * `channels` come from the one audio loader (formats/audio-file.ts): every channel at 16 kHz. A
 * multi-channel file plays as [n, channels] frames, so the features can centre on all channels as
 * ImageBind does.
 */
function* wavChunks(
  channels: readonly Float32Array[],
  opts: ReplayOptions,
): Generator<Chunk & { rate: number }> {
  const length = channels[0]!.length;
  const chunk = Math.max(1, Math.round(((opts.audioChunkMs ?? 100) * AUDIO_RATE_HZ) / 1000));
  for (let i = 0; i < length; i += chunk) {
    const end = Math.min(length, i + chunk);
    // Each frame owns its data (a consumer may keep it); a mono view is copied.
    const data = channels.length === 1 ? channels[0]!.slice(i, end) : interleaved(channels, i, end);
    const shape = channels.length === 1 ? [end - i] : [end - i, channels.length];
    yield { tMs: (i * 1000) / AUDIO_RATE_HZ, data, shape, rate: AUDIO_RATE_HZ };
  }
}

/** Why frames of `sampleShape` cannot feed a `modality` encoder, or undefined when they can. */
export function sampleShapeProblem(
  modality: SensorModality,
  sampleShape: readonly number[],
): string | undefined {
  const ok = (n: number) => Number.isInteger(n) && n >= 1;
  const shown = `[${sampleShape.join(', ')}]`;
  switch (modality) {
    case 'thermal':
    case 'depth':
      return sampleShape.length === 2 && sampleShape.every(ok)
        ? undefined
        : `frames of shape ${shown} do not fit a ${modality} sensor, which needs [height, width]`;
    case 'imu':
      return sampleShape.length === 1 && sampleShape[0] === 6
        ? undefined
        : `samples of shape ${shown} do not fit an imu sensor, which needs [6] (ax, ay, az, gx, gy, gz)`;
    case 'audio':
      return sampleShape.length === 0 || (sampleShape.length === 1 && sampleShape[0] === 1)
        ? undefined
        : `samples of shape ${shown} do not fit an audio sensor, which needs mono samples`;
  }
}

async function* ebfChunks(opts: ReplayOptions): AsyncGenerator<Chunk & { rate: number }> {
  const { header } = await readFrameFileHeader(opts.file);
  if (header.modality !== opts.modality) {
    throw new FormatError(opts.file, `holds ${header.modality} frames, but the sensor is ${opts.modality}`);
  }
  // Checked once here: a shape the modality's encoder cannot take used to fail every window,
  // hundreds of errors while health said ok (issue 14).
  const shapeProblem = sampleShapeProblem(opts.modality, header.sampleShape);
  if (shapeProblem !== undefined) throw new FormatError(opts.file, shapeProblem);
  const first = { t: Number.NaN };
  for await (const rec of readFrameRecords(opts.file)) {
    if (Number.isNaN(first.t)) first.t = rec.tMs;
    yield {
      tMs: rec.tMs - first.t,
      data: rec.data,
      shape: [rec.n, ...header.sampleShape],
      rate: header.rateHz,
    };
  }
}
