/**
 * The only module that touches onnxruntime-node: one ONNX encoder with one input and one
 * `[batch, dim]` float32 output, opened on the first execution provider that works.
 *
 * onnxruntime-node 1.30 does not fall back by itself: with `executionProviders: ['cuda', 'cpu']`
 * and no CUDA libraries, session creation throws "OrtSessionOptionsAppendExecutionProvider_Cuda:
 * Failed to load shared library" (and ORT's native logger prints the missing .so to stderr).
 * Providers that are not built in (dml, coreml, …) throw "no available backend found", and webgpu
 * without an adapter throws "Failed to get a WebGPU adapter". So each provider is tried alone,
 * in order. Providers are attached before the model is read, so an unavailable provider fails
 * before any model error; a model error ("Load model from … failed") is final.
 *
 * Native log output (issue #15): ORT's own logger writes ANSI-coloured lines straight to stderr
 * (warnings about nodes placed on the CPU, errors naming a missing CUDA library), and Dawn and the
 * Vulkan loader print `Warning: …` lines when no Vulkan driver exists. So ORT's log level is
 * `error` for the environment and every session, and each non-CPU provider is first tried once per
 * process in a child process (`probeProvider`), whose output goes to this logger at debug; only a
 * provider that works there is attached here.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { EncoderError } from '../errors.js';
import type { TensorSpec } from './manifest.js';
import { encodeModel } from './onnx/writer.js';

// Read by onnxruntime-node when it creates its environment, i.e. before the first session.
ort.env.logLevel = 'error';
/** ORT severity: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. */
const ORT_LOG_ERROR = 3;

/** The onnxruntime-node build this process loaded, as `doctor` reports it (issue #21). */
export interface OnnxruntimeBuild {
  /** onnxruntime-node's version, e.g. `1.30.0`. */
  version: string;
  /** Execution providers the loaded binary was built with, e.g. `['cpu', 'webgpu']`. */
  bundled: string[];
  /** Providers it knows but whose libraries are not bundled (cuda, tensorrt: installed apart). */
  external: string[];
}

/**
 * Asks the loaded binding which providers it was built with. The npm package's binaries differ
 * per platform: linux-x64 has cpu and webgpu built in and loads cuda and tensorrt from separate
 * libraries; linux-arm64 has cpu only; a Jetson build from source adds its own (deploy/gpu.md).
 */
export function onnxruntimeBuild(): OnnxruntimeBuild {
  const backends = ort.listSupportedBackends();
  return {
    version: ort.env.versions.node ?? ort.env.versions.common,
    bundled: backends.filter((b) => b.bundled).map((b) => b.name),
    external: backends.filter((b) => !b.bundled).map((b) => b.name),
  };
}

/** What an encoder session needs from its manifest entry. */
export interface SessionSpec {
  input: TensorSpec;
  output: { name: string; dim: number };
}

export interface EncoderSessionOptions {
  /** Execution providers to try, in order, e.g. `['cuda', 'cpu']`. */
  providers: string[];
  /** Threads inside one operator; default: onnxruntime's choice (one per physical core). */
  intraOpThreads?: number;
  /** Threads running independent operators; above 1 turns on parallel execution. Default 1. */
  interOpThreads?: number;
  logger?: Logger;
  /** Name in logs and errors; default: the file name without `.onnx` (e.g. `audio`). */
  name?: string;
}

/** What a probe child ran: a one-op model on one provider. */
const PROBE_CHILD = `
const [ortUrl, provider, model] = process.argv.slice(1);
const ort = await import(ortUrl);
const { InferenceSession, env } = ort.default ?? ort;
env.logLevel = 'error';
try {
  const s = await InferenceSession.create(Buffer.from(model, 'base64'), {
    executionProviders: [provider], logSeverityLevel: ${ORT_LOG_ERROR},
  });
  await s.release();
  process.stdout.write(JSON.stringify({ ok: true }));
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, reason: String(err?.message ?? err) }));
}
`;

const probes = new Map<string, Promise<string | undefined>>();

/**
 * Whether `provider` can create a session here, tried once per process in a child process so that
 * whatever its native side prints (or a crashing driver) stays out of this one. Resolves to
 * `undefined` when it works, else the reason (first line). `cpu` always works.
 */
export function probeProvider(provider: string, logger?: Logger): Promise<string | undefined> {
  if (provider === 'cpu') return Promise.resolve(undefined);
  let p = probes.get(provider);
  if (!p) {
    p = runProbe(provider, logger);
    probes.set(provider, p);
  }
  return p;
}

