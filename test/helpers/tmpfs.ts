/**
 * A real size-limited tmpfs for full-disk tests (issue #14). Mounting needs root (or
 * CAP_SYS_ADMIN); where the machine refuses, `mountTmpfs` says so and the test falls back to
 * injecting ENOSPC through the outbox's file layer (test/helpers/faulty-files.ts). A missing
 * `mount` binary is an error, never a silent skip. `EDGEBIND_TEST_NO_TMPFS=1` takes the fallback.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import { findExecutable } from './mosquitto.js';

export interface Tmpfs {
  readonly dir: string;
  /** Bytes still free for an unprivileged writer. */
  free(): number;
  unmount(): void;
}

/** Mounts a tmpfs of `sizeBytes` on `dir`; `{ refused }` when this machine does not allow it. */
export function mountTmpfs(dir: string, sizeBytes: number): Tmpfs | { refused: string } {
  const mount = findExecutable('mount', 'mount');
  const umount = findExecutable('umount', 'mount');
  mkdirSync(dir, { recursive: true });
  // Lets a machine that can mount run the fallback path too.
  if (process.env.EDGEBIND_TEST_NO_TMPFS) return { refused: 'EDGEBIND_TEST_NO_TMPFS is set' };
  try {
    execFileSync(mount, ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return { refused: (e.stderr?.toString() || e.message).trim() };
  }
  let mounted = true;
  return {
    dir,
    free: () => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    unmount: () => {
      if (!mounted) return;
      execFileSync(umount, ['-l', dir]);
      mounted = false;
    },
  };
}
