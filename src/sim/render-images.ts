/**
 * Thermal (°C), depth (mm) and RGB anchor-camera frames of a scene at time t. One geometric
 * description of what is in view (bodies, flames, a hand over the sensor) feeds all three, so the
 * streams agree. Coordinates: u across (0 left, 1 right), v down (0 top, 1 bottom), both over the
 * full sensor frame; the agent's preprocessing keeps the central square, u in [0.125, 0.875].
 */
import { Rng, hashSeed, valueNoise } from './random.js';
import { activeAt, walkerX, type Room, type Scene, type SceneEvent } from './scene.js';

/** A capsule (segment with radius), in units of image height; `part` picks the material. */
interface Segment {
  ax: number;
  ay: number;
  bx: number;
  by: number;
  r: number;
  part: 'head' | 'body' | 'dog' | 'dogHead';
}

interface Figure {
  ev: SceneEvent;
  segments: Segment[];
  depthMm: number;
}

interface Furniture {
  u0: number;
  u1: number;
  v0: number;
  depthMm: number;
  tempC: number;
  rgb: [number, number, number];
}

/** Image row where the floor is `distM` away. */
export function floorRow(room: Room, distM: number): number {
  return room.horizon + (0.9 * (1 - room.horizon)) / Math.max(0.9, distM);
}

function furniture(room: Room): Furniture[] {
  const rng = new Rng(hashSeed(room.seed, 'furniture'));
  const items: Furniture[] = [];
  const n = rng.int(0, 3);
  for (let i = 0; i < n; i++) {
    const u0 = rng.uniform(0, 0.85);
    const depthMm = rng.uniform(1800, room.backWallMm - 300);
    const c = rng.uniform(0.15, 0.6);
    items.push({
      u0,
      u1: u0 + rng.uniform(0.08, 0.3),
      v0: floorRow(room, depthMm / 1000) - rng.uniform(0.1, 0.35),
      depthMm,
      tempC: room.wallTempC + rng.uniform(-1, 1.5),
      rgb: [c * rng.uniform(0.8, 1.3), c, c * rng.uniform(0.6, 1)],
    });
  }
  return items;
}

/** Person skeleton around the feet at (x, vf), rotated by `angle` (0 standing, ±π/2 lying). */
function personSegments(
  x: number,
  vf: number,
  h: number,
  angle: number,
  stride: number,
  aspect: number,
): Segment[] {
  const local: [number, number, number, number, number, Segment['part']][] = [
    [0, -0.9, 0, -0.9, 0.075, 'head'],
    [0, -0.78, 0, -0.47, 0.1, 'body'],
    [0, -0.47, stride, 0, 0.05, 'body'],
    [0, -0.47, -stride, 0, 0.05, 'body'],
    [0, -0.76, 0.07, -0.5, 0.04, 'body'],
    [0, -0.76, -0.07, -0.5, 0.04, 'body'],
  ];
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const px = x * aspect;
  return local.map(([ax, ay, bx, by, r, part]) => ({
    ax: px + (ax * c - ay * s) * h,
    ay: vf + (ax * s + ay * c) * h,
    bx: px + (bx * c - by * s) * h,
    by: vf + (bx * s + by * c) * h,
    r: r * h,
    part,
  }));
}

function dogSegments(x: number, vf: number, h: number, facing: number, aspect: number, t: number): Segment[] {
  const px = x * aspect;
  const L = 0.5 * h;
  const bodyY = vf - 0.55 * h;
  const leg = 0.05 * h * Math.sin(t * 9);
  const headLift = 0.08 * h * Math.max(0, Math.sin(t * 11));
  return [
    { ax: px - L / 2, ay: bodyY, bx: px + L / 2, by: bodyY, r: 0.17 * h, part: 'dog' },
    {
      ax: px + (facing * L) / 2 + facing * 0.15 * h,
      ay: bodyY - 0.2 * h - headLift,
      bx: px + (facing * L) / 2 + facing * 0.25 * h,
      by: bodyY - 0.15 * h - headLift,
      r: 0.12 * h,
      part: 'dogHead',
    },
    { ax: px - L / 2, ay: bodyY, bx: px - L / 2 + leg, by: vf, r: 0.05 * h, part: 'dog' },
    { ax: px + L / 2, ay: bodyY, bx: px + L / 2 - leg, by: vf, r: 0.05 * h, part: 'dog' },
  ];
}

