/**
 * Mesa's software Vulkan driver for the WebGPU tests (issue #15), as scripts/lavapipe.sh leaves it
 * in .cache/lavapipe (scripts/test.sh runs that script). A process uses it only when started with
 * `lavapipeEnv()`: VK_ICD_FILENAMES names its ICD file, LD_LIBRARY_PATH its newer libdrm.
 *
 * In CI (`CI` set) a missing driver fails the test instead of skipping it: the WebGPU path must run
 * on every CI run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './agent-config.js';

export const LAVAPIPE_DIR = process.env.EDGEBIND_LAVAPIPE_DIR ?? join(REPO, '.cache/lavapipe');
const ICD = join(LAVAPIPE_DIR, 'lvp_icd.json');
const LIB = join(LAVAPIPE_DIR, 'lib');

/** Why lavapipe cannot be used here, or undefined when it can. */
export function lavapipeMissing(): string | undefined {
  if (!existsSync(ICD) || !existsSync(join(LIB, 'libvulkan_lvp.so')))
    return `no lavapipe in ${LAVAPIPE_DIR}: run scripts/lavapipe.sh (scripts/test.sh does)`;
  const { ICD: entry } = JSON.parse(readFileSync(ICD, 'utf8')) as { ICD: { library_path: string } };
  if (!existsSync(entry.library_path))
    return `${ICD} names ${entry.library_path}, which is gone: rerun scripts/lavapipe.sh`;
  const loader = ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) =>
    existsSync(join(d, 'libvulkan.so.1')),
  );
  if (!loader) return 'no Vulkan loader (libvulkan.so.1): apt-get install libvulkan1 (scripts/test.sh does)';
  return undefined;
}

/**
 * `test()` options for a test that needs lavapipe: run when it is there; in CI run anyway (and
 * fail on the assertion `assertLavapipe` makes); elsewhere skip with the reason.
 */
export function lavapipeTestOptions(): { skip?: string } {
  const missing = lavapipeMissing();
  return missing && !process.env.CI ? { skip: missing } : {};
}

export function assertLavapipe(): void {
  const missing = lavapipeMissing();
  if (missing) throw new Error(`WebGPU test cannot run: ${missing}`);
}

/** The environment of a child process that should see lavapipe as its only Vulkan driver. */
export function lavapipeEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const ld = base.LD_LIBRARY_PATH ? `${LIB}:${base.LD_LIBRARY_PATH}` : LIB;
  return { ...base, VK_ICD_FILENAMES: ICD, VK_DRIVER_FILES: ICD, LD_LIBRARY_PATH: ld };
}

/** The environment of a child process that should find no Vulkan driver at all. */
export function noVulkanEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const none = join(LAVAPIPE_DIR, 'no-such-driver.json');
  return { ...base, VK_ICD_FILENAMES: none, VK_DRIVER_FILES: none };
}
