/**
 * `edgebind run` with `encoders.providers: [webgpu, cpu]` (issue #15), as a user runs it, on the
 * bundled recordings and models/mini, against a real Mosquitto:
 * - on lavapipe (Mesa's software Vulkan driver) every encoder loads and warms up on webgpu before
 *   the sensors start, and the events equal those of a `[cpu]` run;
 * - with no Vulkan driver at all it falls back to cpu with one warning line per encoder, the same
 *   events, and nothing on stdout/stderr but the agent's own JSON log lines (no ANSI, no native
 *   Dawn or onnxruntime lines).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { REPO, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { assertLavapipe, lavapipeEnv, lavapipeTestOptions, noVulkanEnv } from '../helpers/lavapipe.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector } from '../helpers/mqtt-collector.js';

const dir = tempDir('webgpu-run');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
let broker: Mosquitto;

before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The demo's four recordings, replayed once at full speed. Each label is observed by one sensor
 * only, so its events do not depend on how the replays of several sensors interleave (see
 * test/integration/pipeline.test.ts).
 */
function config(deviceId: string, providers: ('webgpu' | 'cpu')[]): string {
  const replay = { driver: 'replay' as const, speed: 0, loop: false, queueSize: 64 };
  const cfg: ConfigInput = {
    deviceId,
    stateDir: join(dir, deviceId),
    mqtt: { broker: broker.url },
    encoders: { pack: join(REPO, 'models/mini'), providers, maxBatch: 4 },
    sensors: [
      { id: 'mic', modality: 'audio', file: join(SAMPLES, 'room-audio.wav'), ...replay },
      { id: 'thermal', modality: 'thermal', file: join(SAMPLES, 'room-thermal.ebf'), ...replay },
      { id: 'depth', modality: 'depth', file: join(SAMPLES, 'room-depth.ebf'), ...replay },
      { id: 'imu', modality: 'imu', file: join(SAMPLES, 'room-imu.ebf'), ...replay },
    ],
    labels: [
      { name: 'alarm_beeping', prompts: ['an alarm beeping'], modalities: ['audio'] },
      { name: 'dog_barking', prompts: ['a dog barking'], modalities: ['audio'] },
      { name: 'person_walking', prompts: ['a person walking'], modalities: ['thermal'] },
      { name: 'person_falling', prompts: ['a person falling down'], modalities: ['depth'] },
      { name: 'machine_vibration', prompts: ['a machine vibrating'], modalities: ['imu'] },
    ],
    scoring: { threshold: 0.5 },
    events: { minWindows: 1, endWindows: 2, updateIntervalMs: 3000 },
    log: { level: 'info' },
  };
  const file = join(dir, `${deviceId}.yaml`);
  writeFileSync(file, toYaml(cfg));
  return file;
}

interface Run {
  events: string[];
  stdout: string;
  stderr: string;
  /** The agent's JSON log lines. */
  logs: { level: number; msg: string; encoder?: string; provider?: string }[];
}

async function run(deviceId: string, providers: ('webgpu' | 'cpu')[], env: NodeJS.ProcessEnv): Promise<Run> {
  const file = config(deviceId, providers);
  const sub = await startCollector({ url: broker.url, filter: `edgebind/${deviceId}/events` });
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'run', '--config', file], {
    cwd: dir,
    env: { ...env, NOTIFY_SOCKET: '', EDGEBIND_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(killer);
  assert.equal(code, 0, stderr.slice(-4000));
  await sub.close();
  const logs = stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Run['logs'][number]);
  const events = sub.messages
    .map((m) => m.json as EventPayload)
    .map((e) =>
      [e.label, e.type, e.modalities.join('+'), e.windows, e.score.toFixed(4), e.peakScore.toFixed(4)].join(
        ' ',
      ),
    )
    .sort();
  return { events, stdout, stderr, logs };
}

const ENCODERS = ['text', 'audio', 'thermal', 'depth', 'imu'];

test(
  'run with [webgpu, cpu] on lavapipe: every encoder on webgpu, warmed up first, events equal the cpu run',
  lavapipeTestOptions(),
  async (t) => {
    assertLavapipe();
    const cpu = await run('wg-cpu', ['cpu'], process.env);
    const gpu = await run('wg-lavapipe', ['webgpu', 'cpu'], lavapipeEnv());
    assert.ok(cpu.events.length > 0, 'the recordings produce events');
    t.diagnostic(
      `${cpu.events.length} event messages: ${[...new Set(cpu.events.map((e) => e.split(' ')[0]))].join(', ')}`,
    );
    assert.deepEqual(gpu.events, cpu.events);

    assert.ok(!(gpu.stdout + gpu.stderr).includes('\u001b'), 'no ANSI escape codes');
    const index = (re: RegExp) => gpu.logs.findIndex((l) => re.test(l.msg));
    const running = index(/^edgebind running as/);
    assert.ok(running > 0);
    for (const m of ENCODERS) {
      const loaded = index(new RegExp(`^encoder ${m}: loaded ${m}\\.onnx on webgpu$`));
      const warm = index(new RegExp(`^encoder ${m}: warmed up on webgpu in \\d+ ms \\(batch 1-4\\)$`));
      assert.ok(loaded >= 0, `${m} logs that it runs on webgpu`);
      assert.ok(warm > loaded && warm < running, `${m} is warmed up before the sensors start`);
      t.diagnostic(gpu.logs[warm]!.msg);
    }
    assert.equal(gpu.logs.filter((l) => l.level >= 40).length, 0, 'no warnings');
  },
);

test('run with [webgpu, cpu] and no Vulkan driver: cpu, one warning per encoder, no native noise', async () => {
  const cpu = await run('nv-cpu', ['cpu'], process.env);
  const fallback = await run('nv-fallback', ['webgpu', 'cpu'], noVulkanEnv());
  assert.deepEqual(fallback.events, cpu.events);
  const nonJson = fallback.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
  assert.deepEqual(nonJson, [], 'stderr holds only the agent log lines');
  assert.equal(fallback.stdout, '');
  const warnings = fallback.logs.filter((l) => l.level >= 40);
  assert.deepEqual(warnings.map((w) => w.encoder).sort(), [...ENCODERS].sort(), 'one warning per encoder');
  for (const w of warnings)
    assert.match(
      w.msg,
      /^encoder \w+: execution provider webgpu unavailable \(Failed to get a WebGPU adapter: .+\), falling back to cpu$/,
    );
  for (const m of ENCODERS)
    assert.ok(fallback.logs.some((l) => l.msg === `encoder ${m}: loaded ${m}.onnx on cpu`));
});
