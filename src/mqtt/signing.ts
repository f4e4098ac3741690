/**
 * Ed25519 signatures over requests (node:crypto). The signed bytes are
 *
 *   "edgebind-request\n" + op + "\n" + canonicalJson(request without `signature`)
 *
 * where canonicalJson sorts object keys and has no whitespace, so any JSON encoder can reproduce
 * it. The op is signed too, so a signed labels/get cannot be replayed as labels/set. A signed
 * request also carries `target` (the device or group it is addressed to; the agent refuses it on
 * any other topic), `issuedAt` and `nonce`, all signed with the rest; `ReplayGuard` refuses it when
 * it is too old, too far ahead, or its nonce was already seen, so a captured request can neither be
 * sent again later (e.g. an old labels/set to roll the labels back) nor to another device.
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/durable-file.js';

/** A nonce: 8 to 64 of `A-Z a-z 0-9 _ -` (a UUID, or random bytes as hex or base64url). */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * Where a request is addressed: `device:<deviceId>` for `<base>/<deviceId>/request/<op>`,
 * `group:<group>` for `<base>/groups/<group>/request/<op>`. The kind keeps a device id from
 * matching a group of the same name. Why a body field the agent compares with the topic, not one
 * derived from the topic alone: signers sign the body as before, and a mismatch is answered
 * "addressed to X but arrived on Y" (REQUEST_MISDIRECTED) instead of a bare SIGNATURE_INVALID.
 */
export type RequestTarget = `device:${string}` | `group:${string}`;

/** A `target`: `device:` or `group:`, then 1 to 64 characters that are not `/`, `+` or `#`. */
export const TARGET_PATTERN = /^(device|group):[^/+#]{1,64}$/;

export const deviceTarget = (deviceId: string): RequestTarget => `device:${deviceId}`;
export const groupTarget = (group: string): RequestTarget => `group:${group}`;

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function signedBytes(op: string, request: Record<string, unknown>): Buffer {
  const { signature: _ignored, ...rest } = request;
  return Buffer.from(`edgebind-request\n${op}\n${canonicalJson(rest)}`, 'utf8');
}

/** Ed25519 SPKI DER prefix for a raw 32-byte public key. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Parses a PEM (SPKI) key or base64 of the raw 32 bytes; throws TypeError when it is neither. */
export function parsePublicKey(text: string): KeyObject {
  const t = text.trim();
  const key = t.startsWith('-----BEGIN')
    ? createPublicKey(t)
    : (() => {
        const raw = Buffer.from(t, 'base64');
        if (raw.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes (base64) or PEM');
        return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
      })();
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
  return key;
}

export function verifyRequest(
  op: string,
  request: Record<string, unknown>,
  signatureB64: string,
  key: KeyObject,
): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length !== 64) return false;
  try {
    return verify(null, signedBytes(op, request), key, sig);
  } catch {
    return false;
  }
}

export interface SignOptions {
  /** Where the request will be published: `device:<deviceId>` or `group:<group>`. */
  target: RequestTarget;
  /** Id of the key in the devices' remote.publicKeys. */
  keyId: string;
  /** The Ed25519 private key, PEM (PKCS#8). */
  privateKeyPem: string;
}

/**
 * Signs a request (tools and tests); returns it with `target`, `issuedAt` (now, ms since the Unix
 * epoch), a fresh random `nonce` and `signature` set. An `issuedAt` or `nonce` already in `request`
 * is kept; a `target` in `request` other than `opts.target` is a TypeError.
 */
export function signRequest<T extends Record<string, unknown>>(
  op: string,
  request: T,
  opts: SignOptions,
): T & {
  target: RequestTarget;
  issuedAt: number;
  nonce: string;
  signature: { keyId: string; value: string };
} {
  if (request.target !== undefined && request.target !== opts.target)
    throw new TypeError(
      `signRequest: request.target is ${JSON.stringify(request.target)} but opts.target is "${opts.target}"`,
    );
  if (!TARGET_PATTERN.test(opts.target))
    throw new TypeError(
      `signRequest: target must be "device:<deviceId>" or "group:<group>", not "${opts.target}"`,
    );
  const stamped = {
    issuedAt: Date.now(),
    nonce: randomBytes(16).toString('base64url'),
    ...request,
    target: opts.target,
  };
  const key = createPrivateKey(opts.privateKeyPem);
  const value = sign(null, signedBytes(op, stamped), key).toString('base64');
  return { ...stamped, signature: { keyId: opts.keyId, value } };
}

export interface ReplayGuardOptions {
  /** Largest |device time − issuedAt| accepted, ms; a nonce is remembered that long past issuedAt. */
  maxAgeMs: number;
  /** Most nonces remembered at once; when full, new requests are refused (never forgotten early). */
  maxEntries: number;
  /**
   * Where accepted nonces are also written, so that a request captured before a restart is
   * refused after it too (issue 14); in memory only when omitted.
   */
  log?: NonceLog;
}

/** A durable record of accepted nonces: `key` (keyId + "\n" + nonce) and its expiry, ms. */
export interface NonceLog {
  /** Every entry recorded and not yet expired at `nowMs`. */
  load(nowMs: number): { key: string; expiryMs: number }[];
  /** Records one entry durably before the request it belongs to is accepted; throws when it cannot. */
  append(key: string, expiryMs: number): void;
  /** Replaces the whole record with `entries` (compaction). */
  rewrite(entries: Iterable<[string, number]>): void;
}