function runProbe(provider: string, logger?: Logger): Promise<string | undefined> {
  const ortUrl = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
  const model = Buffer.from(
    encodeModel({
      name: 'probe',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 4] }],
      initializers: [],
      nodes: [{ name: 'id', opType: 'Identity', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} }],
    }),
  ).toString('base64');
  const log = logger?.child({ component: 'encoder', provider });
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', PROBE_CHILD, ortUrl, provider, model],
      { timeout: 120_000, maxBuffer: 1 << 20, env: process.env },
      (err, stdout, stderr) => {
        const native = stderr.trim();
        // The child's native lines (Dawn, Vulkan loader, ORT), without colour codes, at debug.
        if (native) log?.debug({ native: stripAnsi(native) }, `probe of ${provider}: native output`);
        let reason: string | undefined;
        try {
          const r = JSON.parse(stdout) as { ok: boolean; reason?: string };
          reason = r.ok ? undefined : providerReason(r.reason ?? 'unknown error');
        } catch {
          reason = err
            ? `probe process failed (${err.killed ? 'timed out' : (err.signal ?? `exit ${String(err.code)}`)})`
            : 'probe process printed no result';
        }
        log?.debug(
          { ms: Math.round(performance.now() - t0), reason },
          `probe of ${provider}: ${reason ?? 'works'}`,
        );
        resolve(reason);
      },
    );
  });
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/** The telling part of an ORT provider error, on one line. */
function providerReason(message: string): string {
  const line = firstLine(message);
  // webgpu: "/onnxruntime_src/…/webgpu_context.cc:136 … was false. Failed to get a WebGPU adapter: No supported adapters"
  const webgpu = /Failed to get a WebGPU adapter.*$/.exec(line);
  return webgpu ? webgpu[0] : line;
}

/** A model input or output as onnxruntime reports it; dims are sizes or symbolic names. */
export interface ValueSignature {
  name: string;
  dtype: string;
  shape: (number | string)[];
}

