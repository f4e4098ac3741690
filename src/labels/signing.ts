/**
 * Ed25519 signatures over requests (node:crypto). The signed bytes are
 *
 *   "edgebind-request\n" + op + "\n" + canonicalJson(request without `signature`)
 *
 * where canonicalJson sorts object keys and has no whitespace, so any JSON encoder can reproduce
 * it. The op is signed too, so a signed labels/get cannot be replayed as labels/set.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

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

/** Signs a request (tools and tests); returns it with `signature` set. */
export function signRequest<T extends Record<string, unknown>>(
  op: string,
  request: T,
  keyId: string,
  privateKeyPem: string,
): T & { signature: { keyId: string; value: string } } {
  const value = sign(null, signedBytes(op, request), createPrivateKey(privateKeyPem)).toString('base64');
  return { ...request, signature: { keyId, value } };
}
