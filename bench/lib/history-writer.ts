/**
 * The history benchmarks' common setup (bench/history.ts, bench/history-block.ts): four sensors,
 * a writer that keeps everything (a year, 64 GiB) with its clock a day after T0, and the window
 * that the i-th pushed vector stands for (sensors in turn, 1 window/s each from T0).
 */
import pino from 'pino';
import { HistoryWriter } from '../../src/history/writer.js';
import type { SensorModality, Window } from '../../src/pipeline/types.js';

export const SENSORS: { id: string; modality: SensorModality }[] = [
  { id: 'mic', modality: 'audio' },
  { id: 'thermal', modality: 'thermal' },
  { id: 'depth', modality: 'depth' },
  { id: 'imu', modality: 'imu' },
];
export const T0 = Date.UTC(2026, 11, 5, 0, 0, 0);

export const benchWriter = (dir: string, dim: number) =>
  new HistoryWriter({
    dir,
    deviceId: 'bench',
    dim,
    pack: { id: 'bench', version: '1' },
    sensors: SENSORS,
    maxAgeS: 366 * 24 * 3600,
    maxBytes: 64 * 1024 * 1024 * 1024,
    queueWindows: 4096,
    now: () => T0 + 25 * 3600_000,
    logger: pino({ level: 'silent' }),
  });

/** The i-th window; `data` is carried along only (the writer stores the vector it is given). */
export function benchWindow(i: number, data: Float32Array): Window {
  const s = SENSORS[i % 4]!;
  const start = T0 + Math.floor(i / 4) * 1000;
  return {
    sensorId: s.id,
    modality: s.modality,
    seq: i,
    startMs: 0,
    endMs: 2000,
    startWallMs: start,
    endWallMs: start + 2000,
    rateHz: 1,
    data,
    shape: [0],
  };
}
