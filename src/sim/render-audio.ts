/**
 * Procedural audio at 16 kHz: each event's sound has real structure (harmonics, formants,
 * envelopes, bursts), scaled by distance, passed through a small room reverb, over room tone.
 */
import type { SimClass } from './classes.js';
import { Rng } from './random.js';
import type { Room, Scene, SceneEvent } from './scene.js';

export const AUDIO_RATE_HZ = 16000;
const FS = AUDIO_RATE_HZ;
const TAU = 2 * Math.PI;

/** Adds a decaying sinusoid (optionally gliding) at time `t0` s. */
function tone(
  buf: Float32Array,
  t0: number,
  opts: { f: number; amp: number; decayS: number; durS?: number; f1?: number; attackS?: number },
): void {
  const start = Math.floor(t0 * FS);
  const durS = opts.durS ?? opts.decayS * 6;
  const n = Math.floor(durS * FS);
  const attack = Math.max(1, Math.floor((opts.attackS ?? 0.002) * FS));
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const k = start + i;
    if (k >= buf.length) break;
    const f = opts.f1 === undefined ? opts.f : opts.f + ((opts.f1 - opts.f) * i) / n;
    phase += (TAU * f) / FS;
    if (k < 0) continue;
    const env = Math.min(1, i / attack) * Math.exp(-i / FS / opts.decayS);
    buf[k]! += opts.amp * env * Math.sin(phase);
  }
}

/** Adds a noise burst with exponential decay, coloured by a one-pole low-pass (0..1 smoothing). */
function burst(
  buf: Float32Array,
  rng: Rng,
  t0: number,
  opts: { amp: number; decayS: number; lowpass?: number; highpass?: boolean; durS?: number },
): void {
  const start = Math.floor(t0 * FS);
  const n = Math.floor((opts.durS ?? opts.decayS * 6) * FS);
  const a = opts.lowpass ?? 0;
  let y = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const k = start + i;
    if (k >= buf.length) break;
    const w = rng.gauss();
    y = a * y + (1 - a) * w;
    let v = y;
    if (opts.highpass) {
      v = y - prev;
      prev = y;
    }
    if (k < 0) continue;
    buf[k]! += opts.amp * Math.exp(-i / FS / opts.decayS) * v;
  }
}

/** A voiced sound: harmonics of f0 shaped by formants (vowel-like). */
function voiced(
  buf: Float32Array,
  rng: Rng,
  t0: number,
  opts: { f0: number; f0End?: number; durS: number; amp: number; formants: number[]; breath?: number },
): void {
  const start = Math.floor(t0 * FS);
  const n = Math.floor(opts.durS * FS);
  const maxH = Math.floor(5000 / opts.f0);
  const weights: number[] = [];
  for (let h = 1; h <= maxH; h++) {
    const f = h * opts.f0;
    let w = 0;
    for (const F of opts.formants) w += Math.exp(-(((f - F) / 120) ** 2));
    weights.push((w + 0.05) / Math.sqrt(h));
  }
  const vib = rng.uniform(3, 6);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const k = start + i;
    if (k >= buf.length) break;
    const u = i / n;
    const f0 =
      (opts.f0 + ((opts.f0End ?? opts.f0) - opts.f0) * u) * (1 + 0.01 * Math.sin((TAU * vib * i) / FS));
    phase += (TAU * f0) / FS;
    if (k < 0) continue;
    const env = Math.sin(Math.PI * Math.min(1, u)) ** 0.6;
    let v = 0;
    for (let h = 0; h < weights.length; h++) v += weights[h]! * Math.sin((h + 1) * phase);
    v += (opts.breath ?? 0) * rng.gauss();
    buf[k]! += opts.amp * env * v * 0.5;
  }
}

const VOWELS: number[][] = [
  [730, 1090, 2440],
  [270, 2290, 3010],
  [530, 1840, 2480],
  [570, 840, 2410],
  [300, 870, 2240],
  [660, 1720, 2410],
  [490, 1350, 1690],
];

