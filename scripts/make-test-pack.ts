/**
 * Writes a test model pack (ImageBind signatures, random weights).
 *   tsx scripts/make-test-pack.ts --out DIR [--size tiny|reference] [--seed N]
 */
import { parseArgs } from 'node:util';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { generateTestPack } from '../src/encoders/test-pack.js';

const USAGE = 'usage: tsx scripts/make-test-pack.ts --out DIR [--size tiny|reference] [--seed N]';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: 'string' },
        size: { type: 'string', default: 'tiny' },
        seed: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const { out, size } = values;
  const seed = Number(values.seed);
  if (
    !out ||
    (size !== 'tiny' && size !== 'reference') ||
    !Number.isInteger(seed) ||
    seed < 0 ||
    seed > 0xffffffff
  ) {
    console.error(USAGE);
    return 2;
  }
  const t0 = performance.now();
  const manifest = await generateTestPack(out, { seed, size });
  let total = 0;
  for (const [modality, spec] of Object.entries(manifest.encoders)) {
    if (!spec) continue;
    const { size: bytes } = await stat(join(out, spec.file));
    total += bytes;
    console.log(
      `${modality.padEnd(8)} ${spec.file.padEnd(12)} ${(bytes / 1e6).toFixed(2).padStart(9)} MB  ${spec.sha256}`,
    );
  }
  console.log(
    `wrote ${manifest.id} ${manifest.version} to ${out}: ${(total / 1e6).toFixed(2)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return 0;
}

process.exitCode = await main();
