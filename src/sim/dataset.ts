/**
 * Labelled training / evaluation samples: one short scene per sample with a single event class
 * (or none), cut into the windows the agent would see at the moment `tc` (audio 2 s, thermal and
 * depth 1 s, IMU 5 s, all ending at `tc`) plus the RGB anchor-camera frame at that moment.
 */
import type { SensorModality, Window } from '../pipeline/types.js';
import { SIM_CLASSES, type SimClass } from './classes.js';
import { MINI_WINDOWS, SIM_RATES } from './pack-params.js';
import { Rng, hashSeed } from './random.js';
import { renderAudio } from './render-audio.js';
import { renderDepth, renderRgb, renderThermal } from './render-images.js';
import { renderImu } from './render-imu.js';
import { isTransient, randomEvent, randomRoom, type Scene } from './scene.js';
import { RGB_SIZE } from './simulate.js';

export interface Sample {
  cls: SimClass;
  seed: number;
  windows: Record<SensorModality, Window>;
  /** `[3, 32, 32]` in [0, 1]. */
  rgb: Float32Array;
}

const TC = 6;

export function sampleScene(cls: SimClass, seed: number): Scene {
  const rng = new Rng(seed);
  const room = randomRoom(rng.fork('room'));
  const scene: Scene = { name: `sample-${cls}`, seed, durationS: TC + 2, room, events: [] };
  if (cls !== 'empty_room') {
    const start = isTransient(cls)
      ? rng.uniform(4.0, cls === 'person_falling' ? 5.1 : 5.6)
      : rng.uniform(0, 2);
    scene.events.push(randomEvent(cls, start, TC + 2, rng));
  }
  return scene;
}

function window(
  modality: SensorModality,
  data: Float32Array,
  shape: number[],
  rateHz: number,
  tc: number,
): Window {
  const lengthMs = MINI_WINDOWS[modality].lengthMs;
  return {
    sensorId: modality,
    modality,
    seq: 0,
    startMs: tc * 1000 - lengthMs,
    endMs: tc * 1000,
    startWallMs: tc * 1000 - lengthMs,
    endWallMs: tc * 1000,
    rateHz,
    data,
    shape,
  };
}

function frames(
  render: (t: number) => Float32Array,
  rateHz: number,
  lengthS: number,
  tc: number,
  size: number,
) {
  const n = Math.round(lengthS * rateHz);
  const data = new Float32Array(n * size);
  for (let f = 0; f < n; f++) data.set(render(tc - lengthS + f / rateHz), f * size);
  return { data, n };
}

/** The windows and anchor frame of one sample (deterministic in cls and seed). */
export function makeSample(cls: SimClass, seed: number, modalities?: readonly SensorModality[]): Sample {
  const scene = sampleScene(cls, seed);
  const want = (m: SensorModality) => !modalities || modalities.includes(m);
  const empty = (m: SensorModality) => window(m, new Float32Array(0), [0], 1, TC);
  const aLen = MINI_WINDOWS.audio.lengthMs / 1000;
  const audio = want('audio')
    ? window('audio', renderAudio(scene, TC - aLen, TC), [aLen * SIM_RATES.audioHz], SIM_RATES.audioHz, TC)
    : empty('audio');
  let thermal = empty('thermal');
  if (want('thermal')) {
    const th = frames(
      (t) => renderThermal(scene, t),
      SIM_RATES.thermalHz,
      MINI_WINDOWS.thermal.lengthMs / 1000,
      TC,
      768,
    );
    thermal = window('thermal', th.data, [th.n, 24, 32], SIM_RATES.thermalHz, TC);
  }
  let depth = empty('depth');
  if (want('depth')) {
    const de = frames(
      (t) => renderDepth(scene, t),
      SIM_RATES.depthHz,
      MINI_WINDOWS.depth.lengthMs / 1000,
      TC,
      4800,
    );
    depth = window('depth', de.data, [de.n, 60, 80], SIM_RATES.depthHz, TC);
  }
  let imu = empty('imu');
  if (want('imu')) {
    const iLen = MINI_WINDOWS.imu.lengthMs / 1000;
    const data = renderImu(scene, TC - iLen, TC, SIM_RATES.imuHz);
    imu = window('imu', data, [data.length / 6, 6], SIM_RATES.imuHz, TC);
  }
  return {
    cls,
    seed,
    windows: { audio, thermal, depth, imu },
    rgb: renderRgb(scene, TC - 0.1, RGB_SIZE),
  };
}

/** `perClass` samples of every class, interleaved, seeds derived from `baseSeed`. */
export function* samples(
  baseSeed: number,
  perClass: number,
  classes: readonly SimClass[] = SIM_CLASSES,
): Generator<{ cls: SimClass; seed: number; index: number }> {
  let index = 0;
  for (let i = 0; i < perClass; i++) {
    for (const cls of classes) yield { cls, seed: hashSeed(baseSeed, `${cls}:${i}`), index: index++ };
  }
}
