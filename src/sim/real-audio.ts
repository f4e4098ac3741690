/**
 * Real recorded sounds (issue 13): the corpus built by train/real_audio.py from Debian packages,
 * described by its data card (train/data/real-audio.json). This module cuts a clip into the
 * windows the agent sees, dumps them for the trainer, and evaluates a pack on the held-out split
 * (zero-shot top-1 per class, few-shot k = 1, 2, 4).
 *
 * A clip is embedded as the agent hears it: 2 s windows (hop 1 s, at most `maxWindows` spread
 * over the clip) through the pack's own audio encoder path, and the clip's embedding is the
 * normalised mean of its window embeddings. A clip shorter than a window sits in the middle of
 * one window of quiet noise (−60 dBFS, fixed seed): a short sound in a quiet room, not digital
 * silence, which no microphone records.
 *
 *   npx tsx src/sim/real-audio.ts dump --card train/data/real-audio.json --clips .cache/real-audio \
 *     --pack models/mini --out .cache/mini/real
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AudioWindowPreprocessor } from '../encoders/audio/preprocess.js';
import { openEncoders } from '../encoders/registry.js';
import type { EncoderSet } from '../encoders/types.js';
import type { Window } from '../pipeline/types.js';
import { FormatError } from '../errors.js';
import { loadAudio } from '../sensors/formats/audio-file.js';
import { SIM_CLASSES, type SimClass } from './classes.js';
import { MINI_PREPROCESS, POOL, avgPool2d } from './pack-params.js';
import { CANONICAL, PARAPHRASES, SYNONYMS, TEMPLATES } from './prompts.js';
import { Rng } from './random.js';

export const REAL_RATE_HZ = 16000;
export const REAL_WINDOW_SAMPLES = 2 * REAL_RATE_HZ;
const HOP_SAMPLES = REAL_RATE_HZ;
const PAD_NOISE_RMS = 1e-3;
export const REAL_FEW_SHOT_K = [1, 2, 4] as const;

/** One source file of the data card. */
export interface RealAudioFile {
  id: string;
  package: string;
  version: string;
  path: string;
  licence: string;
  sha256: string;
  class: SimClass;
  durationS: number;
  decidedBy: string;
  split: 'train' | 'eval';
  wav: string;
}

export interface RealAudioCard {
  evalPackages: string[];
  packages: Record<string, { version: string; debSha256: string; split: 'train' | 'eval' }>;
  files: RealAudioFile[];
}

export function loadRealCard(path: string): RealAudioCard {
  return JSON.parse(readFileSync(path, 'utf8')) as RealAudioCard;
}

/** 2 s windows of a 16 kHz mono clip (see the module comment), at most `maxWindows`. */
export function realWindows(samples: Float32Array, maxWindows: number): Float32Array[] {
  if (samples.length <= REAL_WINDOW_SAMPLES) {
    const w = new Float32Array(REAL_WINDOW_SAMPLES);
    const rng = new Rng(7);
    for (let i = 0; i < w.length; i++) w[i] = (rng.next() * 2 - 1) * PAD_NOISE_RMS * Math.SQRT2;
    const off = Math.floor((REAL_WINDOW_SAMPLES - samples.length) / 2);
    for (let i = 0; i < samples.length; i++) w[off + i]! += samples[i]!;
    return [w];
  }
  const starts: number[] = [];
  for (let s = 0; s + REAL_WINDOW_SAMPLES <= samples.length; s += HOP_SAMPLES) starts.push(s);
  const last = samples.length - REAL_WINDOW_SAMPLES;
  if (starts[starts.length - 1] !== last) starts.push(last);
  const chosen =
    starts.length <= maxWindows
      ? starts
      : Array.from({ length: maxWindows }, (_, i) => starts[Math.floor((i * starts.length) / maxWindows)]!);
  return chosen.map((s) => samples.slice(s, s + REAL_WINDOW_SAMPLES));
}

/**
 * A mono clip through the one audio loader (sensors/formats/audio-file.ts; resampled to 16 kHz).
 * The windows here are mono, so a multi-channel clip is an error rather than silently its first
 * channel (ImageBind would centre it on all channels).
 */
export function readClip(clipsDir: string, file: RealAudioFile): Float32Array {
  const audio = loadAudio(readFileSync(join(clipsDir, file.wav)), file.wav, REAL_RATE_HZ);
  if (audio.channels.length !== 1) {
    throw new FormatError(file.wav, `${audio.channels.length} channels; the real-audio clips must be mono`);
  }
  return audio.channels[0]!;
}

