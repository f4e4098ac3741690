/**
 * Crash-safe file replacement: write a temp file, fsync it, rename it over the target, fsync the
 * directory. After a crash (kill -9, power loss) the target is either the old or the new content,
 * never a mix or a truncated file. A write that fails (ENOSPC on a full disk) removes its temp
 * file, so failures leave nothing behind (issue #14).
 *
 * `FileLayer` is the narrow set of synchronous file calls the durable outbox makes; tests pass one
 * that wraps node:fs and injects faults (ENOSPC, short writes) where no tmpfs can be mounted.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface FileLayer {
  /** `a`: append (created 0600 if missing); `r+`: read-write, must exist; `w`: truncate or create 0600. */
  open(path: string, flags: 'a' | 'r+' | 'w'): number;
  /** Writes from `data[offset…]` at `position` (undefined: the current/append position); bytes written. */
  write(fd: number, data: Uint8Array, offset: number, position?: number): number;
  datasync(fd: number): void;
  /**
   * fdatasync on libuv's thread pool, off the event loop (the outbox's group commit, issue #19);
   * `done` gets the error, or null. Absent: the outbox calls `datasync` on a later turn instead.
   */
  datasyncAsync?(fd: number, done: (err: Error | null) => void): void;
  fsync(fd: number): void;
  truncate(fd: number, length: number): void;
  size(fd: number): number;
  close(fd: number): void;
  /** The whole file, or undefined when it does not exist. */
  read(path: string): Buffer | undefined;
  mkdir(path: string): void;
  list(dir: string): string[];
  rename(from: string, to: string): void;
  unlink(path: string): void;
}

export const nodeFiles: FileLayer = {
  open: (path, flags) => openSync(path, flags, 0o600),
  write: (fd, data, offset, position) => writeSync(fd, data, offset, data.length - offset, position ?? null),
  datasync: (fd) => fdatasyncSync(fd),
  datasyncAsync: (fd, done) => fdatasync(fd, (err) => done(err)),
  fsync: (fd) => fsyncSync(fd),
  truncate: (fd, length) => ftruncateSync(fd, length),
  size: (fd) => fstatSync(fd).size,
  close: (fd) => closeSync(fd),
  read: (path) => {
    try {
      return readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  mkdir: (path) => void mkdirSync(path, { recursive: true }),
  list: (dir) => readdirSync(dir),
  rename: (from, to) => renameSync(from, to),
  unlink: (path) => unlinkSync(path),
};

/** Writes all of `data` at the current position of `fd`, looping over short writes. */
export function writeAll(files: FileLayer, fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += files.write(fd, data, off);
}

/** The temp file name `writeFileAtomic` uses for `file` (`.<name>.<pid>.tmp` beside it). */
export function atomicTempName(file: string, pid = process.pid): string {
  return join(dirname(file), `.${basename(file)}.${pid}.tmp`);
}

export function writeFileAtomic(file: string, data: string | Uint8Array, files: FileLayer = nodeFiles): void {
  const dir = dirname(file);
  files.mkdir(dir);
  const tmp = atomicTempName(file);
  try {
    const fd = files.open(tmp, 'w');
    try {
      writeAll(files, fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      files.fsync(fd);
    } finally {
      files.close(fd);
    }
    files.rename(tmp, file);
  } catch (err) {
    try {
      files.unlink(tmp);
    } catch {
      // never created, or already renamed
    }
    throw err;
  }
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
