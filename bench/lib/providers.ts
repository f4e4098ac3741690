/**
 * The `providers` part of `npm run bench` (issue #15): every encoder of a pack on `cpu` and on
 * each other execution provider that loads here, side by side in one process, through the agent's
 * own session code (src/encoders/session.ts). Per provider and batch size: ms per batch, windows
 * per second and the speed-up over cpu (cpu ms / provider ms; above 1 is faster). Per encoder: the
 * first run on the provider (kernel or shader compilation, what the agent's warm-up pays at start)
 * and the smallest cosine between the provider's and cpu's outputs for the same input.
 */
import { join } from 'node:path';
import { readManifest } from '../../src/encoders/pack.js';
import { EncoderSession, probeProvider } from '../../src/encoders/session.js';
import type { Modality } from '../../src/pipeline/types.js';

type Result = Record<string, unknown>;

export interface ProvidersBenchOptions {
  /** Pack directories by name, e.g. `{ mini: 'models/mini' }`. */
  packs: Record<string, string>;
  /** Providers to compare with cpu; those that do not load are reported as unavailable. */
  providers: string[];
  /** Batch sizes per pack name; default [1, 8]. */
  batches?: Record<string, number[]>;
  /** Minimum timed duration per measurement, ms. */
  minMs: number;
  timeAsync: (fn: () => Promise<unknown>, minMs: number) => Promise<number>;
  rnd: (n: number, seed?: number) => Float32Array;
}

const MODALITIES: Modality[] = ['text', 'audio', 'thermal', 'depth', 'imu'];
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function minRowCosine(a: Float32Array, b: Float32Array, rows: number): number {
  const dim = a.length / rows;
  let min = 1;
  for (let r = 0; r < rows; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let i = r * dim; i < (r + 1) * dim; i++) {
      ab += a[i]! * b[i]!;
      aa += a[i]! * a[i]!;
      bb += b[i]! * b[i]!;
    }
    min = Math.min(min, ab / Math.sqrt(aa * bb));
  }
  return min;
}

export async function measureProviders(opts: ProvidersBenchOptions): Promise<Result> {
  const out: Result = {};
  const unavailable: Record<string, string> = {};
  const others: string[] = [];
  for (const p of opts.providers.filter((p) => p !== 'cpu')) {
    const reason = await probeProvider(p);
    if (reason === undefined) others.push(p);
    else unavailable[p] = reason;
  }
  out.compared = ['cpu', ...others];
  if (Object.keys(unavailable).length > 0) out.unavailable = unavailable;
  if (process.env.VK_ICD_FILENAMES) out.vulkanIcd = process.env.VK_ICD_FILENAMES;

  for (const [packName, dir] of Object.entries(opts.packs)) {
    const manifest = await readManifest(dir);
    const batches = opts.batches?.[packName] ?? [1, 8];
    const rows: Result = {};
    for (const m of MODALITIES) {
      const spec = manifest.encoders[m];
      if (!spec) continue;
      const file = join(dir, spec.file);
      const inputs = new Map<number, Float32Array | BigInt64Array>();
      const cpuOut = new Map<number, { ms: number; y: Float32Array }>();
      const cpu = await EncoderSession.open(file, spec, { providers: ['cpu'], intraOpThreads: 1 });
      try {
        for (const b of batches) {
          const input =
            spec.input.dtype === 'int64'
              ? BigInt64Array.from({ length: b * cpu.itemSize }, (_, i) => BigInt(320 + (i % 77)))
              : opts.rnd(b * cpu.itemSize, b);
          inputs.set(b, input);
          const y = await cpu.run(input, b);
          const ms = await opts.timeAsync(() => cpu.run(input, b), opts.minMs);
          cpuOut.set(b, { ms, y });
        }
      } finally {
        await cpu.close();
      }
      const row: Result = {
        cpu: Object.fromEntries(
          batches.map((b) => {
            const { ms } = cpuOut.get(b)!;
            return [`batch${b}`, { msPerBatch: r3(ms), windowsPerSecond: r3((1000 * b) / ms) }];
          }),
        ),
      };
      for (const p of others) {
        let s: EncoderSession | undefined;
        try {
          s = await EncoderSession.open(file, spec, { providers: [p] });
          const per: Result = {};
          let minCosine = 1;
          let firstRunMs = 0;
          for (const b of batches) {
            const input = inputs.get(b)!;
            const t0 = performance.now();
            const y = await s.run(input, b);
            firstRunMs += performance.now() - t0;
            minCosine = Math.min(minCosine, minRowCosine(y, cpuOut.get(b)!.y, b));
            const ms = await opts.timeAsync(() => s!.run(input, b), opts.minMs);
            per[`batch${b}`] = {
              msPerBatch: r3(ms),
              windowsPerSecond: r3((1000 * b) / ms),
              speedupVsCpu: r3(cpuOut.get(b)!.ms / ms),
            };
          }
          row[p] = { firstRunMs: Math.round(firstRunMs), minCosineVsCpu: minCosine, ...per };
        } catch (err) {
          row[p] = { error: (err as Error).message.split('\n')[0] };
        } finally {
          await s?.close();
        }
      }
      rows[m] = row;
    }
    out[packName] = rows;
  }
  return out;
}