/**
 * The nonce record as an append-only file of `<expiryMs> <keyId> <nonce>` lines, fsynced per
 * accepted request (signed requests are rare: only holders of a key can make one). Compacted to
 * the unexpired entries at start and whenever it holds four times more lines than that. A torn
 * last line (a crash while appending) is skipped: its request was never accepted.
 */
export class FileNonceLog implements NonceLog {
  private lines = 0;

  constructor(readonly file: string) {}

  load(nowMs: number): { key: string; expiryMs: number }[] {
    // Never fatal: an unreadable record starts empty, and then appends fail too, so signed
    // requests are refused (PERSIST_FAILED) rather than detection stopping.
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      // ENOENT: the first start.
    }
    const out: { key: string; expiryMs: number }[] = [];
    for (const line of text.split('\n')) {
      const m = /^(\d{1,16}) (\S{1,200}) ([A-Za-z0-9_-]{8,64})$/.exec(line);
      if (!m) continue;
      const expiryMs = Number(m[1]);
      if (expiryMs >= nowMs) out.push({ key: `${m[2]}\n${m[3]}`, expiryMs });
    }
    try {
      this.rewrite(out.map((e) => [e.key, e.expiryMs]));
    } catch {
      // A full disk: the old file, a superset, stays; compaction is retried later.
      this.lines = out.length;
    }
    return out;
  }

  append(key: string, expiryMs: number): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const fd = openSync(this.file, 'a', 0o600);
    try {
      writeSync(fd, `${expiryMs} ${key.replace('\n', ' ')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.lines++;
  }

  rewrite(entries: Iterable<[string, number]>): void {
    let text = '';
    this.lines = 0;
    for (const [key, expiryMs] of entries) {
      text += `${expiryMs} ${key.replace('\n', ' ')}\n`;
      this.lines++;
    }
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileAtomic(this.file, text);
  }

  /** Lines in the file since it was last rewritten. */
  get length(): number {
    return this.lines;
  }
}

export type ReplayVerdict =
  | { ok: true }
  /** `ageMs` < 0: issued in the future. */
  | { ok: false; reason: 'expired'; ageMs: number }
  | { ok: false; reason: 'replayed' }
  | { ok: false; reason: 'full' }
  /** The nonce could not be recorded durably (e.g. a full state disk); the request is refused. */
  | { ok: false; reason: 'unrecorded'; error: Error };

/**
 * Remembers the nonces of accepted signed requests until their `issuedAt` leaves the window; by
 * then the request itself is refused as expired. Bounded by `maxEntries`: a flood of (validly
 * signed) requests is refused rather than making it forget nonces whose requests are still fresh.
 * Call `admit` only after the signature checks, so forged requests cannot fill it.
 */
export class ReplayGuard {
  /** keyId + "\n" + nonce → expiry (issuedAt + maxAgeMs), ms since the epoch. */
  private readonly seen = new Map<string, number>();
  private soonestExpiryMs = Infinity;
  private sweptAtMs = -Infinity;

  constructor(private readonly opts: ReplayGuardOptions) {
    if (!(opts.maxAgeMs > 0) || !Number.isInteger(opts.maxEntries) || opts.maxEntries < 1)
      throw new TypeError('ReplayGuard: maxAgeMs must be > 0 and maxEntries an integer ≥ 1');
    for (const e of opts.log?.load(Date.now()) ?? []) {
      this.seen.set(e.key, e.expiryMs);
      this.soonestExpiryMs = Math.min(this.soonestExpiryMs, e.expiryMs);
    }
  }

  get size(): number {
    return this.seen.size;
  }

  /** Checks one request against the window and the nonces seen; records its nonce when accepted. */
  admit(req: { keyId: string; nonce: string; issuedAtMs: number }, nowMs: number): ReplayVerdict {
    const { maxAgeMs, maxEntries } = this.opts;
    const ageMs = nowMs - req.issuedAtMs;
    // Written so that NaN (no usable issuedAt) counts as expired.
    if (!(Math.abs(ageMs) <= maxAgeMs)) return { ok: false, reason: 'expired', ageMs };
    // Sweep when something has expired and the cache is full, or at most once a second otherwise.
    if (nowMs > this.soonestExpiryMs && (this.seen.size >= maxEntries || nowMs - this.sweptAtMs >= 1000))
      this.sweep(nowMs);
    const key = `${req.keyId}\n${req.nonce}`;
    const expiry = this.seen.get(key);
    if (expiry !== undefined && expiry >= nowMs) return { ok: false, reason: 'replayed' };
    if (expiry === undefined && this.seen.size >= maxEntries) return { ok: false, reason: 'full' };
    const until = req.issuedAtMs + maxAgeMs;
    const log = this.opts.log;
    if (log) {
      try {
        if (log instanceof FileNonceLog && log.length > 4 * Math.max(this.seen.size, 16)) {
          this.sweep(nowMs);
          log.rewrite(this.seen);
        }
        log.append(key, until);
      } catch (err) {
        return { ok: false, reason: 'unrecorded', error: err as Error };
      }
    }
    this.seen.set(key, until);
    this.soonestExpiryMs = Math.min(this.soonestExpiryMs, until);
    return { ok: true };
  }

  private sweep(nowMs: number): void {
    let soonest = Infinity;
    for (const [key, expiry] of this.seen) {
      if (expiry < nowMs) this.seen.delete(key);
      else soonest = Math.min(soonest, expiry);
    }
    this.soonestExpiryMs = soonest;
    this.sweptAtMs = nowMs;
  }
}
