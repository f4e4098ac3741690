/**
 * `npm run bench [-- --only PART,PART] [--quick] [--reference] [--providers LIST]`: the performance report.
 * Every figure is measured here, side by side with its reference on the same machine, and
 * reported as a ratio where a reference exists. Writes bench/results/<date>.json and .md.
 *
 * Parts: fbank, tokenizer, preprocess, inference, providers, scoring, agent, soak, latency.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { connectAsync as mqttConnectAsync } from 'mqtt';
import { stringify } from 'yaml';
import {
  AudioPreprocessSchema,
  DepthPreprocessSchema,
  ImuPreprocessSchema,
  ThermalPreprocessSchema,
} from '../src/encoders/manifest.js';
import { DepthPreprocessor } from '../src/encoders/depth/preprocess.js';
import { AudioWindowPreprocessor } from '../src/encoders/audio/preprocess.js';
import { KaldiFbank } from '../src/encoders/audio/fbank.js';
import { ImuPreprocessor } from '../src/encoders/imu/preprocess.js';
import { ThermalPreprocessor } from '../src/encoders/thermal/preprocess.js';
import { ClipTokenizer } from '../src/encoders/text/clip-bpe.js';
import { EncoderSession } from '../src/encoders/session.js';
import { generateTestPack, IMAGEBIND_HUGE_PARAMS } from '../src/encoders/test-pack.js';
import { readManifest } from '../src/encoders/pack.js';
import { GraphBuilder } from '../src/encoders/onnx/graph.js';
import { writeModel } from '../src/encoders/onnx/writer.js';
import { ScoreBuffer, Scorer, type LabelSet } from '../src/fusion/scoring.js';
import { referenceScore } from './lib/reference-scorer.js';
import { normalizeInPlace } from '../src/util/vectors.js';
import { SENSOR_MODALITIES, type Modality } from '../src/pipeline/types.js';
import { measureProviders } from './lib/providers.js';
import { progress } from '../src/cli/progress.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { lavapipeEnv, lavapipeMissing } from '../test/helpers/lavapipe.js';
import { startCollector } from '../test/helpers/mqtt-collector.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    reference: { type: 'boolean', default: false },
    /** Providers the `providers` part compares with cpu (those that load here). */
    providers: { type: 'string', default: 'webgpu,cuda,tensorrt' },
    'soak-hours': { type: 'string' },
    /** Re-run some parts into an earlier report (its other parts are kept). */
    into: { type: 'string' },
    /** Where the report goes (default bench/results): a trial run that must not touch the committed reports. */
    out: { type: 'string' },
  },
});
const quick = values.quick;
const ROOT = fileURLToPath(new URL('../', import.meta.url));

// The providers part compares webgpu with cpu. Without a GPU's Vulkan driver it runs on lavapipe
// (software Vulkan, scripts/lavapipe.sh), as the tests do; the loader reads VK_ICD_FILENAMES and
// LD_LIBRARY_PATH only at process start, so the bench starts itself again with them set. A
// run that already names a driver (bench/gpu.sh names NVIDIA's) is left as it is.
if (
  (values.only?.split(',') ?? ['providers']).includes('providers') &&
  values.providers.split(',').includes('webgpu') &&
  !process.env.VK_ICD_FILENAMES &&
  !process.env.VK_DRIVER_FILES &&
  !systemVulkanDriver() &&
  lavapipeMissing() === undefined
) {
  process.stderr.write('bench: no Vulkan driver installed; webgpu runs on lavapipe (.cache/lavapipe)\n');
  const again = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: lavapipeEnv(),
  });
  process.exit(again.status ?? 1);
}

