/**
 * `edgebind doctor [--config FILE]`: checks what the daemon needs on this device and prints one
 * line per check. Exit 0 when nothing is wrong, 1 when a check failed, 2 when the config itself
 * is invalid. Warnings (a fallback provider, little disk) do not fail.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, constants, mkdtemp, readdir, readFile, rm, statfs } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { connectAsync } from 'mqtt';
import { deviceStateDir, loadConfig, type ResolvedConfig } from '../../config/load.js';
import { EXECUTION_PROVIDERS } from '../../config/schema.js';
import { brokerSecrets, type BrokerSecrets } from '../../config/secrets.js';
import { writeModel } from '../../encoders/onnx/writer.js';
import { MANIFEST_FILE, verifyPack } from '../../encoders/pack.js';
import { openEncoders, TEST_PACK_NAME } from '../../encoders/registry.js';
import { EncoderSession, onnxruntimeBuild, type OnnxruntimeBuild } from '../../encoders/session.js';
import { ConfigError, EXIT_CONFIG, EXIT_FAILURE, EXIT_OK } from '../../errors.js';
import { checkLabelCoverage } from '../../labels/check.js';
import { LabelStore } from '../../labels/store.js';
import { createLogger } from '../../log.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  config?: string;
  /** Broker connect timeout; default 3000 ms. */
  brokerTimeoutMs?: number;
  /** Providers to try besides the configured ones; default tensorrt, cuda, webgpu, cpu. */
  providers?: string[];
}

export interface DoctorReport {
  checks: Check[];
  exitCode: number;
}

const NODE_MIN_MAJOR = 20;
const DISK_FAIL_BYTES = 100 * 2 ** 20;
const DISK_WARN_BYTES = 2 ** 30;

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: Check[] = [];
  const add = (name: string, status: CheckStatus, detail: string) =>
    void checks.push({ name, status, detail });

  const major = Number(process.versions.node.split('.')[0]);
  add(
    'node',
    major >= NODE_MIN_MAJOR ? 'ok' : 'fail',
    `v${process.versions.node}${major >= NODE_MIN_MAJOR ? '' : ` (needs >= ${NODE_MIN_MAJOR})`}`,
  );
  // The npm binaries are tested on linux x64 and arm64 (the latter under emulation, issue #21).
  const tested = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
  add('arch', tested ? 'ok' : 'warn', `${process.arch} (${process.platform})${tested ? '' : ': untested'}`);
  const runtime = onnxruntime();
  add('onnxruntime', runtime.ok ? 'ok' : 'fail', runtime.detail);

  let config: ResolvedConfig | undefined;
  let configInvalid = false;
  if (opts.config !== undefined) {
    try {
      config = await loadConfig(opts.config);
      const enabled = config.sensors.filter((s) => s.enabled).length;
      add(
        'config',
        'ok',
        `${config.source}: device ${config.deviceId}, ${enabled} sensor(s), ${config.labels.length} label(s)`,
      );
    } catch (err) {
      configInvalid = err instanceof ConfigError;
      add('config', 'fail', (err as Error).message.replace(/\n\s*/g, '; '));
    }
  } else {
    add('config', 'info', 'no --config given: only the device was checked');
  }

  const gpu = await detectGpu();
  const configured = config?.encoders.providers ?? [];
  // Only CUDA and TensorRT need an NVIDIA GPU; webgpu is judged by the vulkan and provider checks.
  const wantsNvidia = configured.some((p) => p === 'cuda' || p === 'tensorrt');
  add(
    'gpu',
    gpu.length > 0 ? 'ok' : wantsNvidia ? 'warn' : 'info',
    gpu.length > 0 ? gpu.join('; ') : 'no NVIDIA GPU found',
  );
  checks.push(await vulkanCheck(configured.includes('webgpu')));
  if (runtime.ok)
    checks.push(
      ...(await providerChecks(configured, opts.providers ?? [...EXECUTION_PROVIDERS], runtime.build)),
    );

  if (config) {
    checks.push(...(await sensorChecks(config)));
    checks.push(await brokerCheck(config, opts.brokerTimeoutMs ?? 3000));
    const pack = await packCheck(config);
    checks.push(pack);
    if (pack.status === 'ok' && runtime.ok) checks.push(...(await encoderChecks(config)));
    checks.push(await labelsCheck(config));
    checks.push(await diskCheck(config.stateDir));
  }

  const exitCode = configInvalid
    ? EXIT_CONFIG
    : checks.some((c) => c.status === 'fail')
      ? EXIT_FAILURE
      : EXIT_OK;
  return { checks, exitCode };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', info: '--  ' };

