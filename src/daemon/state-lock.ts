/**
 * One agent per state directory: `<stateDir>/edgebind.lock` holds `{pid, startedAt, host, bootId}`
 * of the agent using it. Two agents on one stateDir would both append to and compact the durable
 * outbox (src/mqtt/outbox.ts), corrupting it, sending events twice or losing them.
 *
 * The lock is created with O_EXCL. An existing one is honoured while its pid runs on this host;
 * one left by a dead process, an earlier boot, or an unreadable file is taken over with a warning.
 * A takeover writes a temp file and renames it over the lock under a second O_EXCL file
 * (`edgebind.lock.takeover`), so two agents starting together against a stale lock cannot both
 * win. Release removes the file only while it is still ours.
 *
 * Why not proper-lockfile: it judges staleness by an mtime that a timer refreshes, so a crashed
 * agent blocks restarts until the lock ages out, and a busy event loop (inference) can make a live
 * lock look stale. A pid says at once whether the holder lives.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { StateLockedError, type LockOwner } from '../errors.js';

export const LOCK_FILE = 'edgebind.lock';

/**
 * What the lock file says about its holder. Defined beside `StateLockedError`, which carries it, so
 * errors.ts imports nothing (issue 16).
 */
export type { LockOwner };

export interface StateLock {
  /** Absolute path of the lock file. */
  readonly file: string;
  readonly owner: LockOwner;
  /**
   * Removes the lock file if it still holds our content; idempotent. Synchronous so a process
   * `exit` handler can call it. Returns whether it removed the file.
   */
  release(): boolean;
}

export interface StateLockOptions {
  /** Warns on takeovers. */
  logger?: Logger;
  /**
   * An unreadable lock file younger than this may be one whose creator has not written it yet, so
   * it is re-read until it is this old before it is taken over. Default 1000 ms.
   */
  garbageGraceMs?: number;
  /** A takeover guard older than this was left by a crash and is removed. Default 2000 ms. */
  guardStaleMs?: number;
  /** Longest wait for a concurrent takeover or a lock file being written. Default 5000 ms. */
  timeoutMs?: number;
}

/** Lock files this process holds: its own pid in a lock file is live only if listed here. */
const held = new Set<string>();