function systemVulkanDriver(): boolean {
  return ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'].some(
    (d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')),
  );
}
const SAMPLES = join(ROOT, 'samples');
const TSX = import.meta.resolve('tsx');
const work = join(tmpdir(), `edgebind-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

type Result = Record<string, unknown>;
const results: Record<string, Result> = values.into
  ? (JSON.parse(readFileSync(values.into, 'utf8')) as { results: Record<string, Result> }).results
  : {};
const notes: string[] = [];

const r3 = (x: number) => Math.round(x * 1000) / 1000;
function timeIt(fn: () => void, minMs: number): number {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    n++;
  }
  return (performance.now() - t0) / n;
}
async function timeAsync(fn: () => Promise<unknown>, minMs: number): Promise<number> {
  for (let i = 0; i < 2; i++) await fn();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    await fn();
    n++;
  }
  return (performance.now() - t0) / n;
}
const rnd = (n: number, seed = 1) => {
  let a = seed;
  return Float32Array.from({ length: n }, () => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1);
};

// ---------------------------------------------------------------------------------------------

function fbank(): Result {
  const run = spawnSync(
    process.execPath,
    ['--import', TSX, join(ROOT, 'bench/fbank.ts'), '--clips', quick ? '100' : '300'],
    {
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) return { error: (run.stderr || run.stdout).trim().split('\n').slice(-3).join(' ') };
  const line = run.stdout.trim().split('\n').at(-1)!;
  const r = JSON.parse(line) as Result;
  return {
    ...r,
    reference: 'torchaudio.compliance.kaldi.fbank, 1 thread',
    goal: 'ratio <= 0.5 (issue #19); cpuRatio is the same in CPU time, steadier on a busy machine',
  };
}

/**
 * The embedding history (issue #18): bench/history.ts writes 24 h of 4 sensors at 1 window/s
 * (345,600 windows; 34,560 with --quick) through the real writer and times searches over them,
 * at 128 (the mini pack) and 1024 dimensions. Goals: search ≤ 100 ms (128-d) and ≤ 1 s (1024-d),
 * writing ≤ 1 % of one core.
 */
function history(): Result {
  const run = spawnSync(
    process.execPath,
    ['--import', TSX, join(ROOT, 'bench/history.ts'), '--windows', quick ? '34560' : '345600'],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (run.status !== 0) return { error: (run.stderr || run.stdout).trim().split('\n').slice(-3).join(' ') };
  const out: Result = {
    reference:
      'goals (issue #18): text search <= 100 ms at 128-d and <= 1 s at 1024-d; writing <= 1 % of one core',
  };
  for (const line of run.stdout.trim().split('\n')) {
    const r = JSON.parse(line) as Result & { dim: number };
    out[`dim${r.dim}`] = r;
  }
  return out;
}

function tokenizer(): Result {
  const vocab = join(ROOT, '../shared/imagebind/bpe_simple_vocab_16e6.txt.gz');
  if (!existsSync(vocab)) return { error: `vocabulary not found at ${vocab}` };
  const t0 = performance.now();
  const tok = ClipTokenizer.fromVocabFile(vocab);
  const loadMs = performance.now() - t0;
  const words = [
    'a',
    'dog',
    'barking',
    'loudly',
    'in',
    'the',
    'kitchen',
    'smoke',
    'alarm',
    'beeping',
    'person',
    'falls',
  ];
  const texts = Array.from(
    { length: 2000 },
    (_, i) => `${words[i % 12]} ${words[(i * 7) % 12]} ${words[(i * 5) % 12]} number ${i}`,
  );
  // Cold: every text new to the word cache; warm: label prompts re-tokenised (the common case).
  const fresh = ClipTokenizer.fromVocabFile(vocab, { cacheSize: 0 });
  let k = 0;
  const coldMs = timeIt(() => fresh.encode(texts[k++ % texts.length]!), quick ? 300 : 1000);
  const warmMs = timeIt(() => tok.encode(texts[k++ % texts.length]!), quick ? 300 : 1000);
  return {
    vocabLoadMs: r3(loadMs),
    coldTextsPerSecond: Math.round(1000 / coldMs),
    warmTextsPerSecond: Math.round(1000 / warmMs),
  };
}

function preprocess(): Result {
  const out = new Float32Array(6 * 2000 + 224 * 224);
  const thermal = new ThermalPreprocessor({
    params: ThermalPreprocessSchema.parse({}),
    sampleShape: [24, 32],
  });
  const tWin = rnd(4 * 24 * 32).map((x) => 22 + 5 * x);
  const depth = new DepthPreprocessor({ params: DepthPreprocessSchema.parse({}), sampleShape: [480, 640] });
  const dWin = rnd(2 * 480 * 640).map((x) => 2000 + 1500 * x);
  const imu = new ImuPreprocessor({
    params: ImuPreprocessSchema.parse({}),
    rateHz: 200,
    windowSamples: 1000,
  });
  const iWin = rnd(1000 * 6);
  const ms = {
    thermal32x24: timeIt(() => thermal.process(tWin, [4, 24, 32], 4, out, 0), quick ? 300 : 1000),
    depth640x480: timeIt(() => depth.process(dWin, [2, 480, 640], 2, out, 0), quick ? 300 : 1000),
    imu200Hz5s: timeIt(() => imu.process(iWin, [1000, 6], 200, out, 0), quick ? 300 : 1000),
  };
  // Reference: the window's own duration at a 0.5 s hop — the share of real time one core spends.
  const out2: Result = Object.fromEntries(
    Object.entries(ms).map(([k, v]) => [k, { msPerWindow: r3(v), shareOfHalfSecondHop: r3(v / 500) }]),
  );
  // Audio, 2 s at 16 kHz: ImageBind's three clips cover the same samples, so since issue #19 their
  // features are computed once. Reference: one fbank per clip, three per window, as before.
  const audioParams = AudioPreprocessSchema.parse({});
  const audio = new AudioWindowPreprocessor(audioParams, 32000);
  const aWin = rnd(32000, 11).map((x) => 0.3 * x);
  const aOut = new Float32Array(audio.size);
  const perClip = new KaldiFbank({
    numMelBins: audioParams.numMelBins,
    sampleRateHz: audioParams.sampleRateHz,
    layout: 'mel-major',
    maxFrames: audioParams.targetLength,
    mean: audioParams.mean,
    std: audioParams.std,
  });
  const block = audioParams.numMelBins * audioParams.targetLength;
  let aMs = 0;
  let refMs = 0;
  for (let round = 0; round < 3; round++) {
    aMs += timeIt(() => audio.process(aWin, aOut, 0), quick ? 100 : 400);
    refMs += timeIt(
      () => {
        for (let k = 0; k < audioParams.clipsPerWindow; k++) perClip.compute(aWin, 32000, aOut, k * block);
      },
      quick ? 100 : 400,
    );
  }
  out2.audio16kHz2s = {
    msPerWindow: r3(aMs / 3),
    referenceMsPerWindow: r3(refMs / 3),
    ratio: r3(aMs / refMs),
    shareOfHalfSecondHop: r3(aMs / 3 / 500),
    reference: 'one fbank per clip, three per window (before issue #19)',
  };
  return out2;
}

/** Achievable matmul throughput on this CPU through onnxruntime: the peak the encoders are compared with. */
async function gemmPeak(dir: string): Promise<number> {
  const n = 1024;
  const g = new GraphBuilder('gemm');
  const x = g.input('x', 'float32', ['batch', n]);
  const w = g.initializer('w', [n, n], rnd(n * n, 3));
  g.output('y', 'float32', ['batch', n], g.op('MatMul', [x, w]));
  const file = join(dir, 'gemm.onnx');
  await writeModel(file, g.build());
  const s = await EncoderSession.open(
    file,
    { input: { name: 'x', dtype: 'float32', shape: ['batch', n] }, output: { name: 'y', dim: n } },
    { providers: ['cpu'], intraOpThreads: 1 },
  );
  const batch = 256;
  const input = rnd(batch * n);
  const ms = await timeAsync(() => s.run(input, batch), quick ? 500 : 1500);
  await s.close();
  return (2 * batch * n * n) / (ms / 1000);
}

async function inference(): Promise<Result> {
  const out: Result = {};
  const sizes: ('tiny' | 'mini' | 'reference')[] = [
    'tiny',
    'mini',
    ...(values.reference ? (['reference'] as const) : []),
  ];
  const peak = await gemmPeak(work).catch((err: unknown) => {
    notes.push(`gemm peak: ${(err as Error).message}`);
    return Number.NaN;
  });
  out.gemmPeakGflops = r3(peak / 1e9);
  for (const size of sizes) {
    // tiny/reference: generated random-weight packs; mini: the committed trained pack.
    const dir = size === 'mini' ? join(ROOT, 'models/mini') : join(work, `pack-${size}`);
    if (size !== 'mini' && !existsSync(join(dir, 'manifest.json'))) await generateTestPack(dir, { size });
    const manifest = await readManifest(dir);
    const rows: Result = {};
    for (const m of ['text', ...SENSOR_MODALITIES] as Modality[]) {
      const spec = manifest.encoders[m]!;
      const session = await EncoderSession.open(join(dir, spec.file), spec, {
        providers: ['cpu'],
        intraOpThreads: 1,
      });
      const perBatch: Result = {};
      for (const batch of size === 'reference' ? [1, 2] : [1, 4, 8]) {
        const input =
          spec.input.dtype === 'int64'
            ? new BigInt64Array(batch * session.itemSize).fill(320n)
            : rnd(batch * session.itemSize);
        const ms = await timeAsync(
          () => session.run(input, batch),
          size === 'reference' ? (quick ? 1 : 3000) : quick ? 200 : 800,
        );
        const row: Result = { msPerBatch: r3(ms), msPerItem: r3(ms / batch) };
        if (size === 'reference') {
          // Transformer forward ≈ 2 FLOP per parameter per token (attention score terms excluded).
          const tokens = { text: 77, audio: 229 * 3, thermal: 197, depth: 197, imu: 251 }[m as 'text'];
          const flop = 2 * IMAGEBIND_HUGE_PARAMS[m] * tokens * batch;
          row.gflops = r3(flop / (ms / 1000) / 1e9);
          row.shareOfGemmPeak = r3(flop / (ms / 1000) / peak);
        }
        perBatch[`batch${batch}`] = row;
      }
      rows[m] = { provider: session.provider, ...perBatch };
      await session.close();
    }
    out[size] = rows;
  }
  if (!values.reference)
    notes.push('inference: reference-size pack skipped (run with --reference; 2.3 GB, ~1 min to generate)');
  return out;
}

/** Each encoder on cpu and on every other provider that loads (issue #15), as ratios against cpu. */
async function providers(): Promise<Result> {
  const packs: Record<string, string> = { tiny: join(work, 'pack-tiny'), mini: join(ROOT, 'models/mini') };
  if (values.reference) packs.reference = join(work, 'pack-reference');
  for (const size of ['tiny', 'reference'] as const) {
    const dir = packs[size];
    if (dir && !existsSync(join(dir, 'manifest.json'))) await generateTestPack(dir, { size });
  }
  const r = await measureProviders({
    packs,
    providers: values.providers.split(',').filter((p) => p !== ''),
    batches: { reference: [1, 4] },
    minMs: quick ? 200 : 1000,
    timeAsync,
    rnd,
  });
  const gpu = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], {
    encoding: 'utf8',
  });
  if (gpu.status === 0) r.gpu = gpu.stdout.trim();
  return r;
}

/**
 * Label scoring per window (issue #19): the matrix scorer against the per-label loop it replaced
 * (bench/lib/reference-scorer.ts), same labels and embedding, at 1024 (ImageBind) and 128 (mini
 * pack) dimensions. Goal: 1,000 labels ≤ 0.5 ms per window at 1024-d.
 */
function scoring(): Result {
  const out: Result = {
    reference: 'per-label dot() loop (the scorer before issue #19), same run',
    goal: '1000 labels at 1024-d <= 0.5 ms per window',
  };
  for (const dim of [1024, 128]) {
    const bg = normalizeInPlace(rnd(dim, 99));
    for (const n of [10, 100, 1000]) {
      const set: LabelSet = {
        hash: 'x',
        background: new Map(SENSOR_MODALITIES.map((m) => [m, [bg]])),
        labels: Array.from({ length: n }, (_, i) => {
          const v = normalizeInPlace(rnd(dim, i + 2));
          return {
            name: `l${i}`,
            modalities: new Set(SENSOR_MODALITIES),
            onThreshold: 0.5,
            offThreshold: 0.5,
            margin: 0,
            minCosine: -1,
            fusion: 'score' as const,
            timing: {},
            vectors: new Map(SENSOR_MODALITIES.map((m) => [m, v])),
          };
        }),
      };
      const scorer = new Scorer(set, { temperature: 50 });
      const buffer = new ScoreBuffer(n);
      const e = normalizeInPlace(rnd(dim, 5));
      const minMs = quick ? 200 : 600;
      // Interleaved, so a busy machine slows both alike.
      let ms = 0;
      let refMs = 0;
      for (let round = 0; round < 3; round++) {
        ms += timeIt(() => scorer.score('audio', e, buffer), minMs / 3);
        refMs += timeIt(() => referenceScore(set, 'audio', e, 50), minMs / 3);
      }
      ms /= 3;
      refMs /= 3;
      out[`dim${dim}labels${n}`] = {
        usPerWindow: r3(ms * 1000),
        referenceUsPerWindow: r3(refMs * 1000),
        ratio: r3(ms / refMs),
        shareOfHalfSecondHop: r3(ms / 500),
        kernel: scorer.kernelFor('audio'),
      };
    }
  }
  return out;
}

// ---- whole-agent measurements (child processes) ---------------------------------------------

function agentConfig(
  name: string,
  opts: {
    sensors: number;
    hopMs: number;
    speed: number;
    loop: boolean;
    broker: string;
    labels: number;
    pack?: string;
  },
) {
  const all = [
    {
      id: 'mic',
      modality: 'audio',
      file: join(SAMPLES, 'room-audio.wav'),
      window: { lengthMs: 2000, hopMs: opts.hopMs },
    },
    {
      id: 'thermal',
      modality: 'thermal',
      file: join(SAMPLES, 'room-thermal.ebf'),
      window: { lengthMs: 1000, hopMs: opts.hopMs },
    },
    {
      id: 'depth',
      modality: 'depth',
      file: join(SAMPLES, 'room-depth.ebf'),
      window: { lengthMs: 1000, hopMs: opts.hopMs },
    },
    {
      id: 'imu',
      modality: 'imu',
      file: join(SAMPLES, 'room-imu.ebf'),
      window: { lengthMs: 5000, hopMs: opts.hopMs },
    },
  ];
  const cfg = {
    deviceId: name,
    stateDir: join(work, 'state'),
    mqtt: { broker: opts.broker, outboxMax: 1_000_000 },
    encoders: { pack: opts.pack ?? 'test' },
    sensors: all
      .slice(0, opts.sensors)
      .map((s) => ({ ...s, driver: 'replay', speed: opts.speed, loop: opts.loop, queueSize: 64 })),
    labels: Array.from({ length: opts.labels }, (_, i) => ({
      name: `label${i}`,
      prompts: [`sound number ${i}`],
    })),
    // Near 1/(labels + background): scores cross it often, so events start and end all the time.
    scoring: { threshold: 1.05 / (opts.labels + 2) },
    // maxDurationMs 1000: every label's event is cut and restarted each second — many starts.
    events: { minWindows: 1, endWindows: 1, cooldownMs: 0, updateIntervalMs: 0, maxDurationMs: 1000 },
    log: { level: 'error' },
  };
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, stringify(cfg));
  return file;
}

function procStat(pid: number): { cpuS: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return { cpuS: ticks / 100, rssMb: Number(rss) / 1024 };
}

async function runChild(config: string, args: string[], onLine?: (line: string) => void) {
  const child = spawn(
    process.execPath,
    ['--import', TSX, join(ROOT, 'bench/lib/agent-child.ts'), config, ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let buf = '';
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const done = new Promise<string>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'READY') ready();
        else if (line.startsWith('DONE')) resolve(line);
        else onLine?.(line);
      }
    });
    child.on('close', () => resolve(''));
  });
  await readyP;
  return { child, done };
}

async function agentOverhead(): Promise<Result> {
  const seconds = quick ? 15 : 60;
  const out: Result = { seconds, reference: '5% of one core (issue #9 budget)' };
  const broker = await startMosquitto();
  try {
    for (const [name, args, sensors, hopMs] of [
      ['fourSensorsNoEncoders', ['--hash-encoder'], 4, 500],
      ['oneSensorNoEncoders', ['--hash-encoder'], 1, 500],
      ['twoSensorsNoEncoders', ['--hash-encoder'], 2, 500],
      ['fourSensorsHop250NoEncoders', ['--hash-encoder'], 4, 250],
      ['fourSensorsHop1000NoEncoders', ['--hash-encoder'], 4, 1000],
      ['fourSensorsTestPack', [], 4, 500],
      ['fourSensorsMiniPack', [], 4, 500],
    ] as const) {
      if (quick && !['fourSensorsNoEncoders', 'fourSensorsTestPack'].includes(name)) continue;
      const pack = name === 'fourSensorsMiniPack' ? join(ROOT, 'models/mini') : undefined;
      const cfg = agentConfig(name, {
        sensors,
        hopMs,
        speed: 1,
        loop: true,
        broker: broker.url,
        labels: 10,
        ...(pack ? { pack } : {}),
      });
      const { child } = await runChild(cfg, [...args]);
      await new Promise((r) => setTimeout(r, 3000)); // warm-up: JIT, first windows
      const a = procStat(child.pid!);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const b = procStat(child.pid!);
      const wallS = (performance.now() - t0) / 1000;
      child.kill('SIGTERM');
      const cpuShare = (b.cpuS - a.cpuS) / wallS;
      out[name] = {
        cpuPercentOfOneCore: r3(cpuShare * 100),
        ratioToBudget: r3(cpuShare / 0.05),
        rssMb: r3(b.rssMb),
      };
    }
  } finally {
    await broker.close();
  }
  return out;
}

async function soak(): Promise<Result> {
  const hours = Number(values['soak-hours'] ?? (quick ? 1 : 24));
  const broker = await startMosquitto();
  try {
    // 20 s of recordings looped at full speed: windows every 0.5 s of data time on four sensors.
    const cfg = agentConfig('soak', {
      sensors: 4,
      hopMs: 500,
      speed: 0,
      loop: true,
      broker: broker.url,
      labels: 10,
    });
    const sub = await startCollector({ url: broker.url, filter: 'edgebind/soak/events' });
    const { child } = await runChild(cfg, ['--hash-encoder']);
    const windowsTarget = hours * 3600 * 2; // audio windows at a 0.5 s hop
    const samples: { t: number; rssMb: number; cpuS: number }[] = [];
    const t0 = performance.now();
    let dataS = 0;
    // The agent does not report progress; the audio window rate at speed 0 is measured from CPU
    // time instead: sample RSS every 2 s and stop after the equivalent data time has elapsed,
    // estimated from the events seen (each event carries its data-time stamp).
    let firstTs = Number.NaN;
    let lastTs = Number.NaN;
    sub.client.on('message', (_t, payload) => {
      const ts = Date.parse((JSON.parse(payload.toString()) as { timestamp: string }).timestamp);
      if (Number.isNaN(firstTs)) firstTs = ts;
      lastTs = ts;
    });
    while (dataS < hours * 3600 && performance.now() - t0 < (quick ? 120_000 : 900_000)) {
      await new Promise((r) => setTimeout(r, 2000));
      const s = procStat(child.pid!);
      samples.push({ t: (performance.now() - t0) / 1000, ...s });
      dataS = Number.isNaN(firstTs) ? 0 : (lastTs - firstTs) / 1000;
    }
    child.kill('SIGTERM');
    await sub.close();
    const early = samples.slice(Math.floor(samples.length * 0.1), Math.floor(samples.length * 0.2) + 1);
    const late = samples.slice(-Math.max(1, Math.floor(samples.length * 0.1)));
    const avg = (xs: { rssMb: number }[]) => xs.reduce((a, b) => a + b.rssMb, 0) / xs.length;
    const growth = avg(late) / avg(early) - 1;
    return {
      targetDataHours: hours,
      dataHoursReplayed: r3(dataS / 3600),
      wallSeconds: r3(samples.at(-1)?.t ?? 0),
      windowsTarget,
      rssEarlyMb: r3(avg(early)),
      rssLateMb: r3(avg(late)),
      rssGrowth: r3(growth),
      reference: 'RSS within 10% (issue #9)',
    };
  } finally {
    await broker.close();
  }
}

/**
 * End of a window → a subscriber receiving its start event, through Mosquitto on loopback, inference
 * excluded (hash encoder). Reference, same run and broker: one QoS 1 publish from a plain client to
 * a subscriber (the broker round trip the agent cannot go below). Budget: p99 ≤ 10 ms (issue #19),
 * in steady state: events of the first `warmUpSeconds` after start are reported apart (`warmUp`).
 */
async function latency(): Promise<Result> {
  // Two minutes: about 340 start events, so p99 is not the second-worst event of a short run.
  const seconds = quick ? 20 : 120;
  const warmUpSeconds = quick ? 5 : 20;
  const broker = await startMosquitto();
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;
  try {
    const cfg = agentConfig('latency', {
      sensors: 4,
      hopMs: 500,
      speed: 1,
      loop: true,
      broker: broker.url,
      labels: 10,
    });
    const sub = await startCollector({ url: broker.url, filter: 'edgebind/latency/events' });
    const lat: number[] = [];
    const warm: number[] = [];
    let measuring = false;
    sub.client.on('message', (_t, payload) => {
      const e = JSON.parse(payload.toString()) as { type: string; timestamp: string };
      // A start event's timestamp is the end of the window that started it.
      if (e.type === 'start') (measuring ? lat : warm).push(Date.now() - Date.parse(e.timestamp));
    });
    const { child } = await runChild(cfg, ['--hash-encoder']);
    // The first seconds are the daemon's start-up, reported apart: JIT compilation and V8's
    // start-up garbage collections (one of 8-12 ms) land there, not in the months that follow.
    await new Promise((r) => setTimeout(r, warmUpSeconds * 1000));
    measuring = true;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    child.kill('SIGTERM');
    await sub.close();
    lat.sort((a, b) => a - b);
    warm.sort((a, b) => a - b);

    // The reference: the same path without the agent, one message every 50 ms.
    const refSub = await startCollector({ url: broker.url, filter: 'bench/roundtrip' });
    const ref: number[] = [];
    refSub.client.on('message', (_t, payload) => {
      ref.push(performance.now() - Number(payload.toString()));
    });
    const pub = await mqttConnectAsync(broker.url, { clientId: 'bench-roundtrip' });
    for (let i = 0; i < (quick ? 100 : 400); i++) {
      await pub.publishAsync('bench/roundtrip', String(performance.now()), { qos: 1 });
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500));
    await pub.endAsync();
    await refSub.close();
    ref.sort((a, b) => a - b);
    return {
      events: lat.length,
      p50Ms: q(lat, 0.5),
      p99Ms: q(lat, 0.99),
      maxMs: lat.at(-1),
      ratioP99ToBudget: r3(q(lat, 0.99) / 10),
      warmUp: {
        seconds: warmUpSeconds,
        events: warm.length,
        p50Ms: q(warm, 0.5),
        p99Ms: q(warm, 0.99),
        maxMs: warm.at(-1),
      },
      brokerRoundTrip: {
        messages: ref.length,
        p50Ms: r3(q(ref, 0.5)),
        p99Ms: r3(q(ref, 0.99)),
        maxMs: r3(ref.at(-1) ?? Number.NaN),
      },
      reference:
        'p99 <= 10 ms excluding inference (issue #19); brokerRoundTrip: a plain QoS 1 publish, same broker, same run',
      note: 'event timestamps have 1 ms resolution',
    };
  } finally {
    await broker.close();
  }
}

// ---------------------------------------------------------------------------------------------

const parts: Record<string, () => Result | Promise<Result>> = {
  fbank,
  tokenizer,
  preprocess,
  inference,
  providers,
  scoring,
  agent: agentOverhead,
  soak,
  latency,
  history,
};
const only = values.only?.split(',') ?? Object.keys(parts);
for (const name of only)
  if (!parts[name]) throw new TypeError(`unknown part "${name}"; parts: ${Object.keys(parts).join(', ')}`);
// On a terminal, a line saying which part runs, k of n, and the time so far (issue 17); plain lines
// otherwise. No time left: parts differ by orders of magnitude. One redraw a second at most, and
// none while a synchronous part runs, so it barely touches what is measured.
const bar = progress('bench', { timeLeft: false, intervalMs: 1000 });
for (const [k, name] of only.entries()) {
  if (bar.active) bar.update('parts', k, only.length, `running ${name}`);
  else process.stderr.write(`bench: ${name}…\n`);
  const t0 = performance.now();
  try {
    results[name] = await parts[name]!();
  } catch (err) {
    results[name] = { error: (err as Error).message };
  }
  bar.finish(); // the finished part's line stays above the next one's progress
  process.stderr.write(`bench: ${name} done in ${Math.round(performance.now() - t0)} ms\n`);
}

const date = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, quick },
  results,
  notes,
};
const dir = values.out ?? join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `${date}.json`), `${JSON.stringify(report, null, 2)}\n`);
const md = [
  `# edgebind benchmark ${report.date}`,
  '',
  `Machine: ${report.machine.cpus} × ${report.machine.model}, Node ${report.machine.node}${quick ? ' (quick run)' : ''}`,
  '',
];
for (const [name, r] of Object.entries(results))
  md.push(`## ${name}`, '', '```json', JSON.stringify(r, null, 2), '```', '');
if (notes.length) md.push('## Notes', '', ...notes.map((n) => `- ${n}`), '');
writeFileSync(join(dir, `${date}.md`), md.join('\n'));
process.stdout.write(`${JSON.stringify(report)}\n`);
process.stderr.write(`bench: wrote ${join(dir, date)}.json and .md\n`);
process.exit(0);
