/**
 * The request envelope (issue 16 item 3), as Zigbee2MQTT's bridge has it: size, JSON, the op, the
 * `transaction` to echo, the `target` against the topic it arrived on, the signature and, for a
 * signed request, its freshness (issuedAt, nonce); then the op's zod schema, and an op table that
 * hands the typed request to the label service (labels/service.ts), which applies the label rules.
 * A bad request is answered with every problem and its JSON path; nothing changes. Requests are
 * checked one at a time, so the nonce cache and label versions see them in order; label ops also
 * run in that turn, while history/search, labels/test with since and events/clip (read-only, issue
 * #18) run after their checks outside it, so that a scan of a day of history or a clip read does
 * not hold label requests back.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { RemoteConfig } from '../config/schema.js';
import { ConfigError, RequestError, type Problem } from '../errors.js';
import type { LabelWarning } from '../labels/coverage.js';
import type { HistoryOps } from '../history/service.js';
import type { ClipOps } from './clips.js';
import type { LabelOpResult, LabelOps } from '../labels/service.js';
import {
  REQUEST_OPS,
  REQUEST_SCHEMAS,
  transactionOf,
  type LabelsPayload,
  type LabelWarningPayload,
  type RequestOp,
  type ResponsePayload,
} from './payloads.js';
import {
  FileNonceLog,
  NONCE_PATTERN,
  parsePublicKey,
  ReplayGuard,
  TARGET_PATTERN,
  verifyRequest,
  type RequestTarget,
} from './signing.js';

export type RequestLimits = Pick<
  RemoteConfig,
  'maxPayloadBytes' | 'requireSigned' | 'publicKeys' | 'maxRequestAgeS' | 'maxNonces' | 'maxPendingRequests'
>;

export interface RequestRouterDeps {
  labels: LabelOps;
  /** Answers history/search; absent, it is answered HISTORY_DISABLED. */
  history?: HistoryOps;
  /** Answers events/clip; absent, it is answered CLIPS_DISABLED. */
  clips?: ClipOps;
  limits: RequestLimits;
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

type Request<K extends RequestOp> = z.infer<(typeof REQUEST_SCHEMAS)[K]>;

type Services = Pick<RequestRouterDeps, 'labels' | 'history' | 'clips'>;

/** Each op and the service operation that answers it. */
const OPS: { [K in RequestOp]: (s: Services, req: Request<K>) => Promise<LabelOpResult> } = {
  'labels/get': (s) => Promise.resolve(s.labels.get()),
  'labels/test': (s, req) => s.labels.test(req),
  'labels/set': (s, req) => s.labels.set(req),
  'labels/patch': (s, req) => s.labels.patch(req),
  'history/search': async (s, req) => {
    if (!s.history)
      throw new RequestError('HISTORY_DISABLED', 'this device keeps no history (history.enabled is false)', [
        { path: '$', message: 'history.enabled is false in the agent config' },
      ]);
    return { ...(await s.history.search(req)), warnings: [] };
  },
  'events/clip': async (s, req) => {
    if (!s.clips)
      throw new RequestError('CLIPS_DISABLED', 'this device keeps no clips (clips.enabled is false)', [
        { path: '$', message: 'clips.enabled is false in the agent config' },
      ]);
    return { ...(await s.clips.clip(req)), warnings: [] };
  },
};

/**
 * Requests that change nothing and may take long run after their checks, outside the turn:
 * history/search, events/clip, and labels/test replaying the history (with since, issue #18).
 */
function outOfTurn(op: RequestOp, req: unknown): boolean {
  if (op === 'history/search' || op === 'events/clip') return true;
  const r = req as { since?: unknown; until?: unknown; sensors?: unknown };
  return op === 'labels/test' && (r.since !== undefined || r.until !== undefined || r.sensors !== undefined);
}

/** A busy answer echoes the transaction of a payload up to this size (parsed), not of larger ones. */
const BUSY_PARSE_BYTES = 1024;

export class RequestRouter {
  private queue: Promise<unknown> = Promise.resolve();
  /** Requests handed to `handle` and not yet answered. */
  private pending = 0;
  private busy = 0;
  private busyLoggedMs = -Infinity;
  private readonly keys = new Map<string, KeyObject>();
  private readonly now: () => Date;
  private readonly replay: ReplayGuard;

  constructor(private readonly deps: RequestRouterDeps) {
    this.now = deps.now ?? (() => new Date());
    for (const k of deps.limits.publicKeys) this.keys.set(k.id, parsePublicKey(k.key));
    this.replay = new ReplayGuard({
      maxAgeMs: deps.limits.maxRequestAgeS * 1000,
      maxEntries: deps.limits.maxNonces,
      ...(deps.nonceFile !== undefined ? { log: new FileNonceLog(deps.nonceFile) } : {}),
    });
  }

  /** The running label set (retained on `labels`, counted on `health`). */
  current(): LabelsPayload {
    return this.deps.labels.current();
  }