/** onnxruntime could not load the model file itself (corrupt, truncated, invalid graph). */
export class ModelLoadError extends EncoderError {
  readonly file: string;
  /** onnxruntime's message. */
  readonly reason: string;
  constructor(name: string, file: string, reason: string, cause: unknown) {
    super(name, `encoder ${name}: onnxruntime cannot load ${file}: ${reason}`, cause);
    this.file = file;
    this.reason = reason;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The first line of an ORT message, for one-line logs. */
function firstLine(s: string): string {
  return s.split('\n', 1)[0]?.trim() ?? s;
}

function signatureOf(m: ort.InferenceSession.ValueMetadata): ValueSignature {
  if (!m.isTensor) return { name: m.name, dtype: 'non-tensor', shape: [] };
  return { name: m.name, dtype: m.type, shape: [...m.shape] };
}

type InputArray = Float32Array | BigInt64Array;

/** The probe found the provider unusable; its message is the reason. */
class ProviderUnavailable extends Error {}

export class EncoderSession {
  /** The execution provider the session really runs on, e.g. `cpu`. */
  readonly provider: string;
  readonly name: string;
  readonly file: string;
  /** Model inputs and outputs as onnxruntime reports them. */
  readonly inputs: readonly ValueSignature[];
  readonly outputs: readonly ValueSignature[];
  /** Elements of one batch item (product of the input's fixed dims). */
  readonly itemSize: number;
  readonly #session: ort.InferenceSession;
  readonly #spec: SessionSpec;
  readonly #dims: (batch: number) => number[];
  /** The last tensor built per batch size, reused while callers pass the same array. */
  readonly #tensors = new Map<number, { data: InputArray; tensor: ort.Tensor }>();
  #zeros: InputArray | undefined;
  #closed = false;

  private constructor(
    session: ort.InferenceSession,
    deps: { file: string; name: string; spec: SessionSpec; provider: string; itemDims: number[] },
  ) {
    this.#session = session;
    this.#spec = deps.spec;
    this.file = deps.file;
    this.name = deps.name;
    this.provider = deps.provider;
    this.inputs = session.inputMetadata.map(signatureOf);
    this.outputs = session.outputMetadata.map(signatureOf);
    const itemDims = deps.itemDims;
    this.itemSize = itemDims.reduce((a, b) => a * b, 1);
    this.#dims = (batch) => [batch, ...itemDims];
  }

  /** Loads `file` on the first of `opts.providers` that works, logging each fallback. */
  static async open(file: string, spec: SessionSpec, opts: EncoderSessionOptions): Promise<EncoderSession> {
    const name = opts.name ?? basename(file).replace(/\.onnx$/, '');
    if (opts.providers.length === 0) throw new TypeError(`encoder ${name}: no execution providers given`);
    // The first dim is the batch; the others must be fixed to size a batch item.
    const itemDims = spec.input.shape.slice(1).map((d) => {
      if (typeof d !== 'number')
        throw new TypeError(`encoder ${name}: input dim ${d} after the batch must be fixed`);
      return d;
    });
    const log = opts.logger?.child({ component: 'encoder', encoder: name });
    const interOp = opts.interOpThreads ?? 1;
    const failures: string[] = [];
    for (const [i, provider] of opts.providers.entries()) {
      const t0 = performance.now();
      try {
        const unavailable = await probeProvider(provider, opts.logger);
        if (unavailable !== undefined) throw new ProviderUnavailable(unavailable);
        const session = await ort.InferenceSession.create(file, {
          executionProviders: [provider],
          logSeverityLevel: ORT_LOG_ERROR,
          graphOptimizationLevel: 'all',
          executionMode: interOp > 1 ? 'parallel' : 'sequential',
          interOpNumThreads: interOp,
          ...(opts.intraOpThreads !== undefined ? { intraOpNumThreads: opts.intraOpThreads } : {}),
        });
        log?.info(
          { provider, loadMs: Math.round(performance.now() - t0) },
          `encoder ${name}: loaded ${basename(file)} on ${provider}`,
        );
        return new EncoderSession(session, { file, name, spec, provider, itemDims });
      } catch (err) {
        const reason = err instanceof ProviderUnavailable ? err.message : providerReason(messageOf(err));
        // A model error is the model's fault whatever the provider; CPU is always available.
        if (/^Load model from /.test(reason) || provider === 'cpu') {
          throw new ModelLoadError(name, file, messageOf(err).trim(), err);
        }
        failures.push(`${provider}: ${reason}`);
        const next = opts.providers[i + 1];
        if (next !== undefined) {
          log?.warn(
            { provider, reason, fallback: next },
            `encoder ${name}: execution provider ${provider} unavailable (${reason}), falling back to ${next}`,
          );
        }
      }
    }
    throw new EncoderError(
      name,
      `encoder ${name}: no requested execution provider is available (${failures.join('; ')})`,
    );
  }

  /**
   * Runs one batch. `input` holds `batch` items back to back (`batch × itemSize` values, int64 for
   * text). Passing the same array again reuses its tensor. Returns a new `[batch, dim]` array.
   */
  async run(input: InputArray, batch: number): Promise<Float32Array> {
    if (this.#closed) throw new EncoderError(this.name, `encoder ${this.name}: session is closed`);
    if (!Number.isInteger(batch) || batch < 1)
      throw new TypeError(`encoder ${this.name}: batch must be ≥ 1, got ${batch}`);
    const want = this.#spec.input.dtype === 'int64' ? BigInt64Array : Float32Array;
    if (!(input instanceof want)) {
      throw new TypeError(
        `encoder ${this.name}: input must be a ${want.name}, got ${input?.constructor?.name}`,
      );
    }
    if (input.length !== batch * this.itemSize) {
      throw new TypeError(
        `encoder ${this.name}: input has ${input.length} values, batch ${batch} needs ${batch * this.itemSize} ` +
          `([${this.#dims(batch).join(',')}])`,
      );
    }
    let cached = this.#tensors.get(batch);
    if (cached?.data !== input) {
      const tensor =
        input instanceof BigInt64Array
          ? new ort.Tensor('int64', input, this.#dims(batch))
          : new ort.Tensor('float32', input, this.#dims(batch));
      cached = { data: input, tensor };
      this.#tensors.set(batch, cached);
    }

    const { input: inSpec, output: outSpec } = this.#spec;
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.#session.run({ [inSpec.name]: cached.tensor }, [outSpec.name]);
    } catch (err) {
      throw new EncoderError(
        this.name,
        `encoder ${this.name}: run failed (batch ${batch}): ${messageOf(err)}`,
        err,
      );
    }
    const out = result[outSpec.name];
    const expected = batch * outSpec.dim;
    if (!out || out.type !== 'float32' || out.data.length !== expected) {
      const got = out ? `${out.type} [${out.dims.join(',')}]` : 'nothing';
      throw new EncoderError(
        this.name,
        `encoder ${this.name}: output ${outSpec.name} should be float32 [${batch},${outSpec.dim}], got ${got}`,
      );
    }
    return out.data as Float32Array;
  }

  /** Runs one all-zero batch so that the first real window does not pay for lazy initialisation; returns ms. */
  async warmUp(batch = 1): Promise<number> {
    const n = batch * this.itemSize;
    if (this.#zeros?.length !== n) {
      this.#zeros = this.#spec.input.dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n);
    }
    const t0 = performance.now();
    await this.run(this.#zeros, batch);
    return performance.now() - t0;
  }

  /** Releases the native session. Further `run` calls fail; closing twice is a no-op. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#tensors.clear();
    this.#zeros = undefined;
    await this.#session.release();
  }
}
