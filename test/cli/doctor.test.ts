/** `edgebind doctor` as a user runs it: a good config, a corrupt pack, an unreachable broker. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.js';
import { ensureTestPack } from '../../src/encoders/registry.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { REPO, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { assertLavapipe, lavapipeEnv, lavapipeTestOptions, noVulkanEnv } from '../helpers/lavapipe.js';

const dir = tempDir('doctor');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
const PACK = join(dir, 'pack');
let broker: EmbeddedBroker;

before(async () => {
  await ensureTestPack(PACK);
  broker = await startEmbeddedBroker({ port: 0 });
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

function doctor(
  cfg: Partial<ConfigInput>,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; out: string; err: string }> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    toYaml({
      deviceId: 'doc-1',
      stateDir: join(dir, 'state'),
      encoders: { pack: PACK, providers: ['cpu'] },
      sensors: [{ id: 'mic', driver: 'replay', modality: 'audio', file: join(SAMPLES, 'room-audio.wav') }],
      labels: [{ name: 'alarm', prompts: ['an alarm'] }],
      ...cfg,
    }),
  );
  const child = spawn(
    process.execPath,
    ['--import', TSX, CLI, 'doctor', '--config', file, '--broker-timeout', '2000'],
    {
      cwd: dir,
      env: { ...env, DOCTOR_PW: 'secret' },
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const line = (out: string, name: string) =>
  out.split('\n').find((l) => new RegExp(`^  \\S+\\s+${name}\\s`).test(l)) ?? '';

test('a good config: every check passes, exit 0', async () => {
  const r = await doctor(
    { mqtt: { broker: broker.url, username: 'edge', passwordEnv: 'DOCTOR_PW' } },
    'good',
  );
  assert.equal(r.code, 0, r.out);
  assert.match(line(r.out, 'node'), /^ {2}ok\s+node\s+v\d+/);
  assert.match(line(r.out, 'arch'), new RegExp(`ok\\s+arch\\s+${process.arch} \\(${process.platform}\\)$`));
  // The binary's own list (issue #21). The suite runs on linux-x64, whose binary builds in cpu
  // and webgpu; scripts/arm64/arm64.test.ts checks the linux-arm64 one (cpu only).
  assert.match(
    line(r.out, 'onnxruntime'),
    /ok\s+onnxruntime\s+onnxruntime-node \d+\.\d+\.\d+; providers built in: cpu, webgpu; with their own libraries: cuda, tensorrt$/,
  );
  assert.match(line(r.out, 'provider cpu'), /ok\s+provider cpu\s+tiny session ran in \d+ ms/);
  assert.match(line(r.out, 'sensor mic'), /ok\s+sensor mic\s+replay: \S+room-audio\.wav/);
  assert.match(line(r.out, 'broker'), new RegExp(`ok\\s+broker\\s+${broker.url}: connected as edge`));
  assert.match(line(r.out, 'pack'), /ok\s+pack\s+edgebind-test \S+: \d+ file\(s\) match their sha256/);
  assert.match(line(r.out, 'state dir'), /(ok|WARN)\s+state dir\s+.* GB free/);
  // Where each encoder the agent would open runs, and its warm-up (issue #15).
  assert.match(line(r.out, 'encoder text'), /ok\s+encoder text\s+on cpu, warm-up \d+ ms \(batch 1\)/);
  assert.match(line(r.out, 'encoder audio'), /ok\s+encoder audio\s+on cpu, warm-up \d+ ms \(batch 1\)/);
  assert.match(line(r.out, 'provider webgpu'), /(ok|--)\s+provider webgpu\s+/);
  assert.match(line(r.out, 'vulkan'), /\S+\s+vulkan\s+/);
  assert.match(r.out, /\n(no problems found\.|\d+ warning\(s\), no failures: [^\n]+; see WARN above\.)\n$/);
});

test(
  'webgpu configured, on lavapipe: vulkan, provider webgpu and every encoder ok with its warm-up (issue #15)',
  lavapipeTestOptions(),
  async () => {
    assertLavapipe();
    const r = await doctor(
      { mqtt: { broker: broker.url }, encoders: { pack: PACK, providers: ['webgpu', 'cpu'], maxBatch: 2 } },
      'webgpu',
      lavapipeEnv(),
    );
    assert.equal(r.code, 0, r.out);
    // webgpu needs no NVIDIA GPU: its absence is information, not a warning.
    assert.match(line(r.out, 'gpu'), /(ok|--)\s+gpu\s+/);
    assert.match(line(r.out, 'vulkan'), /ok\s+vulkan\s+loader found; driver\(s\): lvp_icd\.json/);
    assert.match(line(r.out, 'provider webgpu'), /ok\s+provider webgpu\s+tiny session ran in \d+ ms/);
    for (const m of ['text', 'audio'])
      assert.match(
        line(r.out, `encoder ${m}`),
        new RegExp(`ok\\s+encoder ${m}\\s+on webgpu, warm-up \\d+ ms \\(batch 1-2\\)`),
      );
  },
);

test('webgpu configured, no Vulkan driver: warnings (vulkan, provider, each encoder on cpu), exit 0', async () => {
  const r = await doctor(
    { mqtt: { broker: broker.url }, encoders: { pack: PACK, providers: ['webgpu', 'cpu'] } },
    'no-vulkan',
    noVulkanEnv(),
  );
  assert.equal(r.code, 0, r.out);
  assert.match(line(r.out, 'vulkan'), /WARN\s+vulkan\s+no Vulkan driver/);
  assert.match(line(r.out, 'gpu'), /(ok|--)\s+gpu\s+/, 'webgpu needs no NVIDIA GPU');
  assert.match(
    line(r.out, 'provider webgpu'),
    /WARN\s+provider webgpu\s+unavailable: Failed to get a WebGPU adapter/,
  );
  assert.match(line(r.out, 'encoder audio'), /WARN\s+encoder audio\s+on cpu \(webgpu unavailable/);
  assert.ok(!r.out.includes('\u001b'), 'no ANSI escape codes');
  // Issue 17 item 3: the providers that failed are named, never "no problems found".
  assert.match(
    line(r.out, 'providers'),
    /WARN\s+providers\s+webgpu unavailable: encoders will run on cpu \(encoders\.providers: webgpu, cpu\)/,
  );
  assert.doesNotMatch(r.out, /no problems/);
  assert.ok(!r.err.includes('\u001b'), `no native ANSI lines on stderr: ${r.err}`);
  assert.match(
    r.out,
    /\n\d+ warning\(s\), no failures: [^\n]*provider webgpu[^\n]*providers[^\n]*; see WARN above\.\n$/,
  );
});

test('a corrupt pack file fails the pack check, exit 1', async () => {
  const broken = join(dir, 'broken-pack');
  cpSync(PACK, broken, { recursive: true });
  const model = join(broken, 'audio.onnx');
  const bytes = readFileSync(model);
  const last = bytes.length - 1;
  bytes.writeUInt8(bytes.readUInt8(last) ^ 0xff, last);
  writeFileSync(model, bytes);
  const r = await doctor(
    { mqtt: { broker: broker.url }, encoders: { pack: broken, providers: ['cpu'] } },
    'broken',
  );
  assert.equal(r.code, 1, r.out);
  assert.match(line(r.out, 'pack'), /FAIL\s+pack\s+.*audio\.onnx.*sha256/);
  assert.match(r.out, /1 problem\(s\)/);
});

test('an unreachable broker fails the broker check, exit 1', async () => {
  const port = await freePort();
  const r = await doctor({ mqtt: { broker: `mqtt://127.0.0.1:${port}` } }, 'unreachable');
  assert.equal(r.code, 1, r.out);
  assert.match(
    line(r.out, 'broker'),
    new RegExp(`FAIL\\s+broker\\s+mqtt://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
  );
  assert.match(line(r.out, 'pack'), /^ {2}ok/, 'the other checks still ran');
});

test('an invalid config exits 2 and still checks the device', async () => {
  const r = await doctor({ events: { minWindows: 0 } }, 'invalid');
  assert.equal(r.code, 2, r.out);
  assert.match(line(r.out, 'config'), /FAIL\s+config\s+.*events\.minWindows/);
  assert.match(line(r.out, 'provider cpu'), /ok/);
});
