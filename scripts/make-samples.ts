/**
 * Writes the bundled sample recordings in samples/ (the demo and tests replay them) with the scene
 * simulator (docs/simulator.md): its scripted `demo` scenario, 36 s in one room. An empty room;
 * someone walks in (3-12 s), falls and lies on the floor (12-21 s); a smoke alarm beeps
 * (21-28 s); a dog barks (30-36 s). samples/truth.json has the ground truth. Thermal at 2 Hz and
 * depth at 1 Hz keep the files small; deterministic: same bytes on every run.
 *
 *   npx tsx scripts/make-samples.ts [--out samples]
 */
import { buildScenario } from '../src/sim/scenarios.js';
import { writeScene } from '../src/sim/simulate.js';

export const SAMPLES_SEED = 7;
export const SAMPLES_SECONDS = 36;

const out = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1]! : 'samples';
const scene = buildScenario('demo', SAMPLES_SEED, SAMPLES_SECONDS);
const truth = await writeScene(scene, out, {
  prefix: 'room-',
  camera: false,
  rates: { thermalHz: 2, depthHz: 1 },
});
console.log(
  `wrote samples to ${out}/: ${truth.events.map((e) => `${e.label} ${e.startS}-${e.endS} s`).join(', ')}`,
);
