/**
 * edgebind on arm64 (Jetson-class) under QEMU user-mode emulation (issue #21), on the install that
 * scripts/arm64/install.sh built (cross-compiled i2c-bus, production dependencies only) and the
 * arm64 Node of scripts/arm64/runtime.sh. scripts/arm64/check.sh runs this file beside `npm test`
 * in scripts/test.sh; it is not under test/ so that the unit run does not take it a second time.
 *
 * - Every native module loads and works on arm64 Node (scripts/arm64/smoke.mjs): onnxruntime-node
 *   runs the mini pack's IMU encoder (equal to x86-64 within float error), serialport talks across
 *   a socat pty pair, i2c-bus reports a missing bus the way bus/i2c.ts documents (ENOENT on the
 *   first transfer).
 * - `edgebind doctor` (the built CLI) names the architecture and the CPU-only onnxruntime build.
 * - The demo's first SPAN_MS, replayed through the real agent from the same install, publishes the
 *   same events on arm64 Node as on x86-64 Node (scripts/arm64/replay.mjs).
 *
 * Nothing here skips: a missing runtime, install or socat fails with what to run.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { onnxruntimeBuild, EncoderSession } from '../../src/encoders/session.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import {
  encodeFrameFile,
  readFrameFileHeader,
  readFrameRecords,
} from '../../src/sensors/formats/frame-file.js';
import { decodeWav, encodeWav16 } from '../../src/sensors/formats/wav.js';
import { localDemoConfig, REPO, SAMPLES, tempDir } from '../../test/helpers/agent-config.js';

const APP = process.env.EDGEBIND_ARM64_APP ?? join(REPO, '.cache/arm64/app');
const ARM64_NODE = process.env.EDGEBIND_ARM64_NODE ?? join(REPO, '.cache/arm64/bin/node');
/**
 * The replayed span: walking (2-13 s), falling (8-18 s) and the alarm cut short at the end of the
 * span (20-24 s, end reason `stopped`), 3 labels over 4 sensors. Under emulation arm64 replays
 * about 1 s of recording per second after some 25 s of start-up (imports, pack, label texts), so
 * the whole 36 s would add about 10 s to the CI step for no other code path.
 */
const SPAN_MS = 24_000;
const dir = tempDir('arm64');

before(() => {
  const missing = [
    [ARM64_NODE, 'scripts/arm64/runtime.sh'],
    [join(APP, 'dist/cli/index.js'), 'scripts/arm64/install.sh'],
    [join(APP, 'node_modules/i2c-bus/build/Release/i2c.node'), 'scripts/arm64/install.sh'],
  ].filter(([file]) => !existsSync(file!));
  assert.equal(
    missing.length,
    0,
    `missing: ${missing.map(([file, by]) => `${file} (run ${by})`).join('; ')}`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `node` (x86-64 or the arm64 wrapper) on a script; rejects with its stderr on failure. */
function run(node: string, args: string[]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve, reject) =>
    execFile(node, args, { cwd: dir, maxBuffer: 64 << 20, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${node} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr, ms: Math.round(performance.now() - t0) });
    }),
  );
}

/** A socat pty pair: resolves with both paths once socat has printed them. */
function ptyPair(): Promise<{ paths: [string, string]; close: () => void }> {
  const socat = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let text = '';
    socat.once('error', (err) => reject(new Error(`socat: ${err.message} (apt-get install socat)`)));
    socat.once('exit', (code) => reject(new Error(`socat exited ${code}: ${text}`)));
    socat.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      const paths = [...text.matchAll(/PTY is (\S+)/g)].map((m) => m[1]!);
      if (paths.length === 2) resolve({ paths: [paths[0]!, paths[1]!], close: () => socat.kill() });
    });
  });
}

interface Smoke {
  arch: string;
  platform: string;
  onnx: {
    build: { version: string; bundled: string[]; external: string[] };
    provider: string;
    output: number[];
    error?: string;
  };
  serial: { atA: string; atB: string; error?: string };
  i2c: { bus: number; code?: string; message?: string; disconnect?: boolean; error?: string };
}

test('arm64 Node loads every native module: onnxruntime-node, serialport, i2c-bus', async (t) => {
  const pty = await ptyPair();
  let smoke: Smoke;
  let ms: number;
  try {
    const r = await run(ARM64_NODE, [join(REPO, 'scripts/arm64/smoke.mjs'), APP, ...pty.paths]);
    smoke = JSON.parse(r.stdout) as Smoke;
    ms = r.ms;
  } finally {
    pty.close();
  }
  t.diagnostic(`smoke on arm64 Node: ${ms} ms`);
  assert.equal(smoke.arch, 'arm64');
  assert.equal(smoke.platform, 'linux');

  // The npm package's linux-arm64 binary has the CPU provider only (deploy/gpu.md).
  assert.equal(smoke.onnx.error, undefined);
  assert.deepEqual(smoke.onnx.build, { version: onnxruntimeBuild().version, bundled: ['cpu'], external: [] });
  assert.equal(smoke.onnx.provider, 'cpu');
  const entry = (
    JSON.parse(readFileSync(join(REPO, 'models/mini/manifest.json'), 'utf8')) as {
      encoders: { imu: Parameters<typeof EncoderSession.open>[1] & { file: string } };
    }
  ).encoders.imu;
  const session = await EncoderSession.open(join(REPO, 'models/mini', entry.file), entry, {
    providers: ['cpu'],
  });
  const x86 = await session.run(
    new Float32Array(session.itemSize).map((_, i) => Math.sin(i / 100)),
    1,
  );
  await session.close();
  assert.equal(smoke.onnx.output.length, x86.length);
  const maxDiff = Math.max(...smoke.onnx.output.map((v, i) => Math.abs(v - x86[i]!)));
  t.diagnostic(`IMU encoder, arm64 against x86-64: max |difference| ${maxDiff.toExponential(2)}`);
  assert.ok(maxDiff < 1e-4, `IMU embedding differs by ${maxDiff}`);

  assert.equal(smoke.serial.error, undefined);
  assert.equal(smoke.serial.atA, 'pong');
  assert.equal(smoke.serial.atB, 'ping');

  assert.equal(smoke.i2c.error, undefined);
  assert.equal(smoke.i2c.code, 'ENOENT', smoke.i2c.message);
  assert.match(smoke.i2c.message!, new RegExp(`/dev/i2c-${smoke.i2c.bus}`));
  assert.equal(smoke.i2c.disconnect, true);
});

