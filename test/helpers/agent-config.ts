/** Configs for tests that run the whole agent on the bundled samples. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { ConfigInput } from '../../src/config/schema.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLES = join(REPO, 'samples');

/** A temp dir shared by one test file (holds configs and the generated test pack). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `edgebind-${prefix}-`));
}

/** All four bundled recordings, replayed once as fast as the pipeline takes them. */
export function sampleConfig(overrides: Partial<ConfigInput> & { stateDir: string }): ConfigInput {
  const replay = { driver: 'replay' as const, speed: 0, loop: false, queueSize: 64 };
  return {
    deviceId: 'test-device',
    sensors: [
      { id: 'mic', modality: 'audio', file: join(SAMPLES, 'room-audio.wav'), ...replay },
      { id: 'thermal', modality: 'thermal', file: join(SAMPLES, 'room-thermal.ebf'), ...replay },
      { id: 'depth', modality: 'depth', file: join(SAMPLES, 'room-depth.ebf'), ...replay },
      { id: 'imu', modality: 'imu', file: join(SAMPLES, 'room-imu.ebf'), ...replay },
    ],
    labels: [
      { name: 'alarm_beeping', prompts: ['an alarm beeping'], modalities: ['audio'] },
      { name: 'dog_barking', prompts: ['a dog barking'], modalities: ['audio'] },
      { name: 'person', prompts: ['a person walking in a room'], modalities: ['thermal', 'depth'] },
      { name: 'machine_vibration', prompts: ['a machine vibrating'], modalities: ['imu'] },
    ],
    scoring: { threshold: 0.5 },
    events: { minWindows: 1, endWindows: 2, updateIntervalMs: 3000 },
    log: { level: 'warn' },
    ...overrides,
  };
}

/** One looping real-time mic replay and one label: a daemon that runs until it is stopped. */
export function loopingMicConfig(
  overrides: Partial<ConfigInput> & Pick<ConfigInput, 'deviceId' | 'stateDir' | 'mqtt'>,
): ConfigInput {
  return {
    sensors: [
      {
        id: 'mic',
        driver: 'replay',
        modality: 'audio',
        file: join(SAMPLES, 'room-audio.wav'),
        speed: 1,
        loop: true,
      },
    ],
    labels: [{ name: 'alarm_beeping', prompts: ['an alarm beeping'] }],
    log: { level: 'info' },
    ...overrides,
  };
}

/** The parts of examples/demo.yaml that tests change. */
export interface DemoConfig {
  encoders: { pack: string };
  sensors: { file: string }[];
  labels: { name: string; threshold?: number; offThreshold?: number }[];
  stateDir?: string;
}

/**
 * examples/demo.yaml as `dir/demo.yaml`, with absolute paths to the mini pack and the samples and
 * its own stateDir in `dir` (after `edit`, if given, has changed it); its path.
 */
export function localDemoConfig(dir: string, edit?: (cfg: DemoConfig) => void): string {
  const cfg = parse(readFileSync(join(REPO, 'examples/demo.yaml'), 'utf8')) as DemoConfig;
  cfg.encoders.pack = join(REPO, 'models/mini');
  for (const s of cfg.sensors) s.file = join(SAMPLES, s.file.replace('../samples/', ''));
  edit?.(cfg);
  cfg.stateDir = join(dir, 'state');
  const file = join(dir, 'demo.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
}

export function toYaml(cfg: ConfigInput): string {
  return stringify(cfg);
}

/**
 * The labels of `cfg` that one of its sensors can feed: a test that trims the sensors must trim
 * the labels too, since config load refuses a label no sensor could ever fire (issue 17 item 6).
 */
export function labelsHeardBy(cfg: ConfigInput): ConfigInput['labels'] {
  const have = new Set((cfg.sensors ?? []).map((s) => s.modality));
  return cfg.labels?.filter((l) => !l.modalities || l.modalities.some((m) => have.has(m)));
}
