/**
 * Remote label configuration: validates a request with the config's own LabelSchema plus the
 * configured limits, checks that it is addressed to the device or group whose topic it came on
 * (`target`), its signature and, for a signed one, its freshness (issuedAt, nonce), computes the
 * new label set's embeddings, persists it crash-safely with the next version, and only then swaps
 * it into the running scorer and tracker.
 * A bad request is rejected whole (every problem with its JSON path) and the old set keeps running.
 * Requests are handled one at a time.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { LabelConfig, RemoteConfig } from '../config/schema.js';
import { ConfigError, type Problem } from '../errors.js';
import {
  REQUEST_OPS,
  REQUEST_SCHEMAS,
  type LabelsPatchRequest,
  type LabelsPayload,
  type LabelWarningPayload,
  type RequestOp,
  type ResponsePayload,
} from '../mqtt/payloads.js';
import {
  NONCE_PATTERN,
  parsePublicKey,
  FileNonceLog,
  ReplayGuard,
  TARGET_PATTERN,
  verifyRequest,
  type RequestTarget,
} from './signing.js';
import type { LabelWarning } from './coverage.js';
import type { LabelStore, StoredLabels } from './store.js';

export type ApiErrorCode =
  | 'REQUEST_TOO_LARGE'
  | 'REQUEST_PARSE'
  | 'REQUEST_INVALID'
  | 'UNKNOWN_OP'
  | 'SIGNATURE_REQUIRED'
  | 'SIGNATURE_INVALID'
  | 'REQUEST_MISDIRECTED'
  | 'REQUEST_EXPIRED'
  | 'REQUEST_REPLAYED'
  | 'REPLAY_CACHE_FULL'
  | 'VERSION_CONFLICT'
  | 'LABELS_BUILD_FAILED'
  | 'PERSIST_FAILED';

export type Limits = Pick<
  RemoteConfig,
  | 'maxLabels'
  | 'maxPromptChars'
  | 'maxPayloadBytes'
  | 'requireSigned'
  | 'publicKeys'
  | 'maxRequestAgeS'
  | 'maxNonces'
>;

export interface LabelServiceDeps<T> {
  store: LabelStore;
  limits: Limits;
  /**
   * Computes embeddings for a label set (may throw ConfigError with problems); `persist: false`
   * (labels/test) keeps them out of the disk cache.
   */
  build(labels: readonly LabelConfig[], opts?: { persist?: boolean }): Promise<T>;
  /** Swaps a built set into the running pipeline; `removed` names labels that are gone. */
  apply(built: T, labels: readonly LabelConfig[], removed: readonly string[]): void;
  /** Scores a built candidate set against recent windows (labels/test). */
  evaluate(built: T, labels: readonly LabelConfig[]): unknown;
  /** The label set the agent started with. */
  initial: { labels: LabelConfig[]; version: number; source: 'config' | 'remote'; hash: string };
  /** Called after each applied change (publish retained labels, discovery). */
  onChange?(current: LabelsPayload, removed: readonly string[]): void;
  /**
   * Where nonces of accepted signed requests are recorded (`<stateDir>/replay-nonces.log`), so a
   * request captured before a restart is refused after it; in memory only when omitted.
   */
  nonceFile?: string;
  logger: Logger;
  now?: () => Date;
}

/** A response without the device id, which the transport adds. */
export type Reply = Omit<ResponsePayload, 'deviceId'>;

class RequestError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly problems: Problem[],
  ) {
    super(message);
  }
}

/** `$`, `$.labels[0].name` from a zod issue path. */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k)) out += `.${k}`;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out;
}

function zodProblems(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ path: jsonPath([...issue.path, key]), message: 'unknown key' });
    } else {
      out.push({ path: jsonPath(issue.path), message: issue.message });
    }
  }
  return out;
}