/** Renders one event's sound from its start, `durS` long (times local to the event). */
function eventSound(ev: SceneEvent, durS: number): Float32Array {
  const buf = new Float32Array(Math.ceil(durS * FS));
  const rng = new Rng(ev.seed);
  const g = ev.gain * Math.min(1.5, 2 / ev.distM);
  const cls: SimClass = ev.cls;
  switch (cls) {
    case 'person_walking': {
      // A step is a heel strike, then the sole rolling onto the toe 60-150 ms later; the floor
      // sets its colour and length (carpet: short and dull; gravel, snow, leaves: a crunch of
      // many grains). Recorded steps last 0.15-0.5 s (train/data/real-audio.md), so clicks of a
      // few ms taught the encoder that any longer impact is a fall. Some walkers are slow or
      // hesitant, a step a second or less: one or two steps in a window are walking too.
      const period = rng.chance(0.3) ? rng.uniform(0.9, 1.8) : rng.uniform(0.42, 0.65);
      const lp = rng.uniform(0.3, 0.9);
      const thumpHz = rng.uniform(60, 130);
      const decayS = rng.uniform(0.008, 0.06);
      const grains = rng.chance(0.4) ? rng.int(4, 14) : 0;
      for (let t = rng.uniform(0, period); t < durS; t += period * rng.uniform(0.92, 1.08)) {
        const a = g * rng.uniform(0.08, 0.2);
        burst(buf, rng, t, { amp: a, decayS: decayS * rng.uniform(0.8, 1.25), lowpass: lp });
        tone(buf, t, { f: thumpHz, amp: a * 1.2, decayS: 0.03 });
        const toe = t + rng.uniform(0.06, 0.15);
        burst(buf, rng, toe, { amp: a * rng.uniform(0.3, 0.8), decayS: decayS, lowpass: lp });
        for (let k = 0; k < grains; k++) {
          const at = t + rng.uniform(0, 0.3);
          burst(buf, rng, at, { amp: a * rng.uniform(0.1, 0.5), decayS: 0.004, highpass: true });
        }
      }
      break;
    }
    case 'person_falling': {
      const impact = rng.uniform(0.25, 0.45);
      burst(buf, rng, 0, { amp: g * 0.04, decayS: 0.3, lowpass: 0.7, durS: impact }); // clothes rustle
      tone(buf, impact, { f: rng.uniform(45, 90), f1: rng.uniform(35, 50), amp: g * 0.7, decayS: 0.14 });
      burst(buf, rng, impact, { amp: g * 0.5, decayS: 0.05, lowpass: 0.9 });
      const second = impact + rng.uniform(0.12, 0.3);
      tone(buf, second, { f: rng.uniform(60, 110), amp: g * 0.3, decayS: 0.08 });
      burst(buf, rng, second, { amp: g * 0.2, decayS: 0.04, lowpass: 0.85 });
      if (rng.chance(0.6)) {
        const f0 = rng.uniform(110, 220);
        voiced(buf, rng, second + rng.uniform(0.4, 0.9), {
          f0,
          f0End: f0 * 0.8,
          durS: rng.uniform(0.4, 0.8),
          amp: g * 0.08,
          formants: rng.pick(VOWELS),
          breath: 0.3,
        });
      }
      break;
    }
    case 'fire': {
      // Roar: low-passed noise; crackle: Poisson clicks of random size.
      const rate = rng.uniform(15, 60);
      burst(buf, rng, 0, { amp: g * rng.uniform(0.1, 0.3), decayS: 1e9, lowpass: 0.97, durS });
      for (let t = 0; t < durS; t += -Math.log(rng.next() + 1e-9) / rate) {
        const a = g * 0.3 * Math.exp(rng.gauss() * 0.7);
        burst(buf, rng, t, { amp: a, decayS: rng.uniform(0.001, 0.004), highpass: true });
      }
      break;
    }
    case 'glass_breaking': {
      const t0 = rng.uniform(0.05, 0.2);
      burst(buf, rng, t0, { amp: g * 0.8, decayS: 0.02 });
      burst(buf, rng, t0, { amp: g * 0.5, decayS: rng.uniform(0.15, 0.35), highpass: true });
      const pieces = rng.int(20, 60);
      for (let i = 0; i < pieces; i++) {
        const f = rng.uniform(2500, 7500);
        const t = t0 + rng.uniform(0, 1.2) ** 1.5;
        const a = g * rng.uniform(0.03, 0.15);
        const decayS = rng.uniform(0.015, 0.07);
        tone(buf, t, { f, amp: a, decayS });
        tone(buf, t, { f: f * 2.76, amp: a * 0.4, decayS: decayS * 0.6 });
      }
      break;
    }
    case 'dog_barking': {
      const f0 = rng.uniform(350, 800);
      let t = rng.uniform(0, 0.4);
      while (t < durS) {
        const barks = rng.int(1, 4);
        for (let b = 0; b < barks && t < durS; b++) {
          const d = rng.uniform(0.1, 0.22);
          voiced(buf, rng, t, {
            f0: f0 * rng.uniform(0.9, 1.1),
            f0End: f0 * rng.uniform(0.55, 0.75),
            durS: d,
            amp: g * rng.uniform(0.4, 0.7),
            formants: [rng.uniform(600, 1000), rng.uniform(1400, 2200)],
            breath: 0.4,
          });
          t += d + rng.uniform(0.12, 0.35);
        }
        t += rng.uniform(0.2, 1.0);
      }
      break;
    }
    case 'alarm_beeping': {
      const f = rng.uniform(1800, 4200);
      const period = rng.uniform(0.25, 1.0);
      const duty = rng.uniform(0.3, 0.6);
      const a = g * rng.uniform(0.1, 0.3);
      const square = rng.uniform(0, 0.4);
      for (let i = 0; i < buf.length; i++) {
        const t = i / FS;
        if (t % period < period * duty) {
          const p = TAU * f * t;
          buf[i]! += a * (Math.sin(p) + square * Math.sin(3 * p) * 0.33);
        }
      }
      break;
    }
    case 'siren': {
      const kind = rng.int(0, 2);
      const lo = rng.uniform(550, 800);
      const hi = lo * rng.uniform(1.5, 2.2);
      const period =
        kind === 0 ? rng.uniform(2, 4.5) : kind === 1 ? rng.uniform(0.25, 0.45) : rng.uniform(0.8, 1.4);
      const a = Math.min(0.4, ev.gain * rng.uniform(0.08, 0.3));
      let phase = 0;
      for (let i = 0; i < buf.length; i++) {
        const t = i / FS;
        const u = (t % period) / period;
        const f =
          kind === 0
            ? lo + (hi - lo) * (0.5 - 0.5 * Math.cos(TAU * u))
            : kind === 1
              ? lo + (hi - lo) * u
              : u < 0.5
                ? lo
                : hi;
        phase += (TAU * f) / FS;
        buf[i]! += a * (Math.sin(phase) + 0.4 * Math.sin(2 * phase) + 0.2 * Math.sin(3 * phase));
      }
      break;
    }
    case 'people_talking': {
      const speakers = [rng.uniform(95, 140), rng.uniform(170, 250)];
      let t = rng.uniform(0, 0.2);
      let who = rng.int(0, 1);
      while (t < durS) {
        const turnEnd = t + rng.uniform(0.8, 2.5);
        const f0 = speakers[who]!;
        const amp = g * rng.uniform(0.08, 0.2);
        while (t < turnEnd && t < durS) {
          const d = rng.uniform(0.1, 0.28);
          const start = f0 * rng.uniform(0.9, 1.15);
          voiced(buf, rng, t, {
            f0: start,
            f0End: start * rng.uniform(0.85, 1.1),
            durS: d,
            amp,
            formants: rng.pick(VOWELS),
            breath: 0.05,
          });
          if (rng.chance(0.4))
            burst(buf, rng, t + d, { amp: amp * 0.3, decayS: 0.03, highpass: true, durS: 0.07 });
          t += d + rng.uniform(0.02, 0.12);
        }
        t += rng.uniform(0.1, 0.5);
        who = 1 - who;
      }
      break;
    }
    case 'door_slam': {
      const t0 = rng.uniform(0.05, 0.3);
      burst(buf, rng, t0 - 0.25, { amp: g * 0.02, decayS: 1, lowpass: 0.95, durS: 0.25 }); // swing
      tone(buf, t0, { f: rng.uniform(40, 85), amp: g * 0.8, decayS: rng.uniform(0.07, 0.15) });
      burst(buf, rng, t0, { amp: g * 0.6, decayS: 0.012 });
      burst(buf, rng, t0, { amp: g * 0.12, decayS: rng.uniform(0.15, 0.35), lowpass: 0.6 });
      tone(buf, t0 + rng.uniform(0.02, 0.06), { f: rng.uniform(1500, 3000), amp: g * 0.08, decayS: 0.01 }); // latch
      break;
    }
    case 'machine_vibration': {
      const f = rng.uniform(25, 120);
      const mod = rng.uniform(0.5, 5);
      const depth = rng.uniform(0, 0.3);
      const amps = Array.from({ length: 8 }, (_, h) => rng.uniform(0.2, 1) / (h + 1));
      const a = g * rng.uniform(0.05, 0.2);
      for (let i = 0; i < buf.length; i++) {
        const t = i / FS;
        let v = 0;
        for (let h = 0; h < amps.length; h++) v += amps[h]! * Math.sin(TAU * f * (h + 1) * t + h);
        buf[i]! += a * v * (1 - depth + depth * Math.sin(TAU * mod * t));
      }
      burst(buf, rng, 0, { amp: a * 0.3, decayS: 1e9, lowpass: 0.8, durS });
      break;
    }
    case 'device_tampering': {
      for (let t = 0; t < durS; t += rng.uniform(0.08, 0.5)) {
        if (rng.chance(0.35)) {
          tone(buf, t, { f: rng.uniform(40, 120), amp: rng.uniform(0.2, 0.6), decayS: 0.03 });
          burst(buf, rng, t, { amp: rng.uniform(0.2, 0.5), decayS: 0.01, lowpass: 0.5 });
        } else {
          const d = rng.uniform(0.05, 0.3);
          burst(buf, rng, t, {
            amp: rng.uniform(0.05, 0.25),
            decayS: d,
            lowpass: rng.uniform(0, 0.6),
            highpass: true,
            durS: d * 2,
          });
        }
      }
      break;
    }
    case 'empty_room':
      break;
  }
  return buf;
}

