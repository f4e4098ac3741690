/**
 * IMU of the wall-mounted device (accel x,y,z m/s², gyro x,y,z rad/s): gravity in the mounting's
 * frame, sensor noise, floor and wall shocks, machine vibration, and a hand moving the unit.
 */
import { Rng, hashSeed, valueNoise } from './random.js';
import type { Scene, SceneEvent } from './scene.js';

export const IMU_RATE_HZ = 100;
const TAU = 2 * Math.PI;

/** Rotates v about x by a, then about z by b. */
function rotate(v: readonly number[], a: number, b: number): [number, number, number] {
  const [x, y, z] = v as [number, number, number];
  const y1 = y * Math.cos(a) - z * Math.sin(a);
  const z1 = y * Math.sin(a) + z * Math.cos(a);
  return [x * Math.cos(b) - y1 * Math.sin(b), x * Math.sin(b) + y1 * Math.cos(b), z1];
}

/** Damped oscillation added to `out` at time `at` along a unit direction. */
interface Shock {
  at: number;
  freq: number;
  decayS: number;
  amp: number;
  dir: [number, number, number];
  gyro: number;
}

function shocksOf(ev: SceneEvent, gravity: readonly number[]): Shock[] {
  const rng = new Rng(hashSeed(ev.seed, 'imu'));
  const g = Math.hypot(...gravity);
  const down = gravity.map((c) => c / g) as [number, number, number];
  const side: [number, number, number] = [down[1], -down[0], 0];
  switch (ev.cls) {
    case 'person_falling': {
      // Body hitting the floor: low, heavy ring through the building, mostly vertical.
      const impact = ev.startS + rng.uniform(0.25, 0.45);
      const amp = rng.uniform(0.4, 1.5) * ev.gain * Math.min(1.5, 2.5 / ev.distM);
      return [
        { at: impact, freq: rng.uniform(8, 18), decayS: rng.uniform(0.12, 0.25), amp, dir: down, gyro: 0.02 },
        {
          at: impact + rng.uniform(0.12, 0.3),
          freq: rng.uniform(10, 20),
          decayS: 0.1,
          amp: amp * 0.4,
          dir: down,
          gyro: 0.01,
        },
      ];
    }
    case 'door_slam': {
      // The wall the device hangs on is hit sideways: sharp, high, short.
      const at = ev.startS + rng.uniform(0.05, 0.3);
      return [
        {
          at,
          freq: rng.uniform(28, 45),
          decayS: rng.uniform(0.04, 0.09),
          amp: rng.uniform(0.8, 3) * ev.gain,
          dir: side,
          gyro: rng.uniform(0.05, 0.2),
        },
      ];
    }
    case 'person_walking': {
      const out: Shock[] = [];
      const period = rng.uniform(0.42, 0.65);
      for (let t = ev.startS; t < ev.endS; t += period) {
        out.push({ at: t, freq: 15, decayS: 0.05, amp: 0.02 / ev.distM, dir: down, gyro: 0 });
      }
      return out;
    }
    default:
      return [];
  }
}

/** IMU samples `[n, 6]` over [t0, t1) at `rateHz`. */
export function renderImu(scene: Scene, t0: number, t1: number, rateHz = IMU_RATE_HZ): Float32Array {
  const n = Math.round((t1 - t0) * rateHz);
  const out = new Float32Array(n * 6);
  const room = scene.room;
  const rng = new Rng(hashSeed(scene.seed, `imu${Math.round(t0 * 1000)}`));
  const bias = new Rng(hashSeed(room.seed, 'bias'));
  const biasA = [0, 0, 0].map(() => 0.05 * bias.gauss());
  const biasG = [0, 0, 0].map(() => 0.003 * bias.gauss());
  const shocks = scene.events.flatMap((e) => shocksOf(e, room.gravity));
  const machines = scene.events
    .filter((e) => e.cls === 'machine_vibration')
    .map((e) => {
      const r = new Rng(hashSeed(e.seed, 'imu'));
      return {
        ev: e,
        freq: r.uniform(15, 45),
        amps: [r.uniform(0.05, 1), r.uniform(0.05, 1), r.uniform(0.05, 1)].map((a) => a * e.gain),
        phase: [r.next(), r.next(), r.next()].map((p) => p * TAU),
        harm: r.uniform(0, 0.5),
        gyro: r.uniform(0.005, 0.05),
      };
    });
  const tampers = scene.events.filter((e) => e.cls === 'device_tampering');
  for (let i = 0; i < n; i++) {
    const t = t0 + i / rateHz;
    let a = [...room.gravity];
    const gy = [0, 0, 0];
    for (const e of tampers) {
      if (t < e.startS || t >= e.endS) continue;
      const ramp = Math.min(1, (t - e.startS) / 0.5, (e.endS - t) / 0.5);
      const rx = ramp * 0.8 * valueNoise(e.seed, t * 1.3);
      const rz = ramp * 0.8 * valueNoise(e.seed + 7, t * 1.1);
      a = rotate(a, rx, rz);
      const dt = 0.01;
      gy[0]! += (ramp * 0.8 * (valueNoise(e.seed, (t + dt) * 1.3) - valueNoise(e.seed, t * 1.3))) / dt;
      gy[2]! +=
        (ramp * 0.8 * (valueNoise(e.seed + 7, (t + dt) * 1.1) - valueNoise(e.seed + 7, t * 1.1))) / dt;
      // Fingers knocking and rubbing on the case.
      for (let c = 0; c < 3; c++) a[c]! += ramp * 0.6 * valueNoise(e.seed + 20 + c, t * 15);
    }
    for (const m of machines) {
      if (t < m.ev.startS || t >= m.ev.endS) continue;
      const ramp = Math.min(1, (t - m.ev.startS) / 0.3, (m.ev.endS - t) / 0.3);
      for (let c = 0; c < 3; c++) {
        const p = TAU * m.freq * t + m.phase[c]!;
        a[c]! += ramp * m.amps[c]! * (Math.sin(p) + m.harm * Math.sin(2 * p));
        gy[c]! += ramp * m.gyro * Math.sin(p + 1);
      }
    }
    for (const s of shocks) {
      const dt = t - s.at;
      if (dt < 0 || dt > s.decayS * 8) continue;
      const v = s.amp * Math.exp(-dt / s.decayS) * Math.sin(TAU * s.freq * dt);
      for (let c = 0; c < 3; c++) {
        a[c]! += v * s.dir[c]!;
        gy[c]! += ((s.gyro * v) / Math.max(s.amp, 1e-6)) * (c === 2 ? 1 : 0.3);
      }
    }
    for (let c = 0; c < 3; c++) {
      out[i * 6 + c] = a[c]! + biasA[c]! + room.imuNoise * rng.gauss();
      out[i * 6 + 3 + c] = gy[c]! + biasG[c]! + room.imuNoise * 0.1 * rng.gauss();
    }
  }
  return out;
}