/** "a", "a and b", "a, b and c". */
function listed(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * `issuedAt` and `nonce` of a signed request, which must also carry a `target`, or REQUEST_INVALID
 * naming each one that is missing or malformed. Checked before the schema so an old signer gets
 * this message, not "unknown key".
 */
function signedFields(obj: Record<string, unknown>): { issuedAt: number; nonce: string } {
  const problems: Problem[] = [];
  const { issuedAt, nonce } = obj;
  // A malformed target was refused already (checkTarget); only its absence is left to check.
  if (obj.target === undefined)
    problems.push({
      path: '$.target',
      message:
        'required on signed requests: "device:<deviceId>" or "group:<group>", whichever topic it is published to',
    });
  if (issuedAt === undefined)
    problems.push({
      path: '$.issuedAt',
      message: 'required on signed requests: milliseconds since the Unix epoch (replay protection)',
    });
  else if (typeof issuedAt !== 'number' || !Number.isSafeInteger(issuedAt) || issuedAt < 0)
    problems.push({
      path: '$.issuedAt',
      message: 'expected an integer: milliseconds since the Unix epoch (UTC), e.g. Date.now()',
    });
  if (nonce === undefined)
    problems.push({
      path: '$.nonce',
      message: 'required on signed requests: 8 to 64 of A-Z a-z 0-9 _ -, new for every request',
    });
  else if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce))
    problems.push({ path: '$.nonce', message: 'expected 8 to 64 of A-Z a-z 0-9 _ -' });
  if (problems.length > 0)
    throw new RequestError(
      'REQUEST_INVALID',
      `signed request without a valid ${listed(problems.map((p) => p.path.slice(2)))}`,
      problems,
    );
  return { issuedAt: issuedAt as number, nonce: nonce as string };
}

/**
 * A request's `target` against the topic it arrived on: optional on unsigned requests (checked
 * when given), required on signed ones (signedFields), whose signature covers it, so a request
 * signed for one device or group is refused on any other's topic. Checked before the signature,
 * so a request published to the wrong topic is told so rather than SIGNATURE_INVALID.
 */
function checkTarget(obj: Record<string, unknown>, arrivedOn: RequestTarget): void {
  const { target } = obj;
  if (target === undefined) return;
  if (typeof target !== 'string' || !TARGET_PATTERN.test(target))
    throw new RequestError('REQUEST_INVALID', 'request has a malformed target', [
      {
        path: '$.target',
        message: `expected "device:<deviceId>" or "group:<group>" (this topic is for "${arrivedOn}"), got ${JSON.stringify(target).slice(0, 80)}`,
      },
    ]);
  if (target !== arrivedOn)
    throw new RequestError(
      'REQUEST_MISDIRECTED',
      `request is addressed to "${target}" but arrived on "${arrivedOn}"`,
      [
        {
          path: '$.target',
          message: `this topic is for "${arrivedOn}": publish the request to the topic of "${target}", or sign a new one for "${arrivedOn}"`,
        },
      ],
    );
}

/** Turns a persisted or configured label list into the first state, logging which one won. */
export function initialLabels(
  store: LabelStore,
  configLabels: LabelConfig[],
  logger: Logger,
): { labels: LabelConfig[]; version: number; source: 'config' | 'remote'; hash: string } {
  let stored: StoredLabels | undefined;
  try {
    stored = store.load();
  } catch (err) {
    logger.error(
      { file: store.file, err: (err as Error).message },
      `labels: cannot use ${store.file} (${(err as Error).message}); using the config file's labels`,
    );
  }
  if (stored) {
    logger.info(
      { file: store.file, version: stored.version, labels: stored.labels.map((l) => l.name) },
      `labels: using ${stored.labels.length} labels set remotely (version ${stored.version}, ${store.file}); they override the config file's labels`,
    );
    return { labels: stored.labels, version: stored.version, source: 'remote', hash: stored.hash };
  }
  return { labels: configLabels, version: 0, source: 'config', hash: '' };
}

/** A coverage warning as a response carries it (the list index is internal). */
function wireWarning(w: LabelWarning): LabelWarningPayload {
  const { index: _index, ...rest } = w;
  return rest;
}

export class LabelService<T extends { hash: string; warnings?: readonly LabelWarning[] }> {
  private state: LabelsPayload;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly keys = new Map<string, KeyObject>();
  private readonly now: () => Date;
  private readonly replay: ReplayGuard;

  constructor(private readonly deps: LabelServiceDeps<T>) {
    this.now = deps.now ?? (() => new Date());
    const { initial } = deps;
    this.state = {
      version: initial.version,
      hash: initial.hash,
      source: initial.source,
      updatedAt: this.now().toISOString(),
      labels: initial.labels,
    };
    for (const k of deps.limits.publicKeys) this.keys.set(k.id, parsePublicKey(k.key));
    this.replay = new ReplayGuard({
      maxAgeMs: deps.limits.maxRequestAgeS * 1000,
      maxEntries: deps.limits.maxNonces,
      ...(deps.nonceFile !== undefined ? { log: new FileNonceLog(deps.nonceFile) } : {}),
    });
  }