test('edgebind doctor on arm64 Node: the architecture and the CPU-only onnxruntime build', async (t) => {
  const r = await run(ARM64_NODE, [join(APP, 'dist/cli/index.js'), 'doctor', '--json']);
  t.diagnostic(`doctor on arm64 Node: ${r.ms} ms`);
  const report = JSON.parse(r.stdout) as { checks: { name: string; status: string; detail: string }[] };
  const check = (name: string) => report.checks.find((c) => c.name === name);
  assert.deepEqual(check('arch'), { name: 'arch', status: 'ok', detail: 'arm64 (linux)' });
  assert.match(
    check('onnxruntime')?.detail ?? '',
    /^onnxruntime-node \d+\.\d+\.\d+; providers built in: cpu$/,
  );
  for (const provider of ['tensorrt', 'cuda', 'webgpu'])
    assert.match(
      check(`provider ${provider}`)?.detail ?? '',
      /^unavailable: not in this onnxruntime-node build \(built in: cpu\)$/,
    );
  assert.equal(check('provider cpu')?.status, 'ok');
});

/** The bundled recordings cut to their first `SPAN_MS` into `out`, by the formats' own code. */
async function trimmedSamples(out: string): Promise<void> {
  mkdirSync(out, { recursive: true });
  const wav = decodeWav(readFileSync(join(SAMPLES, 'room-audio.wav')), 'room-audio.wav');
  const frames = Math.round((wav.sampleRateHz * SPAN_MS) / 1000);
  writeFileSync(
    join(out, 'room-audio.wav'),
    encodeWav16({ sampleRateHz: wav.sampleRateHz, channels: wav.channels.map((c) => c.subarray(0, frames)) }),
  );
  for (const name of ['room-thermal.ebf', 'room-depth.ebf', 'room-imu.ebf']) {
    const file = join(SAMPLES, name);
    const { header } = await readFrameFileHeader(file);
    const records: { tMs: number; data: Float32Array }[] = [];
    for await (const r of readFrameRecords(file)) if (r.tMs < SPAN_MS) records.push(r);
    writeFileSync(join(out, name), encodeFrameFile(header, records));
  }
}

/**
 * An event message without its per-run id (and its clip, named by the id), and its scores apart
 * (float error across CPUs).
 */
function split(e: EventPayload): { rest: unknown; scores: number[] } {
  assert.ok(e.clip === undefined || e.clip === e.id, `clip ${e.clip} of event ${e.id}`);
  const { id: _id, clip: _clip, score, peakScore, contributions, ...rest } = e;
  return {
    rest: { ...rest, contributions: contributions.map((c) => ({ ...c, score: 0, peakScore: 0, weight: 0 })) },
    scores: [score, peakScore, ...contributions.flatMap((c) => [c.score, c.peakScore, c.weight])],
  };
}

test(`the demo's first ${SPAN_MS / 1000} s give the same events on arm64 as on x86-64`, async (t) => {
  const samples = join(dir, 'samples');
  await trimmedSamples(samples);
  // Each its own state dir: the label embeddings are computed on each CPU, not shared by cache.
  const config = (arch: string) => {
    const at = join(dir, arch);
    mkdirSync(at);
    return localDemoConfig(at, (cfg) => {
      cfg.encoders.pack = join(APP, 'models/mini');
      for (const s of cfg.sensors) s.file = join(samples, basename(s.file));
    });
  };
  const script = join(REPO, 'scripts/arm64/replay.mjs');
  const x86 = await run(process.execPath, [script, APP, config('x64')]);
  const arm = await run(ARM64_NODE, [script, APP, config('arm64')]);
  const [a, b] = [x86, arm].map((r) => JSON.parse(r.stdout) as { arch: string; events: EventPayload[] });
  t.diagnostic(
    `replay of ${SPAN_MS / 1000} s: x86-64 ${x86.ms} ms, arm64 ${arm.ms} ms (${b!.events.length} messages)`,
  );
  assert.equal(a!.arch, process.arch);
  assert.equal(b!.arch, 'arm64');
  const ends = a!.events.filter((e) => e.type === 'end').map((e) => e.label);
  // The span holds the walk and the fall: a replay that found nothing compares nothing.
  assert.ok(ends.includes('person_walking') && ends.includes('person_falling'), `events: ${ends.join(', ')}`);
  const [sa, sb] = [a!.events.map(split), b!.events.map(split)];
  assert.deepEqual(
    sb.map((s) => s.rest),
    sa.map((s) => s.rest),
  );
  const maxDiff = Math.max(...sa.flatMap((s, i) => s.scores.map((v, j) => Math.abs(v - sb[i]!.scores[j]!))));
  t.diagnostic(`event scores, arm64 against x86-64: max |difference| ${maxDiff}`);
  assert.ok(maxDiff <= 1e-3, `event scores differ by ${maxDiff}`);
});