const FALL_S = 0.6;

/** Bodies in view at time t (people and dogs), in the frame's aspect-scaled coordinates. */
function figures(scene: Scene, t: number, aspect: number): Figure[] {
  const out: Figure[] = [];
  const room = scene.room;
  for (const ev of activeAt(scene, t)) {
    const d = ev.distM;
    const vf = floorRow(room, d);
    const h = Math.min(0.95, 1.55 / d);
    const rng = new Rng(ev.seed);
    switch (ev.cls) {
      case 'person_walking': {
        const stride = 0.12 * Math.sin(2 * Math.PI * 0.95 * (t - ev.startS));
        out.push({
          ev,
          depthMm: d * 1000,
          segments: personSegments(walkerX(ev, t), vf, h, 0, stride, aspect),
        });
        break;
      }
      case 'person_falling': {
        const dir = rng.chance(0.5) ? 1 : -1;
        const k = Math.min(1, Math.max(0, (t - ev.startS) / FALL_S));
        const angle = dir * (Math.PI / 2) * k * k;
        // Lying bodies rest on the floor: lift the pivot by the torso radius.
        const lift = 0.1 * h * k;
        out.push({
          ev,
          depthMm: d * 1000,
          segments: personSegments(ev.x, vf - lift, h, angle, 0.03, aspect),
        });
        break;
      }
      case 'people_talking': {
        const gap = rng.uniform(0.14, 0.3);
        const d2 = d * rng.uniform(0.9, 1.15);
        const sway = 0.01 * Math.sin(t * 1.7);
        out.push({
          ev,
          depthMm: d * 1000,
          segments: personSegments(ev.x - gap / 2 + sway, vf, h, 0, 0.04, aspect),
        });
        out.push({
          ev,
          depthMm: d2 * 1000,
          segments: personSegments(
            ev.x + gap / 2,
            floorRow(room, d2),
            Math.min(0.95, 1.5 / d2),
            0,
            0.04,
            aspect,
          ),
        });
        break;
      }
      case 'dog_barking': {
        const facing = rng.chance(0.5) ? 1 : -1;
        const hd = Math.min(0.5, 0.75 / d);
        const x = ev.x + 0.03 * Math.sin(t * 0.8);
        out.push({ ev, depthMm: d * 1000, segments: dogSegments(x, vf, hd, facing, aspect, t) });
        break;
      }
      default:
        break;
    }
  }
  return out;
}

function segDist(px: number, py: number, s: Segment): number {
  const dx = s.bx - s.ax;
  const dy = s.by - s.ay;
  const len2 = dx * dx + dy * dy;
  const k = len2 > 0 ? Math.max(0, Math.min(1, ((px - s.ax) * dx + (py - s.ay) * dy) / len2)) : 0;
  const ex = px - (s.ax + k * dx);
  const ey = py - (s.ay + k * dy);
  return Math.sqrt(ex * ex + ey * ey) - s.r;
}

/** The part of the nearest figure covering a point, or undefined. */
function hit(
  figs: readonly Figure[],
  px: number,
  py: number,
): { fig: Figure; part: Segment['part'] } | undefined {
  let best: { fig: Figure; part: Segment['part'] } | undefined;
  let bestDepth = Infinity;
  for (const fig of figs) {
    if (fig.depthMm >= bestDepth) continue;
    for (const s of fig.segments) {
      if (segDist(px, py, s) <= 0) {
        best = { fig, part: s.part };
        bestDepth = fig.depthMm;
        break;
      }
    }
  }
  return best;
}

