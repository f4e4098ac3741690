/**
 * `edgebind embed` as a user runs it (a child process): every modality on the bundled samples with
 * the test pack, provider fallback, and the pack errors that must stop it at load with exit 2.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { generateTestPack } from '../../src/encoders/test-pack.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import type { EmbedResult } from '../../src/cli/commands/embed.js';
import { SAMPLES, tempDir } from '../helpers/agent-config.js';
import { runCli, type CliRun } from '../helpers/cli.js';

const dir = tempDir('embed');
const STATE = join(dir, 'state');

type Run = CliRun;

const edgebind = (args: string[]): Promise<Run> => runCli(args, { cwd: dir, killAfterMs: 60_000 });

const embed = (args: string[]) => edgebind(['embed', '--state-dir', STATE, ...args]);

function parse(r: Run): EmbedResult[] {
  assert.equal(r.code, 0, `exit 0 expected; stderr:\n${r.stderr}`);
  return JSON.parse(r.stdout) as EmbedResult[];
}

const norm = (v: readonly number[]) => Math.hypot(...v);

function assertUnit(v: readonly number[], what: string) {
  assert.equal(v.length, 1024, `${what}: 1024 values`);
  assert.ok(Math.abs(norm(v) - 1) < 1e-5, `${what}: unit length, got ${norm(v)}`);
}

const noStack = (r: Run) => assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** A fresh tiny pack; `edit` may change files and the manifest (then written back). */
let packs = 0;
async function brokenPack(
  edit: (
    dir: string,
    manifest: { encoders: Record<string, { sha256: string; file: string }> },
  ) => Promise<void>,
): Promise<string> {
  const pack = join(dir, `pack${packs++}`);
  await generateTestPack(pack, { seed: 3 });
  const file = join(pack, 'manifest.json');
  const manifest = JSON.parse(await readFile(file, 'utf8')) as {
    encoders: Record<string, { sha256: string; file: string }>;
  };
  await edit(pack, manifest);
  await writeFile(file, JSON.stringify(manifest, null, 2));
  return pack;
}

before(async () => {
  // Generate the test pack once, before the tests race to do it.
  const warm = await embed(['--pack', 'test', '-m', 'text', 'warm up']);
  assert.equal(warm.code, 0, warm.stderr);
});
after(() => rm(dir, { recursive: true, force: true }));

test('text: one unit vector per string, different strings differ', async () => {
  const results = parse(await embed(['--pack', 'test', '-m', 'text', 'a dog barking', 'an alarm beeping']));
  assert.equal(results.length, 2);
  assert.deepEqual(
    results.map((r) => [r.text, r.modality, r.provider, r.dim]),
    [
      ['a dog barking', 'text', 'cpu', 1024],
      ['an alarm beeping', 'text', 'cpu', 1024],
    ],
  );
  results.forEach((r) => assertUnit(r.embedding, r.text!));
  assert.notDeepEqual(results[0]!.embedding, results[1]!.embedding);
});

const SAMPLE_FILES = {
  audio: 'room-audio.wav',
  thermal: 'room-thermal.ebf',
  depth: 'room-depth.ebf',
  imu: 'room-imu.ebf',
} as const;
const WINDOWS = {
  audio: { lengthMs: 2000, hopMs: 1000 },
  thermal: { lengthMs: 1000, hopMs: 1000 },
  depth: { lengthMs: 1000, hopMs: 1000 },
  imu: { lengthMs: 5000, hopMs: 1000 },
};

for (const [modality, name] of Object.entries(SAMPLE_FILES) as [keyof typeof SAMPLE_FILES, string][]) {
  test(`${modality}: one embedding per agent window of ${name}, plus their normalised mean`, async () => {
    const file = join(SAMPLES, name);
    const [r, ...rest] = parse(await embed(['--pack', 'test', '-m', modality, file]));
    assert.equal(rest.length, 0);
    assert.equal(r!.file, file);
    assert.equal(r!.modality, modality);
    assert.equal(r!.provider, 'cpu');
    assert.equal(r!.dim, 1024);
    assert.equal(r!.shorterThanWindow, undefined);
    const windows = r!.windows!;
    assert.ok(windows.length > 1, `a ${name} is several windows long (${windows.length})`);
    const { lengthMs, hopMs } = WINDOWS[modality];
    windows.forEach((w, i) => {
      assert.equal(w.seq, i);
      assert.ok(Math.abs(w.endMs - w.startMs - lengthMs) < 1, `window ${i} lasts ${lengthMs} ms`);
      if (i > 0) assert.ok(Math.abs(w.startMs - windows[i - 1]!.startMs - hopMs) < 1, `hop ${hopMs} ms`);
      assertUnit(w.embedding, `window ${i}`);
    });
    // The recording's embedding is the re-normalised mean of the window embeddings.
    const mean = new Array<number>(1024).fill(0);
    for (const w of windows) w.embedding.forEach((x, i) => (mean[i]! += x));
    const m = norm(mean);
    assertUnit(r!.embedding, 'mean');
    r!.embedding.forEach((x, i) => assert.ok(Math.abs(x - mean[i]! / m) < 1e-6));
    assert.notDeepEqual(windows[0]!.embedding, windows.at(-1)!.embedding, 'windows differ');
  });
}

