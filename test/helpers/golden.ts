/**
 * shared/golden (ImageBind's own preprocessing of a few WAVs, issue 20): $EDGEBIND_GOLDEN_AUDIO
 * for the audio folder, else `shared/` inside the checkout (device runs), else the repository's
 * sibling `../shared`. Missing goldens fail the suite; they never skip it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface GoldenAudioCase {
  name: string;
  wav: string;
  features: string;
  sampleRate: number;
  frames: number;
  channels: number;
  shape: number[];
  clipStartsSeconds: number[];
}

/** The golden audio folder, ending in `/`. */
export function goldenAudioDir(): string {
  const candidates = [
    process.env.EDGEBIND_GOLDEN_AUDIO,
    fileURLToPath(new URL('../../shared/golden/audio/', import.meta.url)),
    fileURLToPath(new URL('../../../shared/golden/audio/', import.meta.url)),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const found = candidates.find((dir) => existsSync(`${dir.replace(/\/?$/, '/')}manifest.json`));
  if (!found) throw new Error(`golden audio not found; looked in: ${candidates.join(', ')}`);
  return found.replace(/\/?$/, '/');
}

export function goldenAudioCases(dir = goldenAudioDir()): GoldenAudioCase[] {
  return (JSON.parse(readFileSync(`${dir}manifest.json`, 'utf8')) as { cases: GoldenAudioCase[] }).cases;
}

/** A raw float32 little-endian file. */
export function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
