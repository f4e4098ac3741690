/**
 * The simulator's event classes and which sensor modalities can observe each one
 * (docs/simulator.md has the table with the physical reasoning).
 */
import type { SensorModality } from '../pipeline/types.js';

export const SIM_CLASSES = [
  'person_walking',
  'person_falling',
  'fire',
  'glass_breaking',
  'dog_barking',
  'alarm_beeping',
  'siren',
  'people_talking',
  'door_slam',
  'machine_vibration',
  'device_tampering',
  'empty_room',
] as const;
export type SimClass = (typeof SIM_CLASSES)[number];

/** Modalities whose signal carries the class (what a zero-shot evaluation may ask of them). */
export const OBSERVED_BY: Record<SimClass, readonly SensorModality[]> = {
  person_walking: ['audio', 'thermal', 'depth'],
  person_falling: ['audio', 'thermal', 'depth', 'imu'],
  fire: ['audio', 'thermal'],
  glass_breaking: ['audio'],
  dog_barking: ['audio', 'thermal', 'depth'],
  alarm_beeping: ['audio'],
  siren: ['audio'],
  people_talking: ['audio', 'thermal', 'depth'],
  door_slam: ['audio', 'imu'],
  machine_vibration: ['audio', 'imu'],
  device_tampering: ['audio', 'thermal', 'depth', 'imu'],
  empty_room: ['audio', 'thermal', 'depth', 'imu'],
};

export function observableClasses(modality: SensorModality): SimClass[] {
  return SIM_CLASSES.filter((c) => OBSERVED_BY[c].includes(modality));
}

export function isSimClass(name: string): name is SimClass {
  return (SIM_CLASSES as readonly string[]).includes(name);
}

/** Classes that happen at an instant (their interval is the aftermath the sensors still show). */
export const TRANSIENT: ReadonlySet<SimClass> = new Set(['glass_breaking', 'door_slam', 'person_falling']);