/** Flame height (fraction of image) at column u and time t, 0 outside the fire. */
function flameHeight(ev: SceneEvent, room: Room, u: number, t: number): number {
  const grow = Math.min(1, 0.3 + (t - ev.startS) / 20);
  const halfW = 0.05 + 0.1 * ev.gain * grow;
  const du = Math.abs(u - ev.x) / halfW;
  if (du >= 1) return 0;
  const flicker = 0.7 + 0.3 * valueNoise(ev.seed, t * 6 + u * 20);
  return (
    (0.15 + 0.25 * ev.gain * grow) *
    (1 - du) *
    flicker *
    (1.2 - 0.3 * (floorRow(room, ev.distM) - room.horizon))
  );
}

/** Centre and radius of the hand or object over the sensor (device_tampering). */
function hand(ev: SceneEvent, t: number): { u: number; v: number; r: number } {
  return {
    u: 0.5 + 0.3 * valueNoise(ev.seed, t * 0.9),
    v: 0.5 + 0.3 * valueNoise(ev.seed + 1, t * 0.9),
    r: 0.35 + 0.25 * (0.5 + 0.5 * valueNoise(ev.seed + 2, t * 0.5)),
  };
}

function ofClass(scene: Scene, t: number, cls: SceneEvent['cls']): SceneEvent[] {
  return activeAt(scene, t).filter((e) => e.cls === cls);
}

const SUB = [0.25, 0.75];

/** Thermal frame `[h, w]` in °C (MLX90640-like 32×24 by default). */
export function renderThermal(scene: Scene, t: number, w = 32, h = 24, noise?: Rng): Float32Array {
  const room = scene.room;
  const aspect = w / h;
  const figs = figures(scene, t, aspect);
  const fires = ofClass(scene, t, 'fire');
  const hands = ofClass(scene, t, 'device_tampering');
  const furn = furniture(room);
  const fpn = new Rng(hashSeed(room.seed, 'fpn'));
  const rng = noise ?? new Rng(hashSeed(scene.seed, `thermal${Math.round(t * 1000)}`));
  const out = new Float32Array(w * h);
  const bodyC = (ev: SceneEvent, part: Segment['part']) => {
    const k = (ev.seed % 1000) / 1000;
    if (part === 'head') return 33.5 + 2 * k;
    if (part === 'dogHead') return 35 + k;
    if (part === 'dog') return 31 + 3 * k;
    return 28 + 4 * k;
  };
  let warmUp = 0;
  for (const f of fires) warmUp += Math.min(4, (t - f.startS) * 0.15) * f.gain;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (const sy of SUB) {
        for (const sx of SUB) {
          const u = (x + sx) / w;
          const v = (y + sy) / h;
          let c = room.wallTempC + room.gradientC * v + warmUp;
          for (const f of furn)
            if (u >= f.u0 && u < f.u1 && v >= f.v0 && v < floorRow(room, f.depthMm / 1000)) c = f.tempC;
          const hf = hit(figs, u * aspect, v);
          if (hf) c = bodyC(hf.fig.ev, hf.part);
          for (const f of fires) {
            const base = floorRow(room, f.distM);
            const fh = flameHeight(f, room, u, t);
            if (v <= base && v >= base - fh)
              c = Math.max(c, 250 + 300 * f.gain * ((base - v) / Math.max(fh, 1e-3)));
            else if (v < base - fh) {
              const plume = Math.exp(-Math.abs(u - f.x) / 0.12) * Math.exp(-(base - fh - v) / 0.5);
              c = Math.max(c, c + 40 * f.gain * plume);
            }
          }
          for (const e of hands) {
            const hd = hand(e, t);
            const dist = Math.hypot((u - hd.u) * aspect, v - hd.v);
            if (dist < hd.r) c = 31 + 2.5 * (1 - dist / hd.r) + (e.seed % 7) * 0.1;
          }
          acc += c;
        }
      }
      out[y * w + x] = acc / 4 + room.thermalNoiseC * rng.gauss() + 0.15 * fpn.gauss();
    }
  }
  return out;
}