export function formatReport(report: DoctorReport): string {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  const lines = report.checks.map((c) => `  ${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`);
  const names = (status: CheckStatus) =>
    report.checks
      .filter((c) => c.status === status)
      .map((c) => c.name)
      .join(', ');
  const fails = report.checks.filter((c) => c.status === 'fail').length;
  const warns = report.checks.filter((c) => c.status === 'warn').length;
  const summary =
    fails > 0
      ? `${fails} problem(s)${warns > 0 ? `, ${warns} warning(s)` : ''}: see FAIL above.`
      : warns > 0
        ? `${warns} warning(s), no failures: ${names('warn')}; see WARN above.`
        : 'no problems found.';
  return `edgebind doctor\n${lines.join('\n')}\n${summary}\n`;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check Node, onnxruntime, execution providers, GPU, sensors, broker, model pack and disk')
    .option('-c, --config <file>', 'YAML config file to check against')
    .option('--json', 'print the checks as JSON')
    .option('--broker-timeout <ms>', 'broker connect timeout in ms', '3000')
    .action(async (opts: { config?: string; json?: boolean; brokerTimeout: string }) => {
      const report = await runDoctor({
        ...(opts.config !== undefined ? { config: opts.config } : {}),
        brokerTimeoutMs: Number(opts.brokerTimeout) || 3000,
      });
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      process.exit(report.exitCode);
    });
}

/** The loaded onnxruntime-node and the providers its binary bundles, from encoders/session.ts. */
function onnxruntime(): { ok: boolean; detail: string; build?: OnnxruntimeBuild } {
  try {
    const b = onnxruntimeBuild();
    const external = b.external.length > 0 ? `; with their own libraries: ${b.external.join(', ')}` : '';
    return {
      ok: true,
      build: b,
      detail: `onnxruntime-node ${b.version}; providers built in: ${b.bundled.join(', ')}${external}`,
    };
  } catch (err) {
    return { ok: false, detail: `onnxruntime-node unusable: ${(err as Error).message.split('\n')[0]}` };
  }
}

async function detectGpu(): Promise<string[]> {
  const found: string[] = [];
  const smi = await new Promise<string | undefined>((resolve) => {
    execFile(
      'nvidia-smi',
      ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'],
      { timeout: 5000 },
      (err, stdout) => resolve(err ? undefined : stdout.trim()),
    );
  });
  if (smi) found.push(...smi.split('\n').map((l) => `nvidia-smi: ${l.trim()}`));
  else if (existsSync('/dev/nvidia0')) found.push('/dev/nvidia0 present (nvidia-smi not usable)');
  const tegra = await readFile('/etc/nv_tegra_release', 'utf8').catch(() => undefined);
  const compatible = await readFile('/proc/device-tree/compatible', 'utf8').catch(() => '');
  if (tegra) found.push(`Jetson: ${tegra.split('\n')[0]!.slice(0, 60).trim()}`);
  else if (compatible.includes('nvidia,tegra')) found.push(`Jetson: ${compatible.split('\0')[0]}`);
  return found;
}

/**
 * The WebGPU provider runs on Vulkan (Dawn): it needs the loader (libvulkan.so.1) and a driver's
 * ICD file (NVIDIA's, or Mesa's lavapipe/radv/anv). `VK_ICD_FILENAMES` overrides the search.
 */
