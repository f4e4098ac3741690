/**
 * Windows of a recording file cut exactly as the agent cuts them (replay at speed 0 → rolling
 * windows with the modality's default or the given length and hop), for the offline commands
 * (`classify`, `label from-example`).
 */
import { basename } from 'node:path';
import { DEFAULT_WINDOWS } from '../config/schema.js';
import { EncoderError, FormatError } from '../errors.js';
import type { EncoderSet } from '../encoders/types.js';
import { ManualClock } from '../pipeline/clock.js';
import type { Frame, SensorModality, Window } from '../pipeline/types.js';
import { windows } from '../pipeline/windows.js';
import { replayFrames } from '../sensors/replay/replay.js';
import { encodePrototype, prototypeOf, type PrototypeFile } from './prototype.js';
import { allFinite } from '../util/vectors.js';

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
  if (opts.whole) return { windows: [await wholeFile(opts)], shorterThanWindow: false };
  const clock = new ManualClock(0);
  const signal = new AbortController().signal;
  const frames = replayFrames(
    {
      sensorId: opts.sensorId ?? 'file',
      modality: opts.modality,
      file: opts.file,
      speed: 0,
      loop: false,
      clock,
    },
    signal,
  );
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
  for await (const w of windows(keep(), { ...(opts.window ?? DEFAULT_WINDOWS[opts.modality]), clock })) {
    out.push({ ...w, data: Float32Array.from(w.data) });
    early.length = 0;
  }
  if (out.length > 0 || early.length === 0) return { windows: out, shorterThanWindow: false };
  return { windows: [wholeRecording(early, opts.file)], shorterThanWindow: true };
}

/** One window holding every frame of the recording (`whole`). */
async function wholeFile(opts: RecordingWindowsOptions): Promise<Window> {
  const all: Frame[] = [];
  const frames = replayFrames(
    {
      sensorId: opts.sensorId ?? 'file',
      modality: opts.modality,
      file: opts.file,
      speed: 0,
      loop: false,
      clock: new ManualClock(0),
    },
    new AbortController().signal,
  );
  for await (const f of frames) all.push(f);
  if (all.length === 0) throw new FormatError(opts.file, `no ${opts.modality} samples in the recording`);
  return wholeRecording(all, opts.file);
}

/**
 * One window holding a whole recording (shorter than a window, or `whole`). The encoder pads it as ImageBind
 * pads a short clip (audio: the fbank frames are padded to the target length; IMU: the first
 * sample is repeated before the start; thermal and depth: the frames there are).
 */
function wholeRecording(frames: readonly Frame[], file: string): Window {
  const first = frames[0]!;
  const sampleShape = first.shape.slice(1);
  let n = 0;
  for (const f of frames) {
    if (f.shape.length !== first.shape.length || f.shape.slice(1).some((d, i) => d !== sampleShape[i]))
      throw new FormatError(
        file,
        `frames change shape from ${first.shape.join('×')} to ${f.shape.join('×')}`,
      );
    n += f.shape[0] ?? 0;
  }
  const data = new Float32Array(frames.reduce((a, f) => a + f.data.length, 0));
  let at = 0;
  for (const f of frames) {
    data.set(f.data, at);
    at += f.data.length;
  }
  const last = frames[frames.length - 1]!;
  const endMs = last.tMs + ((last.shape[0] ?? 0) / last.rateHz) * 1000;
  return {
    sensorId: first.sensorId,
    modality: first.modality,
    seq: 0,
    startMs: first.tMs,
    endMs,
    startWallMs: first.tMs,
    endWallMs: endMs,
    rateHz: first.rateHz,
    data,
    shape: [n, ...sampleShape],
  };
}

/** Unit embeddings of windows, in batches of `batch`. */
export async function embedWindows(
  encoders: EncoderSet,
  modality: SensorModality,
  ws: readonly Window[],
  batch = 8,
): Promise<Float32Array[]> {
  const encoder = encoders.windows.get(modality);
  if (!encoder) throw new TypeError(`the encoders have no ${modality} encoder`);
  const out: Float32Array[] = [];
  for (let i = 0; i < ws.length; i += batch) out.push(...(await encoder.embed(ws.slice(i, i + batch))));
  return out;
}

/**
 * A few-shot prototype from example recordings: each file's windows are embedded and averaged
 * (unit vectors, mean direction), then the files are averaged, so a long file counts as much as
 * a short one.
 */
export async function prototypeFromFiles(opts: {
  encoders: EncoderSet;
  modality: SensorModality;
  files: readonly string[];
  window?: { lengthMs: number; hopMs: number };
  /** Each file's embedding is its whole-file embedding (one window, ImageBind's for audio). */
  whole?: boolean;
  /** Told how many windows of `file` the encoder embedded to NaN or ±Infinity (left out). */
  onNonFinite?: (file: string, windows: number, of: number) => void;
}): Promise<PrototypeFile> {
  if (opts.files.length === 0) throw new TypeError('prototypeFromFiles: no files');
  const perFile: Float32Array[][] = [];
  const sources: { file: string; windows: number }[] = [];
  for (const file of opts.files) {
    const ws = await recordingWindows({
      file,
      modality: opts.modality,
      ...(opts.window ? { window: opts.window } : {}),
      ...(opts.whole ? { whole: true } : {}),
    });
    if (ws.length === 0) {
      throw new FormatError(file, `no ${opts.modality} samples in the recording; nothing to learn from`);
    }
    // A window the encoder turned into NaN or ±Infinity is left out and counted, never averaged
    // in: one such value would make the prototype, and every score against it, NaN (issue 14).
    const embedded = await embedWindows(opts.encoders, opts.modality, ws);
    const finite = embedded.filter(allFinite);
    if (finite.length < embedded.length) opts.onNonFinite?.(file, embedded.length - finite.length, ws.length);
    if (finite.length === 0) {
      throw new EncoderError(
        opts.modality,
        `${file}: the ${opts.modality} encoder produced NaN or infinite values for all ${ws.length} windows; no prototype made`,
      );
    }
    perFile.push(finite);
    sources.push({ file: basename(file), windows: finite.length });
  }
  return encodePrototype({
    modality: opts.modality,
    pack: opts.encoders.pack,
    sources,
    vector: prototypeOf(perFile),
  });
}