/** Room tone: low-passed noise plus optional mains hum. */
function roomTone(out: Float32Array, room: Room, rng: Rng, t0: number): void {
  let y = 0;
  for (let i = 0; i < out.length; i++) {
    y = 0.6 * y + 0.4 * rng.gauss();
    let v = room.noiseRms * 1.6 * y;
    if (room.humLevel > 0) {
      const t = t0 + i / FS;
      v += room.humLevel * (Math.sin(TAU * room.humHz * t) + 0.5 * Math.sin(TAU * 2 * room.humHz * t));
    }
    out[i]! += v;
  }
}

/** Two feedback combs: a cheap, deterministic room reverb on the event mix. */
function reverb(buf: Float32Array, feedback: number): void {
  for (const delayS of [0.0297, 0.0371]) {
    const d = Math.floor(delayS * FS);
    for (let i = d; i < buf.length; i++) buf[i]! += feedback * 0.5 * buf[i - d]!;
  }
}

/** Audio of `scene` over [t0, t1) seconds at 16 kHz, clipped to [-1, 1]. */
export function renderAudio(scene: Scene, t0: number, t1: number): Float32Array {
  const n = Math.round((t1 - t0) * FS);
  const mix = new Float32Array(n);
  const tailS = 1.5;
  for (const ev of scene.events) {
    // A sustained sound plays for its interval; a transient's aftermath interval holds its tail.
    const soundEnd = ev.endS;
    if (ev.startS >= t1 || soundEnd + tailS <= t0) continue;
    const snd = eventSound(ev, Math.max(0.05, soundEnd - ev.startS));
    const offset = Math.round((ev.startS - t0) * FS);
    const fadeN = Math.floor(0.02 * FS);
    for (let i = Math.max(0, -offset); i < snd.length; i++) {
      const k = i + offset;
      if (k >= n) break;
      const fade = Math.min(1, (snd.length - i) / fadeN);
      mix[k]! += snd[i]! * fade;
    }
  }
  reverb(mix, scene.room.reverb);
  roomTone(mix, scene.room, new Rng(scene.room.seed ^ Math.floor(t0 * 1000)), t0);
  for (let i = 0; i < n; i++) mix[i] = Math.max(-1, Math.min(1, mix[i]!));
  return mix;
}
