/**
 * Named scenarios: a timeline of events in one room, deterministic per seed.
 * `demo` is the scripted scene the bundled samples show; `random` strings together random
 * incidents of every class; each class name is a scene with just that class.
 */
import { SIM_CLASSES, isSimClass, type SimClass } from './classes.js';
import { Rng, hashSeed } from './random.js';
import { randomEvent, randomRoom, walkerX, type Scene, type SceneEvent } from './scene.js';

export const SCENARIOS = ['demo', 'random', ...SIM_CLASSES] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

/** How long a transient's aftermath interval lasts (what windows may still report it). */
const AFTERMATH_S: Partial<Record<SimClass, number>> = { glass_breaking: 2, door_slam: 1.5 };

export function buildScenario(name: ScenarioName, seed: number, durationS: number): Scene {
  const rng = new Rng(hashSeed(seed, name));
  const room = randomRoom(rng.fork('room'));
  const scene: Scene = { name, seed, durationS, room, events: [] };
  if (name === 'demo') scene.events = demoEvents(rng, durationS);
  else if (name === 'random') scene.events = randomEvents(rng, durationS);
  else if (isSimClass(name)) {
    if (name !== 'empty_room') {
      const start = Math.min(2, durationS / 4);
      const end = AFTERMATH_S[name] !== undefined ? start + AFTERMATH_S[name] : durationS;
      scene.events.push(randomEvent(name, start, end, rng));
    }
  }
  return scene;
}

/**
 * The demo script, scaled to `durationS` (written for 36 s): an empty room; someone walks in and
 * falls, and lies on the floor; a smoke alarm starts beeping; later a dog barks.
 */
function demoEvents(rng: Rng, durationS: number): SceneEvent[] {
  const k = durationS / 36;
  const walk = randomEvent('person_walking', 3 * k, 12 * k, rng);
  walk.x = 0.25;
  walk.speed = 0.06;
  walk.distM = 2.5;
  const fall = randomEvent('person_falling', 12 * k, 21 * k, rng);
  fall.x = walkerX(walk, 12 * k);
  fall.distM = walk.distM;
  fall.gain = 1.2;
  const alarm = randomEvent('alarm_beeping', 21 * k, 28 * k, rng);
  alarm.gain = 1;
  const dog = randomEvent('dog_barking', 30 * k, 36 * k, rng);
  dog.distM = 2.5;
  return [walk, fall, alarm, dog];
}

/** Incidents of random classes one after another, with quiet gaps between them. */
function randomEvents(rng: Rng, durationS: number): SceneEvent[] {
  const events: SceneEvent[] = [];
  let t = rng.uniform(2, 5);
  const classes = SIM_CLASSES.filter((c) => c !== 'empty_room');
  while (t < durationS - 6) {
    const cls = rng.pick(classes);
    const len = AFTERMATH_S[cls] ?? rng.uniform(6, 12);
    const end = Math.min(durationS - 1, t + len);
    events.push(randomEvent(cls, t, end, rng));
    t = end + rng.uniform(6, 12);
  }
  return events;
}
