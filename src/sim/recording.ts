/**
 * A simulated recording read back from disk (the replay files `edgebind simulate` writes): its
 * truth and one stream per modality, each read and cut by sensors/replay/recording.ts as the
 * agent's replay sensor and windowing would (issue 16 item 6).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SENSOR_MODALITIES, type SensorModality, type Window } from '../pipeline/types.js';
import { loadRecording, type LoadedRecording } from '../sensors/replay/recording.js';
import { TRUTH_FILE, type Truth } from './simulate.js';

export class Recording {
  private constructor(
    readonly dir: string,
    readonly truth: Truth,
    private readonly streams: ReadonlyMap<SensorModality, LoadedRecording>,
  ) {}

  static async open(dir: string): Promise<Recording> {
    const truth = JSON.parse(await readFile(join(dir, TRUTH_FILE), 'utf8')) as Truth;
    const streams = new Map<SensorModality, LoadedRecording>();
    for (const m of SENSOR_MODALITIES) streams.set(m, await loadRecording(join(dir, truth.files[m]), m, m));
    return new Recording(dir, truth, streams);
  }

  /** The window of `modality` ending at `endMs` and `lengthMs` long, or undefined if it does not fit. */
  window(modality: SensorModality, endMs: number, lengthMs: number): Window | undefined {
    return this.streams.get(modality)!.window(endMs, lengthMs);
  }
}
