import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { PackError, type ErrorCode } from '../../src/errors.js';
import type { ManifestInput } from '../../src/encoders/manifest.js';
import { GraphBuilder, type Dim, type ElemType } from '../../src/encoders/onnx/graph.js';
import { writeModel } from '../../src/encoders/onnx/writer.js';
import { loadPack, verifyPack } from '../../src/encoders/pack.js';
import { generateTestPack } from '../../src/encoders/test-pack.js';
import type { Modality } from '../../src/pipeline/types.js';

const root = await mkdtemp(join(tmpdir(), 'edgebind-pack-'));
after(() => rm(root, { recursive: true, force: true }));
let packs = 0;

/** A fresh tiny pack in its own directory. */
async function freshPack(): Promise<string> {
  const dir = join(root, `p${packs++}`);
  await generateTestPack(dir, { seed: 5 });
  return dir;
}

async function editManifest(
  dir: string,
  edit: (m: ManifestInput & Record<string, unknown>) => void,
): Promise<void> {
  const file = join(dir, 'manifest.json');
  const m = JSON.parse(await readFile(file, 'utf8')) as ManifestInput & Record<string, unknown>;
  edit(m);
  await writeFile(file, JSON.stringify(m, null, 2));
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** Replaces `modality`'s file with `bytes` (or leaves it) and records its real hash in the manifest. */
async function rehash(dir: string, modality: Modality): Promise<void> {
  const hash = await sha256(join(dir, `${modality}.onnx`));
  await editManifest(dir, (m) => {
    m.encoders[modality]!.sha256 = hash;
  });
}

/** A model with the given signature: input → mean → MatMul → output `[.., dim]`. */
async function writeStub(
  file: string,
  input: { name: string; dtype: ElemType; shape: Dim[] },
  output: { name: string; shape: Dim[] },
): Promise<void> {
  const g = new GraphBuilder('stub');
  let x = g.input(input.name, input.dtype, input.shape);
  if (input.dtype === 'int64') x = g.op('Cast', [x], { to: 1 });
  const mean = g.op('ReduceMean', [g.op('Flatten', [x], { axis: 1 })], { axes: [1], keepdims: 1 });
  const dim = output.shape[1] as number;
  const y = g.op('MatMul', [mean, g.initializer('w', [1, dim], new Float32Array(dim).fill(1))]);
  g.output(output.name, 'float32', output.shape, y);
  await writeModel(file, g.build());
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, ...patterns: (RegExp | string)[]) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof PackError, `expected a PackError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(err.message.includes(p), `"${err.message}" lacks "${p}"`);
      else assert.match(err.message, p);
    }
    return true;
  });
}

const cpu = { providers: ['cpu'] };

test('a generated pack loads every encoder, or only the requested ones', async () => {
  const dir = await freshPack();
  const all = await loadPack(dir, cpu);
  try {
    assert.deepEqual(Object.keys(all.sessions).sort(), ['audio', 'depth', 'imu', 'text', 'thermal']);
    assert.equal(all.session('audio').provider, 'cpu');
    assert.equal(all.manifest.id, 'edgebind-test');
  } finally {
    await all.close();
  }
  const some = await loadPack(dir, { ...cpu, modalities: ['audio', 'text'] });
  try {
    assert.deepEqual(Object.keys(some.sessions), ['audio', 'text']);
    assert.throws(() => some.session('imu'), /no imu encoder loaded/);
  } finally {
    await some.close();
  }
});

test("['cuda', 'cpu'] loads on cpu with one fallback line per encoder", async () => {
  const dir = await freshPack();
  const lines: { msg: string; level: number }[] = [];
  const logger = pino(
    {},
    { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string; level: number }) },
  );
  const pack = await loadPack(dir, { providers: ['cuda', 'cpu'], logger, modalities: ['audio', 'imu'] });
  await pack.close();
  assert.deepEqual(
    lines.filter((l) => l.level === 40).map((l) => l.msg.replace(/\(.*\)/, '(…)')),
    [
      'encoder audio: execution provider cuda unavailable (…), falling back to cpu',
      'encoder imu: execution provider cuda unavailable (…), falling back to cpu',
    ],
  );
  assert.ok(lines.some((l) => /^pack edgebind-test .* loaded from .*: audio, imu on cpu$/.test(l.msg)));
});

test('no manifest, broken JSON and schema violations', async () => {
  const dir = await freshPack();
  await rejectsWith(loadPack(join(root, 'nowhere'), cpu), 'PACK_FILE_MISSING', 'manifest.json');
  await writeFile(join(dir, 'manifest.json'), '{ "formatVersion": 1,');
  await rejectsWith(loadPack(dir, cpu), 'PACK_INVALID', 'manifest.json: not valid JSON');

  const dir2 = await freshPack();
  await editManifest(dir2, (m) => {
    (m as Record<string, unknown>).formatVersion = 2;
    m.encoders.text.sha256 = 'xyz';
    m.encoders.audio!.input.shape[1] = -3;
    (m as Record<string, unknown>).extra = true;
  });
  await rejectsWith(
    verifyPack(dir2),
    'PACK_INVALID',
    'invalid manifest (4 problems)',
    /- formatVersion: /,
    /- encoders\.text\.sha256: must be 64 lower-case hex digits/,
    /- encoders\.audio\.input\.shape\[1\]: /,
    /- \(root\): .*extra/,
  );
});

test('a requested encoder the pack lacks, and files outside the pack, are PACK_INVALID', async () => {
  const dir = await freshPack();
  await editManifest(dir, (m) => {
    delete m.encoders.imu;
  });
  await rejectsWith(
    loadPack(dir, { ...cpu, modalities: ['imu'] }),
    'PACK_INVALID',
    'no imu encoder (encoders.imu)',
  );
  await editManifest(dir, (m) => {
    m.encoders.depth!.file = '../depth.onnx';
  });
  await rejectsWith(
    loadPack(dir, cpu),
    'PACK_INVALID',
    'encoders.depth.file ../depth.onnx is outside the pack',
  );
});

test('a missing file is PACK_FILE_MISSING naming it', async () => {
  const dir = await freshPack();
  await rm(join(dir, 'depth.onnx'));
  await rejectsWith(
    loadPack(dir, cpu),
    'PACK_FILE_MISSING',
    `${join(dir, 'depth.onnx')}: missing`,
    'encoders.depth.file',
  );
  // Not requested, not checked:
  const pack = await loadPack(dir, { ...cpu, modalities: ['text'] });
  await pack.close();
});

test('a changed file is PACK_CHECKSUM naming the file, expected and actual hashes', async () => {
  const dir = await freshPack();
  const file = join(dir, 'thermal.onnx');
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ManifestInput;
  const expected = manifest.encoders.thermal!.sha256;
  await appendFile(file, Buffer.from([0]));
  const actual = await sha256(file);
  await rejectsWith(
    loadPack(dir, cpu),
    'PACK_CHECKSUM',
    `${file}: checksum mismatch: expected sha256 ${expected}, actual ${actual}`,
  );
});

test('a corrupt model with a correct hash is PACK_INVALID with onnxruntime’s reason', async () => {
  const dir = await freshPack();
  const imu = join(dir, 'imu.onnx');
  await truncate(imu, 1000);
  await rehash(dir, 'imu');
  await rejectsWith(
    loadPack(dir, cpu),
    'PACK_INVALID',
    `${imu}: onnxruntime cannot load it:`,
    /Protobuf parsing failed/,
  );

  const dir2 = await freshPack();
  const depth = join(dir2, 'depth.onnx');
  await writeFile(depth, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  await rehash(dir2, 'depth');
  await rejectsWith(
    loadPack(dir2, { providers: ['cuda', 'cpu'] }),
    'PACK_INVALID',
    `${depth}: onnxruntime cannot load it:`,
  );
});

test('signature mismatches are PACK_SIGNATURE with expected and actual signatures', async () => {
  const dir = await freshPack();
  const audio = join(dir, 'audio.onnx');
  await writeStub(
    audio,
    { name: 'audio', dtype: 'float32', shape: ['batch', 1, 128, 204] },
    { name: 'embedding', shape: ['batch', 1024] },
  );
  await rehash(dir, 'audio');
  await rejectsWith(
    loadPack(dir, cpu),
    'PACK_SIGNATURE',
    `${audio}: input signature mismatch: expected audio float32 [batch,3,1,128,204], found audio float32 [batch,1,128,204]`,
  );

  const text = join(dir, 'text.onnx');
  await writeStub(
    text,
    { name: 'text', dtype: 'float32', shape: ['batch', 77] },
    { name: 'embedding', shape: ['batch', 1024] },
  );
  await rehash(dir, 'text');
  await rejectsWith(
    loadPack(dir, { ...cpu, modalities: ['text'] }),
    'PACK_SIGNATURE',
    `${text}: input signature mismatch: expected text int64 [batch,77], found text float32 [batch,77]`,
  );

  const imu = join(dir, 'imu.onnx');
  await writeStub(
    imu,
    { name: 'imu', dtype: 'float32', shape: ['batch', 6, 2000] },
    { name: 'emb', shape: ['batch', 512] },
  );
  await rehash(dir, 'imu');
  await rejectsWith(
    loadPack(dir, { ...cpu, modalities: ['imu'] }),
    'PACK_SIGNATURE',
    `${imu}: output signature mismatch: expected embedding float32 [batch,1024], found emb float32 [batch,512]`,
  );

  // A model fixed to batch 1 cannot serve the manifest's symbolic batch.
  const depth = join(dir, 'depth.onnx');
  await writeStub(
    depth,
    { name: 'depth', dtype: 'float32', shape: [1, 1, 224, 224] },
    { name: 'embedding', shape: [1, 1024] },
  );
  await rehash(dir, 'depth');
  await rejectsWith(
    loadPack(dir, { ...cpu, modalities: ['depth'] }),
    'PACK_SIGNATURE',
    `${depth}: input signature mismatch: expected depth float32 [batch,1,224,224], found depth float32 [1,1,224,224]`,
  );

  // A symbolic output width (as torch's exporter writes it) is accepted.
  const thermal = join(dir, 'thermal.onnx');
  await writeStub(
    thermal,
    { name: 'thermal', dtype: 'float32', shape: ['N', 1, 224, 224] },
    { name: 'embedding', shape: ['N', 1024] },
  );
  await rehash(dir, 'thermal');
  const pack = await loadPack(dir, { ...cpu, modalities: ['thermal'] });
  await pack.close();
});

test('verifyPack checks hashes without opening sessions and reports every problem', async () => {
  const dir = await freshPack();
  const ok = await verifyPack(dir);
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(
    ok.files.map((f) => f.role),
    ['text', 'audio', 'thermal', 'depth', 'imu'],
  );
  assert.ok(ok.files.every((f) => f.actualSha256 === f.expectedSha256 && (f.bytes ?? 0) > 0));

  await rm(join(dir, 'audio.onnx'));
  await appendFile(join(dir, 'imu.onnx'), 'x');
  // Garbage with the right hash passes verifyPack: it checks integrity, not loadability.
  await writeFile(join(dir, 'depth.onnx'), 'garbage');
  await rehash(dir, 'depth');
  const bad = await verifyPack(dir);
  assert.deepEqual(
    bad.errors.map((e) => [e.code, e.file]),
    [
      ['PACK_FILE_MISSING', join(dir, 'audio.onnx')],
      ['PACK_CHECKSUM', join(dir, 'imu.onnx')],
    ],
  );
  const audio = bad.files.find((f) => f.role === 'audio');
  assert.equal(audio?.actualSha256, null);
  assert.equal(audio?.bytes, null);
});