test('audio: --window-ms/--hop-ms override the window; a recording shorter than one is embedded whole', async () => {
  const file = join(SAMPLES, SAMPLE_FILES.audio);
  const [long] = parse(
    await embed(['--pack', 'test', '-m', 'audio', '--window-ms', '4000', '--hop-ms', '4000', file]),
  );
  assert.ok(long!.windows!.length >= 2);
  assert.ok(long!.windows!.every((w) => Math.abs(w.endMs - w.startMs - 4000) < 1));

  const short = join(dir, 'short.wav');
  const tone = Float32Array.from({ length: 8000 }, (_, i) => 0.3 * Math.sin(i / 5));
  await writeFile(short, encodeWav16({ sampleRateHz: 16000, channels: [tone] }));
  const [r] = parse(await embed(['--pack', 'test', '-m', 'audio', short]));
  assert.equal(r!.shorterThanWindow, true);
  assert.equal(r!.windows!.length, 1);
  assert.ok(Math.abs(r!.windows![0]!.endMs - 500) < 1);
  assert.deepEqual(r!.embedding, r!.windows![0]!.embedding);
  assertUnit(r!.embedding, 'short');
});

test('--providers cuda,cpu on a machine without CUDA runs on cpu and says so on stderr', async () => {
  const r = await embed([
    '--pack',
    'test',
    '-m',
    'depth',
    '--providers',
    'cuda,cpu',
    join(SAMPLES, 'room-depth.ebf'),
  ]);
  const [result] = parse(r);
  assert.equal(result!.provider, 'cpu');
  assert.match(r.stderr, /execution provider cuda unavailable .*falling back to cpu/);
  assert.match(
    r.stderr,
    /depth encoder of pack edgebind-test .* runs on cpu \(providers tried in order: cuda,cpu\)/,
  );
});

test('an unknown provider or modality is a usage error that names the bad value', async () => {
  const p = await embed(['--pack', 'test', '-m', 'depth', '--providers', 'gpu,cpu', 'x.ebf']);
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /unknown execution provider "gpu"/);
  const m = await embed(['--pack', 'test', '-m', 'vision', 'x.png']);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /expected one of text, audio, thermal, depth, imu, got "vision"/);
});

test('a missing encoder file fails at load naming the file; exit 2', async () => {
  const pack = await brokenPack((p) => unlink(join(p, 'audio.onnx')));
  const r = await embed(['--pack', pack, '-m', 'audio', join(SAMPLES, SAMPLE_FILES.audio)]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`${join(pack, 'audio.onnx')}: missing \\(named by encoders.audio.file`));
  noStack(r);
});

test('a corrupt encoder file fails at load with expected and actual sha256; exit 2', async () => {
  let expected = '';
  const pack = await brokenPack(async (p, m) => {
    const file = join(p, 'imu.onnx');
    const bytes = await readFile(file);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(file, bytes);
    expected = m.encoders.imu!.sha256;
  });
  const actual = await sha256(join(pack, 'imu.onnx'));
  const r = await embed(['--pack', pack, '-m', 'imu', join(SAMPLES, SAMPLE_FILES.imu)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${join(pack, 'imu.onnx')}: checksum mismatch`));
  assert.match(r.stderr, new RegExp(`expected sha256 ${expected}, actual ${actual}`));
  noStack(r);
});

test('a corrupt encoder file whose manifest hash was updated fails in onnxruntime, naming the file; exit 2', async () => {
  const pack = await brokenPack(async (p, m) => {
    const file = join(p, 'thermal.onnx');
    await writeFile(file, (await readFile(file)).subarray(0, 1000));
    m.encoders.thermal!.sha256 = await sha256(file);
  });
  const r = await embed(['--pack', pack, '-m', 'thermal', join(SAMPLES, SAMPLE_FILES.thermal)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${join(pack, 'thermal.onnx')}: onnxruntime cannot load it`));
  noStack(r);
});

test('an ONNX signature that differs from the manifest names the file, the expected and the actual; exit 2', async () => {
  // audio.onnx replaced by the thermal model (hash updated): it loads, but takes the wrong input.
  const pack = await brokenPack(async (p, m) => {
    await copyFile(join(p, 'thermal.onnx'), join(p, 'audio.onnx'));
    m.encoders.audio!.sha256 = await sha256(join(p, 'audio.onnx'));
  });
  const r = await embed(['--pack', pack, '-m', 'audio', join(SAMPLES, SAMPLE_FILES.audio)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `${join(pack, 'audio.onnx')}: input signature mismatch: ` +
        'expected audio float32 \\[batch,3,1,128,204\\], found thermal float32 \\[batch,1,224,224\\]',
    ),
  );
  noStack(r);
});