async function vulkanCheck(wanted: boolean): Promise<Check> {
  const name = 'vulkan';
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const loader = libDirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
  const override = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  let icds: string[];
  if (override) {
    icds = override.split(':').filter((f) => f !== '' && existsSync(f));
  } else {
    icds = [];
    for (const d of ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']) {
      const files = await readdir(d).catch(() => [] as string[]);
      icds.push(...files.filter((f) => f.endsWith('.json')).map((f) => join(d, f)));
    }
  }
  const where = override ? ` (VK_ICD_FILENAMES=${override})` : '';
  if (!loader || icds.length === 0) {
    const missing = !loader ? 'no Vulkan loader (libvulkan.so.1)' : `no Vulkan driver (ICD file)${where}`;
    return {
      name,
      status: wanted ? 'warn' : 'info',
      detail: `${missing}: webgpu cannot run (deploy/gpu.md)`,
    };
  }
  return {
    name,
    status: 'ok',
    detail: `loader found; driver(s): ${icds.map((f) => f.replace(/.*\//, '')).join(', ')}${where}`,
  };
}

/**
 * Opens the configured pack the way the agent does (configured providers, text plus the enabled
 * sensors' modalities, warm-up on every batch size) and says where each encoder runs and how long
 * its warm-up took: on a GPU the first inference compiles kernels (issue #15).
 */
async function encoderChecks(config: ResolvedConfig): Promise<Check[]> {
  const modalities = [...new Set(config.sensors.filter((s) => s.enabled).map((s) => s.modality))];
  const wanted = config.encoders.providers[0];
  try {
    const set = await openEncoders({ config, modalities, logger: createLogger({ level: 'silent' }) });
    await set.close();
    return (set.warmUp ?? []).map((w) => ({
      name: `encoder ${w.modality}`,
      status: w.provider === wanted ? 'ok' : 'warn',
      detail:
        `on ${w.provider}${w.provider === wanted ? '' : ` (${wanted} unavailable, see its provider line)`}, ` +
        `warm-up ${w.ms} ms (batch ${w.batches.length === 1 ? w.batches[0] : `1-${w.batches.at(-1)}`})`,
    }));
  } catch (err) {
    return [{ name: 'encoders', status: 'fail', detail: (err as Error).message.replace(/\n\s*/g, '; ') }];
  }
}

/**
 * Creates and runs a one-op model on each provider alone. A provider the binary does not know at
 * all (webgpu, cuda and tensorrt on the npm linux-arm64 build) is reported without a session.
 */
