/**
 * A recording file cut into windows, the one way every offline user does it (issue 16 item 6):
 * `embed`, `classify`, `label from-example` and the simulator's evaluation (sim/recording.ts) all
 * read the file through the replay sensor (`replayFrames` at speed 0, so through the one audio
 * loader and the frame-file reader) and cut it as the agent's windowing does.
 *
 * - `cutRecording` / `recordingWindows`: rolling windows from `pipeline/windows.ts`, exactly the
 *   agent's, with the modality's default or the given length and hop;
 * - `loadRecording`: the whole recording in memory, for windows ending at any moment (the
 *   simulator evaluates at moments taken from its truth file).
 *
 * Embedding the windows is the encoders' (`encoders/embed.ts` `embedWindows`).
 */
import { DEFAULT_WINDOWS } from '../../config/schema.js';
import { FormatError } from '../../errors.js';
import { ManualClock } from '../../pipeline/clock.js';
import type { Frame, SensorModality, Window } from '../../pipeline/types.js';
import { windows } from '../../pipeline/windows.js';
import { replayFrames } from './replay.js';

export interface RecordingWindowsOptions {
  file: string;
  modality: SensorModality;
  /** Default: the modality's default window (config `sensors[].window`). */
  window?: { lengthMs: number; hopMs: number };
  /**
   * One window holding the whole recording instead of rolling windows. For audio that is
   * ImageBind's own file embedding: its clip sampler spreads 3 clips of 2 s over the whole file
   * (padded when the file is shorter), issue 20 item 3.
   */
  whole?: boolean;
  sensorId?: string;
}

/** The recording's frames as the replay sensor plays them at speed 0, times from 0. */
function fileFrames(file: string, modality: SensorModality, sensorId = 'file'): AsyncGenerator<Frame> {
  const clock = new ManualClock(0);
  return replayFrames(
    { sensorId, modality, file, speed: 0, loop: false, clock },
    new AbortController().signal,
  );
}

/** Every window of the recording, in order; times start at 0 at the recording's start. */
export async function recordingWindows(opts: RecordingWindowsOptions): Promise<Window[]> {
  return (await cutRecording(opts)).windows;
}

/**
 * The recording's windows; a recording shorter than one window (which the agent would never
 * embed) gives one window holding all of it, flagged `shorterThanWindow`, and so does `whole`.
 */
export async function cutRecording(
  opts: RecordingWindowsOptions,
): Promise<{ windows: Window[]; shorterThanWindow: boolean }> {
  if (opts.whole) {
    const rec = await loadRecording(opts.file, opts.modality, opts.sensorId);
    if (rec.samples === 0) throw new FormatError(opts.file, `no ${opts.modality} samples in the recording`);
    return { windows: [rec.whole()], shorterThanWindow: false };
  }
  const frames = fileFrames(opts.file, opts.modality, opts.sensorId);
  // Frames are kept only until the first window is cut, to make one window of a recording that
  // is shorter than a window (issue #13).
  const early: Frame[] = [];
  const out: Window[] = [];
  async function* keep(): AsyncGenerator<Frame> {
    for await (const f of frames) {
      if (out.length === 0) early.push(f);
      yield f;
    }
  }
  const clock = new ManualClock(0);
  for await (const w of windows(keep(), { ...(opts.window ?? DEFAULT_WINDOWS[opts.modality]), clock })) {
    out.push({ ...w, data: Float32Array.from(w.data) });
    early.length = 0;
  }
  if (out.length > 0 || early.length === 0) return { windows: out, shorterThanWindow: false };
  return { windows: [new LoadedRecording(early, opts.file).whole()], shorterThanWindow: true };
}

/** A whole recording read into memory (`loadRecording`). */
export class LoadedRecording {
  readonly sensorId: string;
  readonly modality: SensorModality;
  readonly rateHz: number;
  /** Shape of one sample: `[]` mono audio, `[channels]`, `[6]` IMU, `[h, w]` images. */
  readonly sampleShape: readonly number[];
  /** Samples (or image frames) in the recording. */
  readonly samples: number;
  /** Time of each sample, ms from the recording's start. */
  private readonly times: Float64Array;
  /** Every sample, sample-major. */
  private readonly data: Float32Array;
  private readonly startMs: number;
  private readonly endMs: number;

  /** `frames`: one stream's frames in order, all of one sample shape. */
  constructor(frames: readonly Frame[], file: string) {
    const first = frames[0];
    this.sensorId = first?.sensorId ?? 'file';
    this.modality = first?.modality ?? 'audio';
    this.rateHz = first?.rateHz ?? 0;
    this.sampleShape = first?.shape.slice(1) ?? [];
    let n = 0;
    let values = 0;
    for (const f of frames) {
      if (
        f.shape.length !== first!.shape.length ||
        f.shape.slice(1).some((d, i) => d !== this.sampleShape[i])
      )
        throw new FormatError(
          file,
          `frames change shape from ${first!.shape.join('×')} to ${f.shape.join('×')}`,
        );
      n += f.shape[0] ?? 0;
      values += f.data.length;
    }
    this.samples = n;
    this.data = new Float32Array(values);
    this.times = new Float64Array(n);
    let at = 0;
    let k = 0;
    for (const f of frames) {
      this.data.set(f.data, at);
      at += f.data.length;
      for (let i = 0; i < (f.shape[0] ?? 0); i++) this.times[k++] = f.tMs + (i * 1000) / f.rateHz;
    }
    const last = frames[frames.length - 1];
    this.startMs = first?.tMs ?? 0;
    this.endMs = last ? last.tMs + ((last.shape[0] ?? 0) / last.rateHz) * 1000 : 0;
  }

  /**
   * One window holding the whole recording (shorter than a window, or `whole`). The encoder pads
   * it as ImageBind pads a short clip (audio: the fbank frames are padded to the target length;
   * IMU: the first sample is repeated before the start; thermal and depth: the frames there are).
   */
  whole(): Window {
    return {
      sensorId: this.sensorId,
      modality: this.modality,
      seq: 0,
      startMs: this.startMs,
      endMs: this.endMs,
      startWallMs: this.startMs,
      endWallMs: this.endMs,
      rateHz: this.rateHz,
      data: this.data.slice(),
      shape: [this.samples, ...this.sampleShape],
    };
  }

  /**
   * The window `lengthMs` long ending at `endMs` — the samples in [end − length, end), as the
   * agent's windowing cuts them — or undefined when it does not fit in the recording.
   */
  window(endMs: number, lengthMs: number): Window | undefined {
    const startMs = endMs - lengthMs;
    if (startMs < 0) return undefined;
    const first = lowerBound(this.times, startMs - 1e-6);
    const count = Math.round((lengthMs / 1000) * this.rateHz);
    if (first + count > this.samples) return undefined;
    const size = this.sampleShape.reduce((a, b) => a * b, 1);
    return {
      sensorId: this.sensorId,
      modality: this.modality,
      seq: 0,
      startMs,
      endMs,
      startWallMs: startMs,
      endWallMs: endMs,
      rateHz: this.rateHz,
      data: this.data.slice(first * size, (first + count) * size),
      shape: [count, ...this.sampleShape],
    };
  }
}

/** The whole recording in memory, read as the replay sensor reads it. */
export async function loadRecording(
  file: string,
  modality: SensorModality,
  sensorId?: string,
): Promise<LoadedRecording> {
  const frames: Frame[] = [];
  for await (const f of fileFrames(file, modality, sensorId)) frames.push(f);
  return new LoadedRecording(frames, file);
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