  /**
   * Handles one request; never throws. `arrivedOn` is the device or group whose request topic it
   * came on; a signed request must name the same one in its `target`.
   */
  handle(op: string, payload: Buffer, arrivedOn: RequestTarget): Promise<Reply> {
    // Requests wait in one queue (label ops in turn) and out-of-turn ones run beside it; without a
    // bound a flood would hold every payload in memory and queue up CPU for minutes.
    const max = this.deps.limits.maxPendingRequests;
    if (this.pending >= max) {
      this.busy++;
      const now = Date.now();
      if (now - this.busyLoggedMs >= 10_000) {
        this.busyLoggedMs = now;
        this.deps.logger.warn(
          { op: op.slice(0, 100), pending: this.pending, refused: this.busy },
          `request refused: ${max} requests are waiting or running (remote.maxPendingRequests); ${this.busy} refused so far`,
        );
      }
      // Only a small payload is parsed for its transaction: a flood costs no JSON parsing.
      const transaction = transactionOf(payload, BUSY_PARSE_BYTES);
      return Promise.resolve({
        status: 'error',
        data: {},
        error: `busy: ${max} requests are waiting or running (remote.maxPendingRequests); retry later`,
        code: 'REQUEST_BUSY',
        problems: [{ path: '$', message: `more than ${max} requests at once` }],
        ...(transaction !== undefined ? { transaction } : {}),
      });
    }
    this.pending++;
    const checked = this.queue.then(() => this.check(op, payload, arrivedOn));
    const run = checked.then((c) => ('reply' in c ? c.reply : c.run()));
    this.queue = checked
      .then((c) => ('outOfTurn' in c && c.outOfTurn ? undefined : run))
      .catch(() => undefined);
    const done = () => {
      this.pending--;
    };
    run.then(done, done);
    return run;
  }

  /** Requests refused REQUEST_BUSY since the start. */
  get busyRefused(): number {
    return this.busy;
  }

  /**
   * The names a `labels/patch` refers to, read from the raw request when its shape is wrong, so one
   * answer lists every problem (issue 17 item 10: a bad threshold beside a remove of an unknown
   * label was answered with the threshold only). Worded as the label service words them; paths the
   * schema already blamed are left out.
   */
  private patchNameProblems(obj: Record<string, unknown>, shape: readonly Problem[]): Problem[] {
    const existing = new Set(this.deps.labels.current().labels.map((l) => l.name));
    const blamed = new Set(shape.map((p) => p.path));
    const list = (key: string): unknown[] => (Array.isArray(obj[key]) ? (obj[key] as unknown[]) : []);
    const nameOf = (l: unknown) =>
      typeof l === 'object' && l !== null ? (l as { name?: unknown }).name : undefined;
    const out: Problem[] = [];
    const add = (path: string, message: string) => {
      if (!blamed.has(path)) out.push({ path, message });
    };
    list('remove').forEach((n, i) => {
      if (typeof n === 'string' && !existing.has(n)) add(`$.remove[${i}]`, `no label "${n}"`);
    });
    list('replace').forEach((l, i) => {
      const n = nameOf(l);
      if (typeof n === 'string' && !existing.has(n)) add(`$.replace[${i}].name`, `no label "${n}"`);
    });
    list('add').forEach((l, i) => {
      const n = nameOf(l);
      if (typeof n === 'string' && existing.has(n)) add(`$.add[${i}].name`, `label "${n}" exists`);
    });
    return out;
  }

  /** The envelope and schema checks: the error reply, or the op to run. Never throws. */
  private check(
    op: string,
    payload: Buffer,
    arrivedOn: RequestTarget,
  ): { reply: Reply } | { run: () => Promise<Reply>; outOfTurn: boolean } {
    let transaction: string | number | undefined;
    try {
      const obj = this.parse(payload);
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
        if (op === 'labels/patch') problems.push(...this.patchNameProblems(obj, problems));
        throw new RequestError(
          'REQUEST_INVALID',
          `invalid ${op} request: ${problems.length} problem(s)`,
          problems,
        );
      }
      const opFn = OPS[op as RequestOp] as (s: Services, req: unknown) => Promise<LabelOpResult>;
      const tx = transaction;
      return {
        outOfTurn: outOfTurn(op as RequestOp, parsed.data),
        run: async (): Promise<Reply> => {
          try {
            const { data, warnings } = await opFn(this.deps, parsed.data);
            return {
              status: 'ok',
              data,
              ...(warnings.length > 0 ? { warnings: warnings.map(wireWarning) } : {}),
              ...(tx !== undefined ? { transaction: tx } : {}),
            };
          } catch (err) {
            return this.refused(op, err, tx);
          }
        },
      };
    } catch (err) {
      return { reply: this.refused(op, err, transaction) };
    }
  }

  /** The error reply for a refused request (logged). */
  private refused(op: string, err: unknown, transaction: string | number | undefined): Reply {
    const e = asRequestError(err);
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

  /** Size, JSON, and a JSON object. */
  private parse(payload: Buffer): Record<string, unknown> {
    const { maxPayloadBytes } = this.deps.limits;
    if (payload.length > maxPayloadBytes) {
      throw new RequestError(
        'REQUEST_TOO_LARGE',
        `request is ${payload.length} bytes, more than ${maxPayloadBytes}`,
        [{ path: '$', message: `payload larger than remote.maxPayloadBytes (${maxPayloadBytes})` }],
      );
    }
    let raw: unknown;
    const text = payload.toString('utf8');
    // An empty payload is an empty request: `mosquitto_pub -n` on labels/get (issue 17 item 10).
    if (text.trim() === '') return {};
    try {
      raw = JSON.parse(text);
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
    return raw as Record<string, unknown>;
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
}

/**
 * Any failure as the response carries it. A label set that cannot be built (a ConfigError with
 * problems, or an encoder error) is LABELS_BUILD_FAILED; the old set keeps running.
 */
function asRequestError(err: unknown): RequestError {
  if (err instanceof RequestError) return err;
  if (err instanceof ConfigError)
    return new RequestError(
      'LABELS_BUILD_FAILED',
      err.message,
      err.problems.map((p) => ({ path: p.path ? `$.${p.path}` : '$', message: p.message })),
      { cause: err },
    );
  const message = (err as Error).message;
  return new RequestError('LABELS_BUILD_FAILED', message, [{ path: '$', message }], { cause: err });
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

/** A coverage warning as a response carries it (the list index is internal). */
function wireWarning(w: LabelWarning): LabelWarningPayload {
  const { index: _index, ...rest } = w;
  return rest;
}