export async function acquireStateLock(stateDir: string, opts: StateLockOptions = {}): Promise<StateLock> {
  const dir = resolve(stateDir);
  const file = join(dir, LOCK_FILE);
  const garbageGraceMs = opts.garbageGraceMs ?? 1000;
  const guardStaleMs = opts.guardStaleMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const host = hostname();
  const bootId = readBootId();
  const owner: LockOwner = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    host,
    ...(bootId !== undefined ? { bootId } : {}),
  };
  const text = `${JSON.stringify(owner)}\n`;
  const guard = `${file}.takeover`;

  await mkdir(dir, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await create();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const seen = await readLock(file);
    if (seen === undefined) continue; // released between our create and our read
    if (seen.owner) {
      const why = staleReason(seen.owner);
      if (why === undefined) throw lockedError(seen.owner);
      if (await takeOver(seen.text)) {
        opts.logger?.warn(
          { file, stale: seen.owner },
          `taking over a stale lock: pid ${seen.owner.pid} on ${seen.owner.host} (since ${seen.owner.startedAt}) ${why}`,
        );
        return hold(true);
      }
    } else if (Date.now() - seen.mtimeMs >= garbageGraceMs || Date.now() >= deadline) {
      if (await takeOver(seen.text)) {
        opts.logger?.warn(
          { file, content: seen.text.slice(0, 200) },
          `taking over an unreadable lock file ${file}`,
        );
        return hold(true);
      }
    }
    if (Date.now() >= deadline)
      throw new StateLockedError(
        dir,
        file,
        `${dir}: could not take ${file} within ${timeoutMs} ms: another edgebind is starting on this ` +
          `state directory or taking it over (${guard} exists). Try again; if no edgebind is starting, ` +
          `delete ${guard}.`,
      );
    await sleep(20 + Math.random() * 30);
  }

  function staleReason(o: LockOwner): string | undefined {
    // Another host's pids cannot be checked from here; its agent may well be running.
    if (o.host !== host) return undefined;
    if (o.bootId !== undefined && bootId !== undefined && o.bootId !== bootId)
      return 'is from an earlier boot';
    if (o.pid === process.pid) return held.has(file) ? undefined : 'was this pid in an earlier process';
    return pidAlive(o.pid) ? undefined : 'is not running';
  }

  function lockedError(o: LockOwner): StateLockedError {
    const who = `pid ${o.pid} on host ${o.host}, since ${o.startedAt}`;
    const resolution =
      o.host === host
        ? `Stop that agent first (systemctl stop edgebind, or kill ${o.pid}), or give this one its own ` +
          `stateDir in its config. If pid ${o.pid} is not an edgebind, delete ${file}.`
        : `This host cannot check a process on ${o.host}. Stop that agent, or give this one its own ` +
          `stateDir; if no edgebind runs on ${o.host}, delete ${file}.`;
    return new StateLockedError(
      dir,
      file,
      `${dir} is in use by another edgebind (${who}); two agents on one state directory would corrupt ` +
        `its outbox. ${resolution}`,
      o,
    );
  }

  /** Replaces the lock if it still reads `staleText`; false when someone else got there first. */
  /**
   * O_EXCL create, then the owner. On a full disk (issue #14) creating the file still works (an
   * inode, no data block), so the lock is ours though its owner cannot be written yet: it is
   * written in place as soon as space returns. Meanwhile another agent cannot take it over either,
   * since that needs the same space.
   */
  async function create(): Promise<StateLock> {
    const fh = await open(file, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      return hold(true);
    } catch (err) {
      if (!isDiskFull(err)) {
        await unlink(file).catch(() => undefined);
        throw err;
      }
      opts.logger?.warn(
        { file, code: (err as NodeJS.ErrnoException).code },
        `state disk full: ${file} is taken but its owner cannot be written yet (${(err as Error).message}); ` +
          `writing it once space returns`,
      );
      return hold(false);
    } finally {
      await fh.close();
    }
  }

  async function takeOver(staleText: string): Promise<boolean> {
    try {
      // Empty: creating it needs no data block, so a takeover works on a full disk too.
      await writeFile(guard, '', { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another agent is taking over right now; a guard that outlived any takeover is a crash's.
      const st = await stat(guard).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > guardStaleMs) await unlink(guard).catch(() => undefined);
      return false;
    }
    try {
      const now = await readFile(file, 'utf8').catch(() => undefined);
      if (now !== staleText) return false; // replaced or removed since we judged it
      const tmp = `${file}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await writeFile(tmp, text);
        await rename(tmp, file);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        if (!isDiskFull(err)) throw err;
        // A full disk: overwrite the stale lock in place, in the block it already has (we hold the
        // guard, so no other agent writes it meanwhile).
        try {
          overwrite(file, text);
        } catch (again) {
          throw new Error(
            `${file}: cannot take over the stale lock, the state disk is full (${(again as Error).message}); ` +
              `free some space on it`,
            { cause: again },
          );
        }
      }
      return (await readFile(file, 'utf8')) === text;
    } finally {
      await unlink(guard).catch(() => undefined);
    }
  }

  function hold(written: boolean): StateLock {
    held.add(file);
    let released = false;
    let retry: NodeJS.Timeout | undefined;
    if (!written) {
      retry = setInterval(() => {
        try {
          if (readFileSync(file, 'utf8') !== '') return clearInterval(retry); // no longer ours
          overwrite(file, text);
          written = true;
          clearInterval(retry);
          opts.logger?.info({ file }, `state disk has space again: wrote the owner into ${file}`);
        } catch {
          // still full; try again
        }
      }, 1000);
      retry.unref();
    }
    return {
      file,
      owner,
      release() {
        if (released) return false;
        released = true;
        clearInterval(retry);
        held.delete(file);
        try {
          const now = readFileSync(file, 'utf8');
          if (now !== text && (written || now !== '')) return false;
          unlinkSync(file);
          return true;
        } catch {
          return false;
        }
      },
    };
  }
}

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Replaces a file's content in place (no new file, so no new inode or directory entry). */
function overwrite(file: string, text: string): void {
  const fd = openSync(file, 'r+');
  try {
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}

/** The lock file's content; `owner` unset when it is not a lock we can read (garbage). */
async function readLock(
  file: string,
): Promise<{ text: string; mtimeMs: number; owner: LockOwner | undefined } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { text, mtimeMs: st.mtimeMs, owner: parseOwner(text) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function parseOwner(text: string): LockOwner | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  // pid 0 or negative would signal a process group in pidAlive().
  if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0) return undefined;
  if (typeof o.startedAt !== 'string' || typeof o.host !== 'string') return undefined;
  if (o.bootId !== undefined && typeof o.bootId !== 'string') return undefined;
  return {
    pid: o.pid as number,
    startedAt: o.startedAt,
    host: o.host,
    ...(o.bootId !== undefined ? { bootId: o.bootId } : {}),
  };
}

/** Signal 0 checks existence; EPERM means it exists under another user. */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
