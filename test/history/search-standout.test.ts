/**
 * Which windows "stand out" and join a moment (issue #18): a class that fills a tenth of a
 * modality's windows, in a history whose scores for that modality are spread wide (other classes
 * far below, unrelated ones), must still come first. Files written by the real HistoryWriter.
 * Under the former rule (2 standard deviations above the modality's mean) the class's windows lay
 * below the bar and a thermal window of no interest came first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { searchHistory } from '../../src/history/search.js';
import { HistoryWriter } from '../../src/history/writer.js';
import type { SensorModality, Window } from '../../src/pipeline/types.js';
import { normalizeInPlace } from '../../src/util/vectors.js';
import { tempDir } from '../helpers/agent-config.js';

const T0 = Date.UTC(2026, 11, 5, 22, 0, 0);
const DIM = 64;

function win(sensorId: string, modality: SensorModality, startWallMs: number): Window {
  return {
    sensorId,
    modality,
    seq: 0,
    startMs: 0,
    endMs: 1000,
    startWallMs,
    endWallMs: startWallMs + 1000,
    rateHz: 1,
    data: new Float32Array(0),
    shape: [0],
  };
}

let seed = 11;
function random(): Float32Array {
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    v[i] = seed / 2 ** 32 - 0.5;
  }
  return normalizeInPlace(v);
}

/** A unit vector whose cosine with the unit `q` is `c`. */
function withCosine(q: Float32Array, c: number): Float32Array {
  const u = random();
  let d = 0;
  for (let i = 0; i < DIM; i++) d += u[i]! * q[i]!;
  for (let i = 0; i < DIM; i++) u[i] = u[i]! - d * q[i]!;
  normalizeInPlace(u);
  return normalizeInPlace(q.map((x, i) => c * x + Math.sqrt(1 - c * c) * u[i]!));
}

test('a class filling a tenth of a widely spread modality comes first', async () => {
  const dir = tempDir('history-standout');
  const w = new HistoryWriter({
    dir,
    deviceId: 'dev',
    dim: DIM,
    pack: { id: 'p', version: '1' },
    sensors: [
      { id: 'mic', modality: 'audio' },
      { id: 'thermal', modality: 'thermal' },
    ],
    maxAgeS: 24 * 3600,
    maxBytes: 64 * 1024 * 1024,
    now: () => T0 + 3600_000,
    logger: pino({ level: 'silent' }),
  });
  const q = random();
  // Audio, 300 windows 2 s apart (no two touch): 40 % far from the query (-0.5), 50 % near the
  // middle (0.3), and the class, windows 100-129 (0.7): mean 0.02, σ 0.44, so 2 σ is at 0.9.
  // Thermal: the same times, cosines about 0.1 with one window at 0.45 (z about 4).
  for (let i = 0; i < 300; i++) {
    const t = T0 + i * 2000;
    const audio = i >= 100 && i < 130 ? 0.7 : i % 5 < 2 ? -0.5 : 0.3;
    w.push(win('mic', 'audio', t), withCosine(q, audio));
    w.push(
      win('thermal', 'thermal', t + 500_000),
      withCosine(q, i === 200 ? 0.45 : 0.1 + 0.05 * ((i % 7) / 6)),
    );
  }
  await w.close();
  const { moments, stats } = await searchHistory({ dir, query: { vector: q }, top: 3, gapMs: 500 });
  const audio = stats.scoreStats.audio!;
  assert.ok(audio.mean + 2 * audio.std > 0.72, `the former rule's bar ${audio.mean + 2 * audio.std}`);
  assert.equal(moments[0]!.best.modality, 'audio');
  assert.ok(moments[0]!.startWallMs >= T0 + 100 * 2000 && moments[0]!.endWallMs <= T0 + 130 * 2000);
  assert.ok(Math.abs(moments[0]!.score - 0.7) < 0.02, `score ${moments[0]!.score}`);
  // No window of the 0.3 middle joins a moment: they are below half the way to the best.
  for (const m of moments) if (m.best.modality === 'audio') assert.ok(m.score > 0.6, `score ${m.score}`);
});
