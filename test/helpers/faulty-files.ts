/**
 * A FileLayer (src/util/durable-file.ts) over the real node:fs that can act like a full disk, for
 * machines where no small tmpfs can be mounted: while `full`, anything that needs new space fails
 * with ENOSPC as the kernel reports it (a short write first when `shortWriteBytes` is set), while
 * rewriting bytes that already exist, truncating, reading, opening and unlinking still work.
 */
import { nodeFiles, type FileLayer } from '../../src/util/durable-file.js';

export function enospc(syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), {
    code: 'ENOSPC',
    errno: -28,
    syscall,
  });
}

export class FaultyFiles implements FileLayer {
  /** The disk is full: new bytes are refused. */
  full = false;
  /** While full, the next write that needs space first writes this many bytes (a short write). */
  shortWriteBytes = 0;
  /** ENOSPC failures so far. */
  failures = 0;

  open(path: string, flags: 'a' | 'r+' | 'w'): number {
    return nodeFiles.open(path, flags);
  }

  write(fd: number, data: Uint8Array, offset: number, position?: number): number {
    if (this.full) {
      const size = nodeFiles.size(fd);
      const inPlace = position !== undefined && position + (data.length - offset) <= size;
      if (!inPlace) {
        if (this.shortWriteBytes > 0) {
          const n = Math.min(this.shortWriteBytes, data.length - offset);
          this.shortWriteBytes = 0;
          return nodeFiles.write(fd, data.subarray(0, offset + n), offset, position);
        }
        this.failures++;
        throw enospc('write');
      }
    }
    return nodeFiles.write(fd, data, offset, position);
  }

  datasync(fd: number): void {
    nodeFiles.datasync(fd);
  }
  fsync(fd: number): void {
    nodeFiles.fsync(fd);
  }
  truncate(fd: number, length: number): void {
    nodeFiles.truncate(fd, length);
  }
  size(fd: number): number {
    return nodeFiles.size(fd);
  }
  close(fd: number): void {
    nodeFiles.close(fd);
  }
  read(path: string): Buffer | undefined {
    return nodeFiles.read(path);
  }
  mkdir(path: string): void {
    nodeFiles.mkdir(path);
  }
  list(dir: string): string[] {
    return nodeFiles.list(dir);
  }
  rename(from: string, to: string): void {
    nodeFiles.rename(from, to);
  }
  unlink(path: string): void {
    nodeFiles.unlink(path);
  }
}
