/** Seeded randomness for the simulator: every stream is a pure function of the scene seed. */

/** Mulberry32: small, fast, good enough for procedural content. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  gauss(): number {
    return Math.sqrt(-2 * Math.log(this.next() + 1e-12)) * Math.cos(2 * Math.PI * this.next());
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An independent generator derived from this one and a tag (streams stay stable when others change). */
  fork(tag: string): Rng {
    return new Rng(hashSeed(this.state, tag));
  }
}

/** FNV-1a of a tag mixed with a number: stable sub-seeds. */
export function hashSeed(seed: number, tag: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  return (h ^ (h >>> 13)) >>> 0;
}

/** Deterministic value noise in [-1, 1] at continuous time `t` (smooth between integer knots). */
export function valueNoise(seed: number, t: number): number {
  const i = Math.floor(t);
  const f = t - i;
  const a = (hashSeed(seed, String(i)) / 4294967296) * 2 - 1;
  const b = (hashSeed(seed, String(i + 1)) / 4294967296) * 2 - 1;
  const s = f * f * (3 - 2 * f);
  return a + (b - a) * s;
}