/** Depth frame `[h, w]` in mm, 0 = invalid (80×60 by default). */
export function renderDepth(scene: Scene, t: number, w = 80, h = 60, noise?: Rng): Float32Array {
  const room = scene.room;
  const aspect = w / h;
  const figs = figures(scene, t, aspect);
  const hands = ofClass(scene, t, 'device_tampering');
  const furn = furniture(room);
  const rng = noise ?? new Rng(hashSeed(scene.seed, `depth${Math.round(t * 1000)}`));
  const out = new Float32Array(w * h);
  const K = 900 * (1 - room.horizon);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = (x + 0.5) / w;
      const v = (y + 0.5) / h;
      let mm = v > room.horizon ? Math.min(room.backWallMm, K / (v - room.horizon)) : room.backWallMm;
      for (const f of furn) if (u >= f.u0 && u < f.u1 && v >= f.v0 && mm > f.depthMm) mm = f.depthMm;
      const hf = hit(figs, u * aspect, v);
      if (hf) mm = hf.fig.depthMm + (hf.part === 'head' ? 60 : 0);
      let invalid = false;
      for (const e of hands) {
        const hd = hand(e, t);
        const dist = Math.hypot((u - hd.u) * aspect, v - hd.v);
        if (dist < hd.r) {
          // Closer than the sensor's minimum range reads invalid; the rim is just in range.
          if (dist < hd.r * 0.8) invalid = true;
          else mm = 350 + 300 * (dist / hd.r - 0.8);
        }
      }
      // IR shadow: the pixel left of a near edge sees no pattern.
      if (hf === undefined && x + 1 < w && rng.chance(0.5)) {
        const right = hit(figs, ((x + 1.5) / w) * aspect, v);
        if (right) invalid = true;
      }
      if (invalid || rng.chance(room.invalidFraction) || mm > 8000) {
        out[y * w + x] = 0;
        continue;
      }
      const sigma = room.depthNoise * 1.5e-6 * mm * mm + 2;
      out[y * w + x] = Math.max(1, mm + sigma * rng.gauss());
    }
  }
  return out;
}

type Rgb = [number, number, number];

