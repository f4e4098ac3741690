/**
 * `edgebind bench fbank [--clips N]`: times our kaldi fbank on N synthetic 2 s clips at 16 kHz
 * and prints one JSON line. bench/fbank.ts runs the same clips through torchaudio for a ratio.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { KaldiFbank } from '../../encoders/audio/fbank.js';
import { AudioWindowPreprocessor } from '../../encoders/audio/preprocess.js';
import { AudioPreprocessSchema } from '../../encoders/manifest.js';

/** Samples in one ImageBind clip: 2 s at 16 kHz. */
export const CLIP_SAMPLES = 32000;

export interface SyntheticClipsOptions {
  count: number;
  /** Default CLIP_SAMPLES. */
  samples?: number;
  /** Default 1. */
  seed?: number;
}

/**
 * Deterministic test clips that look like sound rather than silence: a chirp, a few tones and
 * noise, different in every clip, peak ≈ 0.6.
 */
export function syntheticClips(options: SyntheticClipsOptions): Float32Array[] {
  const samples = options.samples ?? CLIP_SAMPLES;
  let state = (options.seed ?? 1) >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: options.count }, () => {
    const clip = new Float32Array(samples);
    const f0 = 100 + 400 * random();
    const f1 = 2000 + 5000 * random();
    const tones = [200 + 3000 * random(), 200 + 3000 * random()];
    const noise = 0.02 + 0.1 * random();
    let phase = 0;
    for (let n = 0; n < samples; n++) {
      const t = n / samples;
      phase += (2 * Math.PI * (f0 + (f1 - f0) * t)) / 16000;
      let v = 0.25 * Math.sin(phase) + noise * (2 * random() - 1);
      for (const f of tones) v += 0.1 * Math.sin((2 * Math.PI * f * n) / 16000);
      clip[n] = v;
    }
    return clip;
  });
}

export interface FbankTiming {
  /** Mean wall time of one `KaldiFbank.compute` on one clip, milliseconds. */
  msPerClip: number;
  /** Mean CPU time (user + system) of the same, milliseconds: steadier than wall time on a busy machine. */
  cpuMsPerClip: number;
  clips: number;
}

/** Times `count` fbank computations cycling through `clips`, after `warmup` (default 50) untimed ones. */
export function timeFbank(options: {
  clips: readonly Float32Array[];
  count: number;
  warmup?: number;
}): FbankTiming {
  const { clips, count } = options;
  const fbank = new KaldiFbank();
  const length = clips[0]?.length ?? 0;
  const out = new Float32Array(fbank.numFrames(length) * fbank.numMelBins);
  for (let i = 0; i < (options.warmup ?? 50); i++) fbank.compute(clips[i % clips.length]!, length, out, 0);
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i++) fbank.compute(clips[i % clips.length]!, length, out, 0);
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { msPerClip: wallMs / count, cpuMsPerClip: (used.user + used.system) / 1000 / count, clips: count };
}

/** Our fbank's log-mel output for each clip, `[frames][numMelBins]` per clip, concatenated. */
export function fbankFeatures(clips: readonly Float32Array[]): Float32Array {
  const fbank = new KaldiFbank();
  const length = clips[0]?.length ?? 0;
  const per = fbank.numFrames(length) * fbank.numMelBins;
  const out = new Float32Array(per * clips.length);
  clips.forEach((clip, i) => fbank.compute(clip, length, out, i * per));
  return out;
}

export interface FbankBenchResult {
  fbankMsPerClip: number;
  clips: number;
  clipSamples: number;
  framesPerClip: number;
  numMelBins: number;
  /** Whole ImageBind preprocessing of one 2 s window (3 clips, centring, padding, normalising). */
  preprocessMsPerWindow: number;
  node: string;
}

export function runFbankBench(options: { clips: number; distinctClips?: number }): FbankBenchResult {
  const clips = syntheticClips({ count: Math.min(options.clips, options.distinctClips ?? 8) });
  const fbank = timeFbank({ clips, count: options.clips });
  const pre = new AudioWindowPreprocessor(AudioPreprocessSchema.parse({}), CLIP_SAMPLES);
  const out = new Float32Array(pre.size);
  const windows = Math.max(1, Math.floor(options.clips / 3));
  for (let i = 0; i < 10; i++) pre.process(clips[i % clips.length]!, out, 0);
  const start = performance.now();
  for (let i = 0; i < windows; i++) pre.process(clips[i % clips.length]!, out, 0);
  const preprocessMsPerWindow = (performance.now() - start) / windows;
  const probe = new KaldiFbank();
  return {
    fbankMsPerClip: fbank.msPerClip,
    clips: options.clips,
    clipSamples: CLIP_SAMPLES,
    framesPerClip: probe.numFrames(CLIP_SAMPLES),
    numMelBins: probe.numMelBins,
    preprocessMsPerWindow,
    node: process.version,
  };
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('micro-benchmarks of the preprocessing code');
  bench
    .command('fbank')
    .description('time the kaldi fbank on synthetic 2 s clips; prints one JSON line')
    .option('--clips <n>', 'clips to time', parsePositiveInt, 200)
    .action((opts: { clips: number }) => {
      console.log(JSON.stringify(runFbankBench({ clips: opts.clips })));
    });
}
