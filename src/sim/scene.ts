/**
 * A simulated scene: one room and a timeline of events. Every renderer (audio, thermal, depth,
 * IMU, RGB anchor camera) reads the same scene, so the streams stay synchronised.
 */
import { TRANSIENT, type SimClass } from './classes.js';
import type { Rng } from './random.js';

export interface Room {
  /** Seed of the room's static details (furniture, fixed-pattern noise). */
  seed: number;
  wallTempC: number;
  /** °C added from the top row to the bottom row (warm floor or cold draught). */
  gradientC: number;
  thermalNoiseC: number;
  /** Depth of the back wall, mm. */
  backWallMm: number;
  /** Image row (0 top, 1 bottom) where the floor meets the back wall. */
  horizon: number;
  depthNoise: number;
  /** Fraction of depth pixels that randomly read 0. */
  invalidFraction: number;
  /** Audio room tone RMS. */
  noiseRms: number;
  /** Mains hum level (0 = none) and frequency. */
  humLevel: number;
  humHz: number;
  /** Comb-filter reverb feedback, 0..0.6. */
  reverb: number;
  /** Gravity in the device frame (how the unit is mounted), m/s². */
  gravity: [number, number, number];
  imuNoise: number;
  wallRgb: [number, number, number];
  floorRgb: [number, number, number];
  light: number;
}

export interface SceneEvent {
  cls: SimClass;
  /** Ground-truth interval, seconds from the start of the scene. */
  startS: number;
  endS: number;
  /** Horizontal position in the sensors' view, 0 (left) .. 1 (right). */
  x: number;
  /** Distance from the device, m. */
  distM: number;
  /** Loudness / intensity factor around 1. */
  gain: number;
  /** Seed of the event's own details (bark times, flame flicker, ...). */
  seed: number;
  /** Walking direction and speed, view widths per second (person_walking). */
  speed?: number;
}

export interface Scene {
  name: string;
  seed: number;
  durationS: number;
  room: Room;
  events: SceneEvent[];
}

export function randomRoom(rng: Rng): Room {
  const tilt = rng.uniform(-0.15, 0.15);
  const roll = rng.uniform(-0.15, 0.15);
  const g = 9.81;
  // Wall-mounted unit: gravity mostly along -y, tilted by the mounting.
  const gravity: [number, number, number] = [
    g * Math.sin(roll),
    -g * Math.cos(roll) * Math.cos(tilt),
    g * Math.sin(tilt),
  ];
  const wall = rng.uniform(0.35, 0.9);
  return {
    seed: rng.int(0, 2 ** 31),
    wallTempC: rng.uniform(16, 26),
    gradientC: rng.uniform(-1.5, 2),
    thermalNoiseC: rng.uniform(0.08, 0.35),
    backWallMm: rng.uniform(3000, 6500),
    horizon: rng.uniform(0.5, 0.65),
    depthNoise: rng.uniform(1, 3),
    invalidFraction: rng.uniform(0.005, 0.05),
    noiseRms: 10 ** rng.uniform(-3.3, -2),
    humLevel: rng.chance(0.4) ? 10 ** rng.uniform(-3.3, -2.3) : 0,
    humHz: rng.pick([50, 60]),
    reverb: rng.uniform(0.05, 0.5),
    gravity,
    imuNoise: rng.uniform(0.01, 0.04),
    wallRgb: [wall * rng.uniform(0.8, 1), wall * rng.uniform(0.8, 1), wall * rng.uniform(0.75, 1)],
    floorRgb: [rng.uniform(0.2, 0.6), rng.uniform(0.15, 0.45), rng.uniform(0.1, 0.35)],
    light: rng.uniform(0.6, 1.1),
  };
}

/** Typical distance range (m) per class: where such a thing plausibly is in a room. */
function distanceFor(cls: SimClass, rng: Rng): number {
  switch (cls) {
    case 'device_tampering':
      return rng.uniform(0.1, 0.3);
    case 'siren':
      return rng.uniform(20, 200); // outside
    case 'dog_barking':
      return rng.uniform(1.5, 4);
    default:
      return rng.uniform(1.6, 4.5);
  }
}

/** An event of `cls` over [startS, endS] with random placement and intensity. */
export function randomEvent(cls: SimClass, startS: number, endS: number, rng: Rng): SceneEvent {
  const ev: SceneEvent = {
    cls,
    startS,
    endS,
    x: rng.uniform(0.25, 0.75),
    distM: distanceFor(cls, rng),
    gain: 10 ** rng.uniform(-0.3, 0.2),
    seed: rng.int(0, 2 ** 31),
  };
  if (cls === 'person_walking') ev.speed = rng.uniform(0.05, 0.14) * (rng.chance(0.5) ? 1 : -1);
  return ev;
}

export function isTransient(cls: SimClass): boolean {
  return TRANSIENT.has(cls);
}

/** Horizontal position of a walking person at time t: walks and turns at the edges of the view. */
export function walkerX(ev: SceneEvent, t: number): number {
  const lo = 0.2;
  const hi = 0.8;
  const span = hi - lo;
  const s = (ev.speed ?? 0.1) * (t - ev.startS);
  let p = (ev.x - lo + s) % (2 * span);
  if (p < 0) p += 2 * span;
  return lo + (p <= span ? p : 2 * span - p);
}

/** Events active (in their ground-truth interval) at time t. */
export function activeAt(scene: Scene, t: number): SceneEvent[] {
  return scene.events.filter((e) => t >= e.startS && t < e.endS);
}