  /** Records the hash of the running set (known once it is built). */
  setInitialHash(hash: string): void {
    this.state = { ...this.state, hash };
  }

  current(): LabelsPayload {
    return this.state;
  }

  /**
   * Handles one request; never throws. `arrivedOn` is the device or group whose request topic it
   * came on; a signed request must name the same one in its `target`.
   */
  handle(op: string, payload: Buffer, arrivedOn: RequestTarget): Promise<Reply> {
    const run = this.queue.then(() => this.handleNow(op, payload, arrivedOn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async handleNow(op: string, payload: Buffer, arrivedOn: RequestTarget): Promise<Reply> {
    let transaction: string | number | undefined;
    try {
      const { limits } = this.deps;
      if (payload.length > limits.maxPayloadBytes) {
        throw new RequestError(
          'REQUEST_TOO_LARGE',
          `request is ${payload.length} bytes, more than ${limits.maxPayloadBytes}`,
          [{ path: '$', message: `payload larger than remote.maxPayloadBytes (${limits.maxPayloadBytes})` }],
        );
      }
      let raw: unknown;
      try {
        raw = JSON.parse(payload.toString('utf8'));
      } catch (err) {
        throw new RequestError('REQUEST_PARSE', 'request is not valid JSON', [
          { path: '$', message: (err as Error).message },
        ]);
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new RequestError('REQUEST_PARSE', 'request must be a JSON object', [
          {
            path: '$',
            message: `expected an object, got ${Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw}`,
          },
        ]);
      }
      const obj = raw as Record<string, unknown>;
      const t = obj.transaction;
      if ((typeof t === 'string' && t.length <= 256) || (typeof t === 'number' && Number.isFinite(t)))
        transaction = t;
      if (!(REQUEST_OPS as readonly string[]).includes(op)) {
        throw new RequestError('UNKNOWN_OP', `unknown operation "${op.slice(0, 100)}"`, [
          { path: '$', message: `operations: ${REQUEST_OPS.join(', ')}` },
        ]);
      }
      checkTarget(obj, arrivedOn);
      this.checkSignature(op, obj);
      const parsed = REQUEST_SCHEMAS[op as RequestOp].safeParse(obj);
      if (!parsed.success) {
        const problems = zodProblems(parsed.error.issues);
        throw new RequestError(
          'REQUEST_INVALID',
          `invalid ${op} request: ${problems.length} problem(s)`,
          problems,
        );
      }
      const { data, warnings } = await this.dispatch(op as RequestOp, parsed.data);
      return {
        status: 'ok',
        data,
        ...(warnings.length > 0 ? { warnings: warnings.map(wireWarning) } : {}),
        ...(transaction !== undefined ? { transaction } : {}),
      };
    } catch (err) {
      const e =
        err instanceof RequestError
          ? err
          : err instanceof ConfigError
            ? new RequestError(
                'LABELS_BUILD_FAILED',
                err.message,
                err.problems.map((p) => ({ path: p.path ? `$.${p.path}` : '$', message: p.message })),
              )
            : new RequestError('LABELS_BUILD_FAILED', (err as Error).message, [
                { path: '$', message: (err as Error).message },
              ]);
      this.deps.logger.warn(
        { op: op.slice(0, 100), code: e.code, problems: e.problems.slice(0, 5) },
        `request ${op.slice(0, 100)} rejected: ${e.message}`,
      );
      return {
        status: 'error',
        data: {},
        error: e.message,
        code: e.code,
        problems: e.problems,
        ...(transaction !== undefined ? { transaction } : {}),
      };
    }
  }

  private checkSignature(op: string, obj: Record<string, unknown>): void {
    const sig = obj.signature;
    if (sig === undefined) {
      if (this.deps.limits.requireSigned)
        throw new RequestError('SIGNATURE_REQUIRED', 'this device accepts only signed requests', [
          { path: '$.signature', message: 'required (remote.requireSigned)' },
        ]);
      return;
    }
    const s = sig as { keyId?: unknown; value?: unknown };
    if (
      typeof sig !== 'object' ||
      sig === null ||
      typeof s.keyId !== 'string' ||
      typeof s.value !== 'string'
    ) {
      throw new RequestError('SIGNATURE_INVALID', 'malformed signature', [
        { path: '$.signature', message: 'expected {keyId, value}' },
      ]);
    }
    const key = this.keys.get(s.keyId);
    if (!key)
      throw new RequestError('SIGNATURE_INVALID', `unknown signing key "${s.keyId.slice(0, 64)}"`, [
        { path: '$.signature.keyId', message: 'not in remote.publicKeys' },
      ]);
    const fresh = signedFields(obj);
    if (!verifyRequest(op, obj, s.value, key))
      throw new RequestError('SIGNATURE_INVALID', 'signature does not match the request', [
        { path: '$.signature.value', message: 'Ed25519 verification failed' },
      ]);
    // Only now, with the signature good, may the request touch the nonce cache.
    this.checkFresh(s.keyId, fresh);
  }

  /** Replay protection: issuedAt within remote.maxRequestAgeS and a nonce not seen before. */
  private checkFresh(keyId: string, req: { issuedAt: number; nonce: string }): void {
    const { maxRequestAgeS, maxNonces } = this.deps.limits;
    const now = this.now();
    const verdict = this.replay.admit({ keyId, nonce: req.nonce, issuedAtMs: req.issuedAt }, now.getTime());
    if (verdict.ok) return;
    switch (verdict.reason) {
      case 'expired': {
        const s = Math.round(Math.abs(verdict.ageMs) / 1000);
        const when = verdict.ageMs > 0 ? `${s} s ago` : `${s} s in the future`;
        throw new RequestError(
          'REQUEST_EXPIRED',
          `request was issued ${when}, outside remote.maxRequestAgeS (${maxRequestAgeS} s)`,
          [
            {
              path: '$.issuedAt',
              message: `${new Date(req.issuedAt).toISOString()} is more than ${maxRequestAgeS} s from this device's clock (${now.toISOString()}); sign a new request, and check both clocks`,
            },
          ],
        );
      }
      case 'replayed':
        throw new RequestError(
          'REQUEST_REPLAYED',
          `request was already received (nonce seen within the last ${maxRequestAgeS} s)`,
          [{ path: '$.nonce', message: 'already used; every signed request needs a new nonce' }],
        );
      case 'unrecorded':
        throw new RequestError(
          'PERSIST_FAILED',
          `cannot record the request's nonce: ${verdict.error.message}`,
          [{ path: '$.nonce', message: 'not recorded (replay protection), so not accepted; retry later' }],
        );
      case 'full':
        throw new RequestError(
          'REPLAY_CACHE_FULL',
          `too many signed requests: ${maxNonces} recent nonces are remembered (remote.maxNonces); retry later`,
          [{ path: '$.nonce', message: 'cannot be remembered now; retry after older requests expire' }],
        );
    }
  }

  private async dispatch(
    op: RequestOp,
    req: Record<string, unknown>,
  ): Promise<{ data: unknown; warnings: readonly LabelWarning[] }> {
    switch (op) {
      case 'labels/get':
        return { data: this.state, warnings: [] };
      case 'labels/test': {
        const labels = req.labels as LabelConfig[];
        this.checkLabels(labels, '$.labels', labels);
        // Scored, never applied: nothing of it is written to disk (issue 14).
        const built = await this.deps.build(labels, { persist: false });
        return {
          data: { hash: built.hash, result: this.deps.evaluate(built, labels) },
          warnings: built.warnings ?? [],
        };
      }
      case 'labels/set': {
        this.checkVersion(req.ifVersion);
        const labels = req.labels as LabelConfig[];
        this.checkLabels(labels, '$.labels', labels);
        return this.commit(labels);
      }
      case 'labels/patch': {
        this.checkVersion(req.ifVersion);
        const { add, replace, remove } = req as LabelsPatchRequest;
        if (!add?.length && !replace?.length && !remove?.length) {
          // Nothing to change: answered ok with the current version, which does not move (issue 14).
          const names = this.state.labels.map((l) => l.name);
          return {
            data: {
              version: this.state.version,
              hash: this.state.hash,
              labels: names,
              added: [],
              removed: [],
            },
            warnings: [],
          };
        }
        return this.commit(this.patched(req));
      }
    }
  }

  private checkVersion(ifVersion: unknown): void {
    if (typeof ifVersion === 'number' && ifVersion !== this.state.version) {
      throw new RequestError(
        'VERSION_CONFLICT',
        `label set is at version ${this.state.version}, not ${ifVersion}`,
        [{ path: '$.ifVersion', message: `current version is ${this.state.version}` }],
      );
    }
  }

  private patched(req: LabelsPatchRequest): LabelConfig[] {
    const problems: Problem[] = [];
    const byName = new Map(this.state.labels.map((l) => [l.name, l]));
    (req.remove ?? []).forEach((name, i) => {
      if (!byName.delete(name)) problems.push({ path: `$.remove[${i}]`, message: `no label "${name}"` });
    });
    (req.replace ?? []).forEach((l, i) => {
      if (!byName.has(l.name))
        problems.push({ path: `$.replace[${i}].name`, message: `no label "${l.name}"` });
      else byName.set(l.name, l);
    });
    (req.add ?? []).forEach((l, i) => {
      if (byName.has(l.name))
        problems.push({ path: `$.add[${i}].name`, message: `label "${l.name}" exists` });
      else byName.set(l.name, l);
    });
    if (problems.length > 0)
      throw new RequestError('REQUEST_INVALID', 'invalid labels/patch request', problems);
    const labels = [...byName.values()];
    this.checkLabels(req.add ?? [], '$.add', labels);
    this.checkLabels(req.replace ?? [], '$.replace', labels);
    return labels;
  }

  /** Limits and cross-field rules on `given` (reported under `at`); count checked on `result`. */
  private checkLabels(given: readonly LabelConfig[], at: string, result: readonly LabelConfig[]): void {
    const { maxLabels, maxPromptChars } = this.deps.limits;
    const problems: Problem[] = [];
    if (result.length > maxLabels)
      problems.push({
        path: at,
        message: `${result.length} labels, more than remote.maxLabels (${maxLabels})`,
      });
    const seen = new Set<string>();
    given.forEach((l, i) => {
      if (seen.has(l.name))
        problems.push({ path: `${at}[${i}].name`, message: `duplicate label "${l.name}"` });
      seen.add(l.name);
      l.prompts.forEach((p, j) => {
        if (p.length > maxPromptChars)
          problems.push({
            path: `${at}[${i}].prompts[${j}]`,
            message: `longer than remote.maxPromptChars (${maxPromptChars})`,
          });
      });
      if (l.offThreshold !== undefined && l.threshold !== undefined && l.offThreshold > l.threshold)
        problems.push({ path: `${at}[${i}].offThreshold`, message: 'must not exceed threshold' });
      const examples = (l as { examples?: { file?: string }[] }).examples ?? [];
      examples.forEach((ex, j) => {
        // A remote request must not make the agent read local files.
        if (ex.file !== undefined)
          problems.push({
            path: `${at}[${i}].examples[${j}].file`,
            message: 'not allowed remotely; send base64',
          });
      });
    });
    if (problems.length > 0)
      throw new RequestError('REQUEST_INVALID', `invalid labels: ${problems.length} problem(s)`, problems);
  }

  /** Embeddings first, then persist (next version), then swap. Any failure leaves all as it was. */
  private async commit(labels: LabelConfig[]): Promise<{ data: unknown; warnings: readonly LabelWarning[] }> {
    const built = await this.deps.build(labels);
    const version = this.state.version + 1;
    const next: LabelsPayload = {
      version,
      hash: built.hash,
      source: 'remote',
      updatedAt: this.now().toISOString(),
      labels,
    };
    try {
      this.deps.store.save({ version, hash: built.hash, updatedAt: next.updatedAt, labels });
    } catch (err) {
      throw new RequestError('PERSIST_FAILED', `cannot persist labels: ${(err as Error).message}`, [
        { path: '$', message: (err as Error).message },
      ]);
    }
    const newNames = new Set(labels.map((l) => l.name));
    const removed = this.state.labels.map((l) => l.name).filter((n) => !newNames.has(n));
    const added = labels.map((l) => l.name).filter((n) => !this.state.labels.some((l) => l.name === n));
    this.deps.apply(built, labels, removed);
    this.state = next;
    this.deps.logger.info(
      { version, hash: built.hash.slice(0, 12), added, removed },
      `labels: version ${version} applied (${labels.length} labels; +${added.length} -${removed.length})`,
    );
    this.deps.onChange?.(next, removed);
    const warnings = built.warnings ?? [];
    for (const w of warnings) this.deps.logger.warn({ code: w.code, label: w.label }, w.message);
    return {
      data: { version, hash: built.hash, labels: labels.map((l) => l.name), added, removed },
      warnings,
    };
  }
}