async function providerChecks(
  configured: readonly string[],
  extra: readonly string[],
  build: OnnxruntimeBuild | undefined,
): Promise<Check[]> {
  const dir = await mkdtemp(join(tmpdir(), 'edgebind-doctor-'));
  const file = join(dir, 'identity.onnx');
  const checks: Check[] = [];
  try {
    await writeModel(file, {
      name: 'doctor',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 4] }],
      initializers: [],
      nodes: [{ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} }],
    });
    const spec = {
      input: { name: 'x', dtype: 'float32' as const, shape: ['batch', 4] },
      output: { name: 'y', dim: 4 },
    };
    const results = new Map<string, string | undefined>();
    const known = build ? new Set([...build.bundled, ...build.external]) : undefined;
    for (const provider of [...new Set([...configured, ...extra])]) {
      if (known && !known.has(provider)) {
        const reason = `not in this onnxruntime-node build (built in: ${build!.bundled.join(', ')})`;
        results.set(provider, reason);
        checks.push({
          name: `provider ${provider}`,
          status: configured.includes(provider) ? 'warn' : 'info',
          detail: `unavailable: ${reason}`,
        });
        continue;
      }
      const t0 = performance.now();
      try {
        const s = await EncoderSession.open(file, spec, {
          providers: [provider],
          name: `doctor-${provider}`,
        });
        try {
          const out = await s.run(new Float32Array([1, 2, 3, 4]), 1);
          if (out[3] !== 4) throw new Error(`wrong result ${Array.from(out).join(',')}`);
        } finally {
          await s.close();
        }
        results.set(provider, undefined);
        checks.push({
          name: `provider ${provider}`,
          status: 'ok',
          detail: `tiny session ran in ${Math.round(performance.now() - t0)} ms${configured.includes(provider) ? '' : ' (not configured)'}`,
        });
      } catch (err) {
        const reason = (err as Error).message
          .replace(/^encoder doctor-\S+: /, '')
          .replace(/^no requested execution provider is available \(\w+: (.*)\)$/s, '$1')
          .split('\n')[0]!;
        results.set(provider, reason);
        checks.push({
          name: `provider ${provider}`,
          status: configured.includes(provider) ? 'warn' : 'info',
          detail: `unavailable: ${reason}`,
        });
      }
    }
    const failed = configured.filter((p) => results.get(p) !== undefined);
    const used = configured.find((p) => results.get(p) === undefined);
    if (configured.length > 0 && used === undefined) {
      checks.push({
        name: 'providers',
        status: 'fail',
        detail: `none of the configured providers (${configured.join(', ')}) works`,
      });
    } else if (failed.length > 0) {
      // Said plainly (issue 17 item 3): the agent runs, but not where its config asks.
      checks.push({
        name: 'providers',
        status: 'warn',
        detail: `${failed.join(', ')} unavailable: encoders will run on ${used!} (encoders.providers: ${configured.join(', ')})`,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return checks;
}

/** Replay files must be readable; any `/dev/...` path (or I2C bus number) must be read-writable. */
async function sensorChecks(config: ResolvedConfig): Promise<Check[]> {
  const checks: Check[] = [];
  for (const s of config.sensors) {
    const name = `sensor ${s.id}`;
    if (!s.enabled) {
      checks.push({ name, status: 'info', detail: 'disabled' });
      continue;
    }
    const fields = s as unknown as Record<string, unknown>;
    const paths: { path: string; mode: number }[] = [];
    if (typeof fields.file === 'string') paths.push({ path: fields.file, mode: constants.R_OK });
    for (const v of Object.values(fields))
      if (typeof v === 'string' && v.startsWith('/dev/'))
        paths.push({ path: v, mode: constants.R_OK | constants.W_OK });
    if (typeof fields.bus === 'number')
      paths.push({ path: `/dev/i2c-${fields.bus}`, mode: constants.R_OK | constants.W_OK });
    if (paths.length === 0) {
      checks.push({ name, status: 'info', detail: `${String(fields.driver)}: nothing to check from here` });
      continue;
    }
    const problems: string[] = [];
    for (const p of paths) {
      await access(p.path, p.mode).catch((err: NodeJS.ErrnoException) =>
        problems.push(
          `${p.path}: ${err.code === 'ENOENT' ? 'not found' : err.code === 'EACCES' ? 'permission denied (groups?)' : err.message}`,
        ),
      );
    }
    checks.push(
      problems.length > 0
        ? { name, status: 'fail', detail: problems.join('; ') }
        : { name, status: 'ok', detail: `${String(fields.driver)}: ${paths.map((p) => p.path).join(', ')}` },
    );
  }
  return checks;
}

/** Connects to the configured broker as the daemon would; exported for the TLS test. */
export async function brokerCheck(config: ResolvedConfig, timeoutMs: number): Promise<Check> {
  const name = 'broker';
  const m = config.mqtt;
  if (m.broker === 'embedded') {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port: m.embeddedPort, exclusive: true }, () =>
        server.close(() => resolve(true)),
      );
    });
    return free
      ? { name, status: 'ok', detail: `embedded broker; port ${m.embeddedPort} on 127.0.0.1 is free` }
      : { name, status: 'fail', detail: `embedded broker: port ${m.embeddedPort} on 127.0.0.1 is in use` };
  }
  if (m.passwordEnv && process.env[m.passwordEnv] === undefined)
    return { name, status: 'fail', detail: `mqtt.passwordEnv names ${m.passwordEnv}, which is not set` };
  // The daemon's own credentials (password env or file, CA, client certificate), read the same way.
  let secrets: BrokerSecrets;
  try {
    secrets = brokerSecrets(config);
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message };
  }
  const { password, tls } = secrets;
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const client = await Promise.race([
      connectAsync(m.broker, {
        clientId: `edgebind-doctor-${config.deviceId}-${process.pid}`,
        connectTimeout: timeoutMs,
        reconnectPeriod: 0,
        clean: true,
        ...(m.username !== undefined ? { username: m.username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
        rejectUnauthorized: tls.rejectUnauthorized,
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    await client.endAsync();
    const auth = m.username !== undefined ? ` as ${m.username}` : '';
    return {
      name,
      status: 'ok',
      detail: `${m.broker}: connected${auth} in ${Math.round(performance.now() - t0)} ms`,
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const code = e.code && !e.message.includes(e.code) ? `${e.code} ` : '';
    return { name, status: 'fail', detail: `${m.broker}: ${code}${e.message}` };
  } finally {
    clearTimeout(timer);
  }
}

async function packCheck(config: ResolvedConfig): Promise<Check> {
  const name = 'pack';
  const test = config.encoders.pack === 'test';
  const dir = test ? join(config.stateDir, 'packs', TEST_PACK_NAME) : config.encoders.pack;
  if (test && !existsSync(join(dir, MANIFEST_FILE)))
    return { name, status: 'info', detail: `test pack: generated into ${dir} on first run` };
  try {
    const v = await verifyPack(dir);
    if (v.errors.length > 0)
      return { name, status: 'fail', detail: `${dir}: ${v.errors.map((e) => e.message).join('; ')}` };
    return {
      name,
      status: 'ok',
      detail: `${v.manifest.id} ${v.manifest.version}: ${v.files.length} file(s) match their sha256`,
    };
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message.replace(/\n\s*/g, '; ') };
  }
}

/** Label coverage (issue #13) of the labels the agent would start with (a remote set overrides the file's). */
async function labelsCheck(config: ResolvedConfig): Promise<Check> {
  const name = 'labels';
  let labels = config.labels;
  let source = config.source;
  try {
    const stored = new LabelStore(deviceStateDir(config)).load();
    if (stored) {
      labels = stored.labels;
      source = `remote set version ${stored.version}`;
    }
  } catch {
    // An unreadable stored set is ignored at start as well (the agent logs why); check the file's.
  }
  try {
    const report = await checkLabelCoverage(config, createLogger({ level: 'error' }), labels);
    if (!report.checked) return { name, status: 'info', detail: `coverage not checked: ${report.reason}` };
    if (report.warnings.length === 0)
      return {
        name,
        status: 'ok',
        detail: `${labels.length} label(s) (${source}): every word known to ${report.pack}`,
      };
    return {
      name,
      status: 'warn',
      detail: `${labels.length} label(s) (${source}), ${report.warnings.length} warning(s): ${report.warnings.map((w) => w.message).join(' | ')}`,
    };
  } catch (err) {
    return { name, status: 'fail', detail: (err as Error).message.replace(/\n\s*/g, '; ') };
  }
}

async function diskCheck(stateDir: string): Promise<Check> {
  const name = 'state dir';
  let dir = stateDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const s = await statfs(dir);
    const free = s.bavail * s.bsize;
    const writable = await access(dir, constants.W_OK).then(
      () => true,
      () => false,
    );
    const gb = (free / 2 ** 30).toFixed(1);
    const where = dir === stateDir ? stateDir : `${stateDir} (not yet created; checked ${dir})`;
    if (!writable && dir === stateDir) return { name, status: 'fail', detail: `${where}: not writable` };
    if (free < DISK_FAIL_BYTES) return { name, status: 'fail', detail: `${where}: only ${gb} GB free` };
    return { name, status: free < DISK_WARN_BYTES ? 'warn' : 'ok', detail: `${where}: ${gb} GB free` };
  } catch (err) {
    return { name, status: 'fail', detail: `${stateDir}: ${(err as Error).message}` };
  }
}
