/**
 * tools/export-imagebind/export_imagebind.py on its stand-in model (tiny random modules with
 * ImageBind's structure and I/O signatures): it must export every modality, pass its own
 * ONNX-vs-PyTorch check in fp32 and fp16, and write packs that edgebind loads and embeds with.
 * Needs /usr/bin/python3 with torch, numpy and onnx (Debian: python3-torch python3-numpy python3-onnx).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadPack } from '../../src/encoders/pack.js';
import { openEncoders } from '../../src/encoders/registry.js';
import type { EncoderSet } from '../../src/encoders/types.js';
import type { SensorModality, Window } from '../../src/pipeline/types.js';
import { REPO, tempDir } from '../helpers/agent-config.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO, 'tools/export-imagebind/export_imagebind.py');
const BPE_SHA256 = '924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a';
const SENSORS: SensorModality[] = ['audio', 'thermal', 'depth', 'imu'];

/** The shared/ folder beside (or inside) the repository: the first ancestor that has one. */
function sharedDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'shared');
    if (existsSync(join(candidate, 'imagebind', 'bpe_simple_vocab_16e6.txt.gz'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('no shared/imagebind/bpe_simple_vocab_16e6.txt.gz above the test directory');
    dir = parent;
  }
}
const BPE = join(sharedDir(), 'imagebind', 'bpe_simple_vocab_16e6.txt.gz');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function exportPack(out: string, extra: string[] = []): Promise<Run> {
  const child = spawn(PYTHON, [SCRIPT, '--standin', '--out', out, '--bpe', BPE, '--threads', '2', ...extra], {
    cwd: REPO,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const dir = tempDir('export');
const out = join(dir, 'pack');
let run: Run;
before(async () => {
  run = await exportPack(out);
});
after(() => rm(dir, { recursive: true, force: true }));

const logger = pino({ level: 'silent' });

interface CheckEntry {
  maxAbsDiff: number;
  maxAbsDiffUnit: number;
  minCosine: number;
}

test('the exporter passes its ONNX-vs-PyTorch check for every modality, fp32 and fp16', async () => {
  assert.equal(run.code, 0, `exit 0 expected; stderr:\n${run.stderr}`);
  assert.match(
    run.stdout,
    /text: logit scale from the checkpoint: θ = 4\.048\d+, min\(exp\(θ\), 100\) = 57\.3000/,
  );
  assert.match(
    run.stdout,
    /imu: patchify replaced by reshape\/permute\/reshape \(identical to unfold in torch\)/,
  );
  for (const variant of ['fp32', 'fp16']) {
    for (const m of ['text', ...SENSORS]) {
      for (const batch of [1, 2]) {
        assert.match(
          run.stdout,
          new RegExp(`check ${variant} ${m} batch ${batch}: max abs diff \\S+ .*\\[ok: tolerance`),
          `${variant} ${m} batch ${batch} checked`,
        );
      }
    }
  }
  const report = JSON.parse(await readFile(join(out, 'check.json'), 'utf8')) as Record<string, CheckEntry>;
  assert.equal(Object.keys(report).length, 10);
  for (const [key, r] of Object.entries(report)) {
    const fp16 = key.startsWith('fp16/');
    assert.ok(r.maxAbsDiffUnit < (fp16 ? 2e-2 : 1e-4), `${key}: ${r.maxAbsDiffUnit}`);
    assert.ok(r.minCosine > (fp16 ? 0.999 : 0.99999), `${key}: cosine ${r.minCosine}`);
  }
});

test('the packs load: manifest fields, sha256 of every file, signatures as ImageBind', async () => {
  for (const variant of ['fp32', 'fp16']) {
    const pack = await loadPack(join(out, variant), { providers: ['cpu'], logger });
    try {
      const m = pack.manifest;
      assert.equal(m.version, `1.0.0-${variant}`);
      assert.match(m.provenance, /stand-in model .*NOT ImageBind.*torch .*opset 17/);
      assert.equal(m.license, 'Apache-2.0', 'random stand-in weights, not the CC BY-NC-SA ones');
      assert.deepEqual(m.tokenizer, {
        kind: 'clip-bpe',
        vocab: 'bpe_simple_vocab_16e6.txt.gz',
        sha256: BPE_SHA256,
        contextLength: 77,
      });
      assert.deepEqual(Object.keys(pack.sessions).sort(), ['audio', 'depth', 'imu', 'text', 'thermal']);
      const enc = m.encoders;
      assert.deepEqual(enc.text.input, { name: 'text', dtype: 'int64', shape: ['batch', 77] });
      assert.deepEqual(enc.audio!.input.shape, ['batch', 1, 128, 204]);
      assert.equal(enc.audio!.postprocess.clipAverage, true);
      assert.deepEqual(enc.imu!.input.shape, ['batch', 6, 2000]);
      assert.ok(Math.abs(enc.text.postprocess.logitScale - 57.3) < 1e-3);
      assert.deepEqual(
        SENSORS.map((s) => enc[s]!.postprocess.logitScale),
        [20, 10, 5, 5],
      );
    } finally {
      await pack.close();
    }
  }
});

function window(modality: SensorModality, rateHz: number, shape: number[], f: (i: number) => number): Window {
  const n = shape.reduce((a, b) => a * b, 1);
  const lengthMs = (shape[0]! / rateHz) * 1000;
  return {
    sensorId: modality,
    modality,
    seq: 0,
    startMs: 0,
    endMs: lengthMs,
    startWallMs: 0,
    endWallMs: lengthMs,
    rateHz,
    data: Float32Array.from({ length: n }, (_, i) => f(i)),
    shape,
  };
}

const WINDOWS: Record<SensorModality, Window> = {
  audio: window('audio', 16000, [32000], (i) => 0.3 * Math.sin(i / 7) + 0.05 * Math.sin(i / 1.3)),
  thermal: window('thermal', 4, [4, 24, 32], (i) => 20 + ((i * 7) % 13)),
  depth: window('depth', 5, [5, 48, 64], (i) => 800 + ((i * 31) % 2000)),
  imu: window('imu', 400, [2000, 6], (i) => Math.sin(i / 50) + (i % 6)),
};

async function embedAll(variant: string): Promise<Record<string, Float32Array>> {
  const encoders: EncoderSet = await openEncoders({
    config: {
      encoders: {
        pack: join(out, variant),
        providers: ['cpu'],
        intraOpThreads: 1,
        interOpThreads: 1,
        maxBatch: 4,
      },
      stateDir: join(dir, 'state'),
    },
    modalities: SENSORS,
    logger,
  });
  try {
    const result: Record<string, Float32Array> = {};
    result.text = (await encoders.text.embed(['a dog barking']))[0]!;
    for (const m of SENSORS) result[m] = (await encoders.windows.get(m)!.embed([WINDOWS[m]]))[0]!;
    return result;
  } finally {
    await encoders.close();
  }
}

test('edgebind embeds one input per modality with each pack; fp16 agrees with fp32', async () => {
  const fp32 = await embedAll('fp32');
  const fp16 = await embedAll('fp16');
  for (const m of ['text', ...SENSORS]) {
    for (const v of [fp32[m]!, fp16[m]!]) {
      assert.equal(v.length, 1024, m);
      assert.ok(v.every(Number.isFinite), `${m}: finite`);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, `${m}: unit length`);
    }
    let cos = 0;
    for (let i = 0; i < 1024; i++) cos += fp32[m]![i]! * fp16[m]![i]!;
    assert.ok(cos > 0.999, `${m}: fp16 vs fp32 cosine ${cos}`);
  }
});

test('without the IMU fix the export is wrong and the check says so', async () => {
  const r = await exportPack(join(dir, 'nofix'), [
    '--no-imu-fix',
    '--no-fp16',
    '--modalities',
    'text,imu',
    '--runtime',
    'node',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /imu\.onnx: onnxruntime.* failed/);
  assert.match(r.stderr, /Incompatible dimensions for matrix multiplication/);
});
