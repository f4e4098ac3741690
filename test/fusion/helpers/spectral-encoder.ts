/**
 * A deterministic EncoderSet whose embeddings are known: an audio window is embedded as a fixed
 * random projection of its mean log power spectrum (mean removed), so similar sounds land close
 * together and different ones near-orthogonal; texts are seeded random unit vectors. It counts
 * text-encoder calls (label cache tests).
 */
import { RealFft } from '../../../src/encoders/audio/fft.js';
import type { EncoderSet, TextEncoder, WindowEncoder } from '../../../src/encoders/types.js';
import { normalizeInPlace } from '../../../src/util/vectors.js';
import type { SensorModality, Window } from '../../../src/pipeline/types.js';

export const DIM = 64;
const FFT = 512;
const BINS = FFT / 2 + 1;

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const gauss = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function randomUnit(seed: number, dim = DIM): Float32Array {
  const r = rng(seed);
  return normalizeInPlace(Float32Array.from({ length: dim }, () => gauss(r)));
}

/** Mean log power spectrum of `x` (frames of 512, hop 512), mean removed. */
export function logSpectrum(x: Float32Array): Float64Array {
  const fft = new RealFft(FFT);
  const frame = new Float64Array(FFT);
  const re = new Float64Array(BINS);
  const im = new Float64Array(BINS);
  const power = new Float64Array(BINS);
  let frames = 0;
  for (let s = 0; s + FFT <= x.length; s += FFT) {
    for (let i = 0; i < FFT; i++) frame[i] = x[s + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / FFT));
    fft.transform(frame, re, im);
    for (let k = 0; k < BINS; k++) power[k]! += re[k]! ** 2 + im[k]! ** 2;
    frames++;
  }
  let mean = 0;
  for (let k = 0; k < BINS; k++) {
    power[k] = Math.log(power[k]! / Math.max(1, frames) + 1e-10);
    mean += power[k]!;
  }
  mean /= BINS;
  for (let k = 0; k < BINS; k++) power[k]! -= mean;
  return power;
}

class SpectralAudioEncoder implements WindowEncoder {
  readonly modality = 'audio' as const;
  readonly provider = 'test';
  private readonly projection: Float32Array;
  calls = 0;
  constructor(seed: number) {
    const r = rng(seed);
    this.projection = Float32Array.from({ length: DIM * BINS }, () => gauss(r));
  }
  embed(windows: readonly Window[]): Promise<Float32Array[]> {
    this.calls++;
    return Promise.resolve(
      windows.map((w) => {
        const spec = logSpectrum(w.data);
        const v = new Float32Array(DIM);
        for (let d = 0; d < DIM; d++) {
          let s = 0;
          for (let k = 0; k < BINS; k++) s += this.projection[d * BINS + k]! * spec[k]!;
          v[d] = s;
        }
        return normalizeInPlace(v);
      }),
    );
  }
}

export class CountingTextEncoder implements TextEncoder {
  readonly provider = 'test';
  calls = 0;
  texts = 0;
  embed(texts: readonly string[]): Promise<Float32Array[]> {
    this.calls++;
    this.texts += texts.length;
    return Promise.resolve(texts.map((t) => randomUnit(hash(t))));
  }
}

export interface SpectralEncoderSet extends EncoderSet {
  readonly text: CountingTextEncoder;
}

export function spectralEncoders(seed = 7): SpectralEncoderSet {
  const windows = new Map<SensorModality, WindowEncoder>([['audio', new SpectralAudioEncoder(seed)]]);
  return {
    pack: { id: 'spectral-test', version: '1' },
    text: new CountingTextEncoder(),
    windows,
    close: () => Promise.resolve(),
  };
}

export interface SoundSpec {
  kind: 'whistle' | 'hum' | 'silence';
  /** Fundamental, Hz. */
  pitchHz?: number;
}

/**
 * A procedural recording at 16 kHz: room noise, with `sound` between `fromS` and `toS`.
 * whistle: a tone with vibrato and a weak third harmonic; hum: mains-like 120 Hz with harmonics.
 */
export function renderSound(opts: {
  seconds: number;
  sound: SoundSpec;
  fromS?: number;
  toS?: number;
  seed?: number;
}): Float32Array {
  const rate = 16000;
  const r = rng(opts.seed ?? 1);
  const x = new Float32Array(Math.round(opts.seconds * rate));
  const from = opts.fromS ?? 0;
  const to = opts.toS ?? opts.seconds;
  let phase = 0;
  for (let i = 0; i < x.length; i++) {
    const t = i / rate;
    let v = 0.01 * gauss(r);
    if (t >= from && t < to) {
      if (opts.sound.kind === 'whistle') {
        const f = (opts.sound.pitchHz ?? 2500) * (1 + 0.01 * Math.sin(2 * Math.PI * 5 * t));
        phase += (2 * Math.PI * f) / rate;
        v += 0.3 * Math.sin(phase) + 0.05 * Math.sin(3 * phase);
      } else if (opts.sound.kind === 'hum') {
        const f0 = opts.sound.pitchHz ?? 120;
        for (let h = 1; h <= 5; h++) v += (0.3 / h) * Math.sin(2 * Math.PI * f0 * h * t);
      }
    }
    x[i] = Math.max(-1, Math.min(1, v));
  }
  return x;
}