/** Every caption the trainer builds for a class (templates × synonyms, minus the held-out paraphrases). */
export function captionBank(cls: SimClass): string[] {
  const held = new Set(Object.values(PARAPHRASES).flatMap((ps) => ps.map((p) => p.toLowerCase())));
  const caps = new Set<string>();
  for (const t of TEMPLATES) for (const s of SYNONYMS[cls]) caps.add(t.replace('{}', s));
  return [...caps].filter((c) => !held.has(c.toLowerCase())).sort();
}

/**
 * Writes DIR/real.f32 [N,64,102] (the agent's preprocessing, then the pack's pooling, like
 * src/sim/dump-dataset.ts), DIR/real.json (per window: clip, class, split, package) and, with
 * a pack, DIR/captions.f32 [M,128] with DIR/captions.json: the pack's text embeddings of every
 * training caption (the frozen text anchor).
 */
export async function dumpRealAudio(opts: {
  card: RealAudioCard;
  clipsDir: string;
  out: string;
  pack?: string;
  maxWindows?: number;
}): Promise<{ windows: number }> {
  mkdirSync(opts.out, { recursive: true });
  const pre = new AudioWindowPreprocessor(MINI_PREPROCESS.audio, REAL_WINDOW_SAMPLES);
  const full = new Float32Array(pre.size);
  const per = 64 * 102;
  const chunks: Float32Array[] = [];
  const rows: { clip: number; cls: number; split: string; package: string }[] = [];
  opts.card.files.forEach((f, clip) => {
    for (const w of realWindows(readClip(opts.clipsDir, f), opts.maxWindows ?? 12)) {
      pre.process(w, full, 0);
      const pooled = new Float32Array(per);
      avgPool2d(full, 0, 128, 204, POOL.audio[0], POOL.audio[1], pooled, 0);
      chunks.push(pooled);
      rows.push({ clip, cls: SIM_CLASSES.indexOf(f.class), split: f.split, package: f.package });
    }
  });
  const all = new Float32Array(chunks.length * per);
  chunks.forEach((c, i) => all.set(c, i * per));
  writeFileSync(join(opts.out, 'real.f32'), Buffer.from(all.buffer));
  writeFileSync(
    join(opts.out, 'real.json'),
    `${JSON.stringify({ count: rows.length, shape: [64, 102], classes: SIM_CLASSES, rows })}\n`,
  );
  if (opts.pack) {
    const enc = await open(opts.pack);
    try {
      const captions: string[] = [];
      const cls: number[] = [];
      for (const [i, c] of SIM_CLASSES.entries()) {
        for (const cap of captionBank(c)) {
          captions.push(cap);
          cls.push(i);
        }
      }
      const vecs = await enc.text.embed(captions);
      const buf = new Float32Array(vecs.length * vecs[0]!.length);
      vecs.forEach((v, i) => buf.set(v, i * v.length));
      writeFileSync(join(opts.out, 'captions.f32'), Buffer.from(buf.buffer));
      writeFileSync(
        join(opts.out, 'captions.json'),
        `${JSON.stringify({ dim: vecs[0]!.length, cls, captions })}\n`,
      );
    } finally {
      await enc.close();
    }
  }
  return { windows: rows.length };
}

