/**
 * Child process of test/encoders/webgpu.test.ts (issue #15): opens a pack twice through the
 * agent's own path (openEncoders: providers, fallback, warm-up), once with `[cpu]` and once with
 * the given providers, embeds a few windows of every bundled recording and a few texts with both,
 * and prints one JSON line per pack. Run it with the Vulkan driver selected in its environment
 * (VK_ICD_FILENAMES, LD_LIBRARY_PATH): the dynamic loader reads those only at process start.
 *
 *   node --import tsx test/helpers/webgpu-parity-child.ts STATE_DIR PROVIDERS PACK...
 */
import { join } from 'node:path';
import { openEncoders } from '../../src/encoders/registry.js';
import type { EncoderSet } from '../../src/encoders/types.js';
import { recordingWindows } from '../../src/sensors/replay/recording.js';
import { createLogger } from '../../src/log.js';
import { SENSOR_MODALITIES, type SensorModality, type Window } from '../../src/pipeline/types.js';
import { SAMPLES } from './agent-config.js';

const FILES: Record<SensorModality, string> = {
  audio: 'room-audio.wav',
  thermal: 'room-thermal.ebf',
  depth: 'room-depth.ebf',
  imu: 'room-imu.ebf',
};
const TEXTS = ['a dog barking', 'a person falling', 'an alarm beeping'];
/** Windows per modality: with maxBatch 2, one batch of 2 and one of 1. */
const WINDOWS = 3;
const MAX_BATCH = 2;

export interface ParityEncoder {
  provider: string;
  cpuProvider: string;
  /** Smallest cosine between the two providers' embeddings of the same input. */
  minCosine: number;
  /** Warm-up at start on the tested provider (shader compilation on a GPU), ms. */
  warmUpMs: number;
  /** The first real embed after warm-up, and a repeat of the same inputs, ms. */
  firstEmbedMs: number;
  repeatEmbedMs: number;
}

export interface ParityReport {
  pack: string;
  encoders: Record<string, ParityEncoder>;
}

const [stateDirArg, providerList = '', ...packs] = process.argv.slice(2);
if (!stateDirArg || !providerList || packs.length === 0) {
  process.stderr.write('usage: webgpu-parity-child.ts STATE_DIR PROVIDERS PACK...\n');
  process.exit(2);
}
const stateDir: string = stateDirArg;
const logger = createLogger({ level: 'info', format: 'json' });

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

async function open(pack: string, providers: string[]): Promise<EncoderSet> {
  return openEncoders({
    config: {
      encoders: {
        pack,
        providers: providers as ('cpu' | 'webgpu')[],
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: MAX_BATCH,
      },
      stateDir,
    },
    modalities: SENSOR_MODALITIES,
    logger,
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

const inputs = new Map<SensorModality, Window[]>();
for (const m of SENSOR_MODALITIES) {
  const all = await recordingWindows({ file: join(SAMPLES, FILES[m]), modality: m });
  // Spread over the recording: quiet and eventful windows alike.
  inputs.set(
    m,
    Array.from({ length: WINDOWS }, (_, i) => all[Math.floor(((i + 0.5) * all.length) / WINDOWS)]!),
  );
}

for (const pack of packs) {
  const cpu = await open(pack, ['cpu']);
  const gpu = await open(pack, providerList.split(','));
  try {
    const encoders: Record<string, ParityEncoder> = {};
    const compare = async (
      name: string,
      run: (set: EncoderSet) => Promise<Float32Array[]>,
      provider: string,
      cpuProvider: string,
    ) => {
      const want = await run(cpu);
      const [got, firstEmbedMs] = await timed(() => run(gpu));
      const [, repeatEmbedMs] = await timed(() => run(gpu));
      encoders[name] = {
        provider,
        cpuProvider,
        minCosine: Math.min(...want.map((w, i) => cosine(w, got[i]!))),
        warmUpMs: gpu.warmUp?.find((w) => w.modality === name)?.ms ?? Number.NaN,
        firstEmbedMs: Math.round(firstEmbedMs),
        repeatEmbedMs: Math.round(repeatEmbedMs),
      };
    };
    await compare('text', (set) => set.text.embed(TEXTS), gpu.text.provider, cpu.text.provider);
    for (const m of SENSOR_MODALITIES) {
      const enc = (set: EncoderSet) => set.windows.get(m)!;
      await compare(m, (set) => enc(set).embed(inputs.get(m)!), enc(gpu).provider, enc(cpu).provider);
    }
    process.stdout.write(`${JSON.stringify({ pack, encoders } satisfies ParityReport)}\n`);
  } finally {
    await cpu.close();
    await gpu.close();
  }
}
