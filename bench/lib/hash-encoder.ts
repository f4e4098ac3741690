/**
 * A deterministic, nearly free encoder set for benchmarks that must exclude inference: windows
 * are summarised by a few per-chunk statistics and projected to 1024-d by a fixed random matrix;
 * texts map to fixed random unit vectors by hash. Agent overhead is then measured on its own.
 */
import { createHash } from 'node:crypto';
import type { EncoderSet, TextEncoder, WindowEncoder } from '../../src/encoders/types.js';
import { normalizeInPlace } from '../../src/util/vectors.js';
import { SENSOR_MODALITIES, type SensorModality, type Window } from '../../src/pipeline/types.js';

const DIM = 1024;
const STATS = 16;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

const projection = (() => {
  const r = prng(7);
  return Float32Array.from({ length: STATS * DIM }, r);
})();

function textVector(text: string): Float32Array {
  const seed = createHash('sha256').update(text).digest().readUInt32LE(0);
  const r = prng(seed);
  return normalizeInPlace(Float32Array.from({ length: DIM }, r));
}

class StatsEncoder implements WindowEncoder {
  readonly provider = 'none';
  private readonly stats = new Float32Array(STATS);
  constructor(readonly modality: SensorModality) {}
  embed(windows: readonly Window[]): Promise<Float32Array[]> {
    return Promise.resolve(
      windows.map((w) => {
        const chunk = Math.max(1, Math.floor(w.data.length / STATS));
        for (let k = 0; k < STATS; k++) {
          let s = 0;
          for (let i = k * chunk; i < Math.min(w.data.length, (k + 1) * chunk); i++)
            s += Math.abs(w.data[i]!);
          this.stats[k] = s / chunk;
        }
        const v = new Float32Array(DIM);
        for (let k = 0; k < STATS; k++) {
          const x = this.stats[k]!;
          for (let j = 0; j < DIM; j++) v[j]! += x * projection[k * DIM + j]!;
        }
        return normalizeInPlace(v);
      }),
    );
  }
}

export function hashEncoders(): EncoderSet {
  const text: TextEncoder = { provider: 'none', embed: (t) => Promise.resolve(t.map(textVector)) };
  return {
    pack: { id: 'bench-hash', version: '1' },
    text,
    windows: new Map(SENSOR_MODALITIES.map((m) => [m, new StatsEncoder(m)])),
    close: () => Promise.resolve(),
  };
}
