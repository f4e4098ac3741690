/**
 * A simulated recording read back from disk (the replay files `edgebind simulate` writes), with
 * windows cut exactly as the agent's windowing would: the samples (or frames) in [end − length, end).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SensorModality, Window } from '../pipeline/types.js';
import { readFrameFileHeader, readFrameRecords } from '../sensors/formats/frame-file.js';
import { interleaved, loadAudio } from '../sensors/formats/audio-file.js';
import { TRUTH_FILE, type Truth } from './simulate.js';

interface Stream {
  rateHz: number;
  /** Values per sample (1 audio, 6 IMU, h·w images). */
  size: number;
  sampleShape: number[];
  /** Time of each sample, ms. */
  times: Float64Array;
  data: Float32Array;
}

export class Recording {
  private constructor(
    readonly dir: string,
    readonly truth: Truth,
    private readonly streams: Record<SensorModality, Stream>,
  ) {}

  static async open(dir: string): Promise<Recording> {
    const truth = JSON.parse(await readFile(join(dir, TRUTH_FILE), 'utf8')) as Truth;
    // The one audio loader, as the replay sensor hears the same file (issue 20 item 2).
    const wav = loadAudio(await readFile(join(dir, truth.files.audio)), truth.files.audio);
    const c = wav.channels.length;
    const n = wav.channels[0]!.length;
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) times[i] = (i * 1000) / wav.sampleRateHz;
    const streams = {
      audio: {
        rateHz: wav.sampleRateHz,
        size: c,
        sampleShape: c === 1 ? [] : [c],
        times,
        data: interleaved(wav.channels),
      },
      thermal: await readStream(join(dir, truth.files.thermal)),
      depth: await readStream(join(dir, truth.files.depth)),
      imu: await readStream(join(dir, truth.files.imu)),
    };
    return new Recording(dir, truth, streams);
  }

  /** The window of `modality` ending at `endMs` and `lengthMs` long, or undefined if it does not fit. */
  window(modality: SensorModality, endMs: number, lengthMs: number): Window | undefined {
    const s = this.streams[modality];
    const startMs = endMs - lengthMs;
    if (startMs < 0) return undefined;
    const first = lowerBound(s.times, startMs - 1e-6);
    const count = Math.round((lengthMs / 1000) * s.rateHz);
    if (first + count > s.times.length) return undefined;
    const data = s.data.slice(first * s.size, (first + count) * s.size);
    return {
      sensorId: modality,
      modality,
      seq: 0,
      startMs,
      endMs,
      startWallMs: startMs,
      endWallMs: endMs,
      rateHz: s.rateHz,
      data,
      shape: [count, ...s.sampleShape],
    };
  }
}

async function readStream(file: string): Promise<Stream> {
  const { header } = await readFrameFileHeader(file);
  const size = header.sampleShape.reduce((a, b) => a * b, 1);
  const chunks: Float32Array[] = [];
  const times: number[] = [];
  for await (const rec of readFrameRecords(file)) {
    chunks.push(rec.data);
    for (let k = 0; k < rec.n; k++) times.push(rec.tMs + (k * 1000) / header.rateHz);
  }
  const data = new Float32Array(times.length * size);
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  return {
    rateHz: header.rateHz,
    size,
    sampleShape: header.sampleShape,
    times: Float64Array.from(times),
    data,
  };
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