/** RGB anchor-camera frame `[3, size, size]` in [0, 1], the view of the central square. */
export function renderRgb(scene: Scene, t: number, size = 32, noise?: Rng): Float32Array {
  const room = scene.room;
  const rng = noise ?? new Rng(hashSeed(scene.seed, `rgb${Math.round(t * 1000)}`));
  const active = activeAt(scene, t);
  const figs = figures(scene, t, 1);
  const furn = furniture(room);
  const out = new Float32Array(3 * size * size);
  const shirt = (ev: SceneEvent): Rgb => {
    const r = new Rng(hashSeed(ev.seed, 'shirt'));
    return [r.next(), r.next(), r.next()];
  };
  const dogRgb = (ev: SceneEvent): Rgb => {
    const r = new Rng(hashSeed(ev.seed, 'fur'));
    const c = r.uniform(0.15, 0.8);
    return [c, c * 0.75, c * 0.5];
  };
  let tint: Rgb = [1, 1, 1];
  for (const e of active) {
    if (e.cls === 'fire') tint = [1.25, 1.0, 0.7];
    if (e.cls === 'siren') tint = Math.floor(t * 3) % 2 === 0 ? [0.7, 0.8, 1.35] : [1.3, 0.75, 0.75];
    if (e.cls === 'alarm_beeping') tint = [tint[0] * 1.1, tint[1] * 0.95, tint[2] * 0.95];
  }
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = 0.125 + (0.75 * (x + 0.5)) / size;
      const v = (y + 0.5) / size;
      let c: Rgb = v > room.horizon ? [...room.floorRgb] : [...room.wallRgb];
      for (const f of furn)
        if (u >= f.u0 && u < f.u1 && v >= f.v0 && v < floorRow(room, f.depthMm / 1000)) c = [...f.rgb];
      for (const e of active) {
        const r = new Rng(e.seed);
        const du = u - e.x;
        switch (e.cls) {
          case 'alarm_beeping': {
            const on = Math.floor(t * 2) % 2 === 0;
            if (Math.abs(du) < 0.06 && Math.abs(v - 0.15) < 0.06)
              c = on ? [1, 0.05, 0.05] : [0.6, 0.05, 0.05];
            else if (Math.hypot(du, v - 0.15) < 0.16 && on) c = [c[0] * 0.5 + 0.5, c[1] * 0.6, c[2] * 0.6];
            break;
          }
          case 'siren':
          case 'glass_breaking': {
            const wx = e.x;
            if (Math.abs(u - wx) < 0.16 && v > 0.12 && v < room.horizon - 0.08) {
              c =
                e.cls === 'siren'
                  ? Math.floor(t * 3) % 2 === 0
                    ? [0.2, 0.3, 1]
                    : [1, 0.15, 0.15]
                  : [0.65, 0.85, 1];
              if (e.cls === 'glass_breaking') {
                // Cracks radiating from the impact point.
                const ang = Math.atan2(v - 0.3, u - wx);
                if (Math.abs(Math.sin(ang * r.int(3, 6) + r.next() * 6)) < 0.2) c = [1, 1, 1];
              }
            }
            if (
              e.cls === 'glass_breaking' &&
              v > room.horizon + 0.1 &&
              hashSeed(e.seed, `${x},${y}`) % 9 === 0
            )
              c = [0.95, 0.97, 1];
            break;
          }
          case 'door_slam': {
            if (Math.abs(du) < 0.12 && v > 0.12 && v < floorRow(room, 3)) {
              c = Math.abs(du) > 0.1 || v < 0.15 ? [0.1, 0.07, 0.05] : [0.45, 0.28, 0.12];
              if (Math.abs(du - 0.07) < 0.015 && Math.abs(v - 0.5) < 0.02) c = [0.9, 0.8, 0.2];
            }
            break;
          }
          case 'machine_vibration': {
            const jx = 0.01 * Math.sin(t * 90);
            const base = floorRow(room, e.distM);
            if (Math.abs(du + jx) < 0.15 && v > base - 0.25 && v < base) {
              c = Math.floor((v - base) * 40) % 2 === 0 ? [0.25, 0.27, 0.3] : [0.55, 0.58, 0.6];
            }
            break;
          }
          case 'fire': {
            const fh = flameHeight(e, room, u, t);
            const base = floorRow(room, e.distM);
            if (fh > 0 && v <= base && v >= base - fh) {
              const k = (base - v) / fh;
              c = [1, 0.9 - 0.6 * k, 0.3 - 0.3 * k];
            }
            break;
          }
          default:
            break;
        }
      }
      const hf = hit(figs, u, v);
      if (hf) {
        if (hf.part === 'head') c = [0.85, 0.65, 0.5];
        else if (hf.part === 'body') c = shirt(hf.fig.ev);
        else c = dogRgb(hf.fig.ev);
      }
      for (const e of active) {
        if (e.cls !== 'device_tampering') continue;
        const hd = hand(e, t);
        const dist = Math.hypot(u - hd.u, v - hd.v);
        if (dist < hd.r) c = [0.8 - 0.2 * (dist / hd.r), 0.6 - 0.15 * (dist / hd.r), 0.48];
      }
      for (let ch = 0; ch < 3; ch++) {
        const val = c[ch]! * room.light * tint[ch]! + 0.03 * rng.gauss();
        out[ch * size * size + y * size + x] = Math.max(0, Math.min(1, val));
      }
    }
  }
  return out;
}
