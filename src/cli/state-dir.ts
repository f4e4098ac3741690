/**
 * Which device's data a read-only command (`history`, `clips`) reads from an agent's state
 * directory: `--device-id`, or the only device that has the data. Several agents may share one
 * stateDir (one directory per device), so guessing among several is refused.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';

/**
 * `<stateDir>/devices/<id>`: of `deviceId`, or of the only device that has `sub` (e.g. `clips`).
 * `none` makes the error for a state directory where no device has it.
 */
export async function deviceDir(
  stateDir: string,
  deviceId: string | undefined,
  sub: string,
  none: (devices: string) => Error,
): Promise<string> {
  const devices = join(stateDir, 'devices');
  if (deviceId !== undefined) return join(devices, deviceId);
  const ids: string[] = [];
  for (const id of await readdir(devices).catch(() => [] as string[])) {
    const has = await readdir(join(devices, id)).then(
      (names) => names.includes(sub),
      () => false,
    );
    if (has) ids.push(id);
  }
  if (ids.length === 1) return join(devices, ids[0]!);
  if (ids.length === 0) throw none(devices);
  throw new InvalidArgumentError(
    `${stateDir} holds ${sub} of several devices (${ids.join(', ')}): give --device-id`,
  );
}