/** The pack's text and audio encoders; `close()` also removes their state directory. */
async function open(pack: string): Promise<EncoderSet> {
  const stateDir = await mkdtemp(join(tmpdir(), 'edgebind-real-'));
  const enc = await openEncoders({
    config: {
      stateDir,
      encoders: {
        pack: pack === 'test' ? pack : resolve(pack),
        providers: ['cpu'],
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: 8,
      },
    },
    modalities: ['audio'],
    logger: pino({ level: 'silent' }),
  });
  return {
    pack: enc.pack,
    text: enc.text,
    windows: enc.windows,
    close: async () => {
      await enc.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

export interface RealEvalResult {
  pack: { id: string; version: string };
  /** Evaluation clips per class (classes with real data only). */
  clips: Record<string, number>;
  packages: string[];
  /** Zero-shot top-1 over all classes with eval clips, canonical prompts, all 12 classes as candidates. */
  zeroShotTop1: number;
  perClassTop1: Record<string, number>;
  /** Mean over classes (each class weighs the same). */
  zeroShotBalanced: number;
  /** Nearest class prototype of k clips per class, among classes with more than k clips. */
  fewShot: Record<string, number>;
  /** Only in a stored baseline: that pack's simulator audio zero-shot (its REPORT.md). */
  simulatorAudio?: { canonical: number; paraphrased: number };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function meanDir(vs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  const n = Math.hypot(...out) || 1;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
}

function nearest(v: Float32Array, protos: ReadonlyMap<string, Float32Array>): string {
  let best = '';
  let bestS = -Infinity;
  for (const [c, p] of protos) {
    const s = dot(v, p);
    if (s > bestS) {
      bestS = s;
      best = c;
    }
  }
  return best;
}

/** Embeds one clip as the agent hears it (module comment). */
export async function embedClip(enc: EncoderSet, samples: Float32Array): Promise<Float32Array> {
  const audio = enc.windows.get('audio');
  if (!audio) throw new Error('pack has no audio encoder');
  const windows: Window[] = realWindows(samples, 8).map((data, seq) => ({
    sensorId: 'real',
    modality: 'audio',
    seq,
    startMs: seq * 1000,
    endMs: seq * 1000 + 2000,
    startWallMs: seq * 1000,
    endWallMs: seq * 1000 + 2000,
    rateHz: REAL_RATE_HZ,
    data,
    shape: [data.length],
  }));
  return meanDir(await audio.embed(windows));
}

export async function evaluateReal(opts: {
  pack: string;
  card: RealAudioCard;
  clipsDir: string;
  episodes?: number;
}): Promise<RealEvalResult> {
  const files = opts.card.files.filter((f) => f.split === 'eval');
  const enc = await open(opts.pack);
  try {
    const vecs: Float32Array[] = [];
    for (const f of files) vecs.push(await embedClip(enc, readClip(opts.clipsDir, f)));
    const protos = new Map<string, Float32Array>();
    const text = await enc.text.embed(SIM_CLASSES.map((c) => CANONICAL[c]));
    SIM_CLASSES.forEach((c, i) => protos.set(c, text[i]!));
    const classes = SIM_CLASSES.filter((c) => files.some((f) => f.class === c));
    const clips: Record<string, number> = {};
    const perClassTop1: Record<string, number> = {};
    let ok = 0;
    for (const c of classes) {
      const idx = files.flatMap((f, i) => (f.class === c ? [i] : []));
      const hits = idx.filter((i) => nearest(vecs[i]!, protos) === c).length;
      clips[c] = idx.length;
      perClassTop1[c] = hits / idx.length;
      ok += hits;
    }
    const fewShot: Record<string, number> = {};
    for (const k of REAL_FEW_SHOT_K) {
      const rng = new Rng(4321 + k);
      let hit = 0;
      let total = 0;
      for (let ep = 0; ep < (opts.episodes ?? 20); ep++) {
        const support = new Set<number>();
        const fs = new Map<string, Float32Array>();
        for (const c of classes) {
          const pool = files.flatMap((f, i) => (f.class === c ? [i] : []));
          if (pool.length <= k) continue;
          const chosen: number[] = [];
          for (let j = 0; j < k; j++) chosen.push(pool.splice(Math.floor(rng.next() * pool.length), 1)[0]!);
          chosen.forEach((i) => support.add(i));
          fs.set(c, meanDir(chosen.map((i) => vecs[i]!)));
        }
        files.forEach((f, i) => {
          if (support.has(i) || !fs.has(f.class)) return;
          total++;
          if (nearest(vecs[i]!, fs) === f.class) hit++;
        });
      }
      fewShot[String(k)] = total > 0 ? hit / total : Number.NaN;
    }
    return {
      pack: enc.pack,
      clips,
      packages: [...new Set(files.map((f) => f.package))].sort(),
      zeroShotTop1: ok / files.length,
      perClassTop1,
      zeroShotBalanced: classes.reduce((s, c) => s + perClassTop1[c]!, 0) / classes.length,
      fewShot,
    };
  } finally {
    await enc.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      card: { type: 'string', default: 'train/data/real-audio.json' },
      clips: { type: 'string', default: '.cache/real-audio' },
      pack: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const card = JSON.parse(await readFile(values.card, 'utf8')) as RealAudioCard;
  if (positionals[0] === 'dump') {
    if (!values.out) throw new TypeError('--out DIR is required');
    const r = await dumpRealAudio({
      card,
      clipsDir: values.clips,
      out: values.out,
      ...(values.pack ? { pack: values.pack } : {}),
    });
    console.log(`wrote ${r.windows} real-audio windows to ${values.out}`);
  } else if (positionals[0] === 'eval') {
    if (!values.pack) throw new TypeError('--pack DIR is required');
    console.log(
      JSON.stringify(await evaluateReal({ pack: values.pack, card, clipsDir: values.clips }), null, 1),
    );
  } else throw new TypeError('usage: real-audio.ts dump|eval ...');
}
