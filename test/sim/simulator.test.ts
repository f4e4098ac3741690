import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SENSOR_MODALITIES } from '../../src/pipeline/types.js';
import { readFrameFileHeader } from '../../src/sensors/formats/frame-file.js';
import { decodeWav } from '../../src/sensors/formats/wav.js';
import { OBSERVED_BY, SIM_CLASSES, observableClasses } from '../../src/sim/classes.js';
import { makeSample } from '../../src/sim/dataset.js';
import { Recording } from '../../src/sim/recording.js';
import { renderAudio } from '../../src/sim/render-audio.js';
import { renderThermal } from '../../src/sim/render-images.js';
import { renderImu } from '../../src/sim/render-imu.js';
import { buildScenario } from '../../src/sim/scenarios.js';
import { writeScene } from '../../src/sim/simulate.js';
import { simulate } from '../../src/cli/commands/simulate.js';

const dir = await mkdtemp(join(tmpdir(), 'edgebind-sim-'));
after(() => rm(dir, { recursive: true, force: true }));

const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);

test('every class is observable by at least one modality, empty_room by all', () => {
  for (const c of SIM_CLASSES) assert.ok(OBSERVED_BY[c].length >= 1, c);
  assert.deepEqual([...OBSERVED_BY.empty_room].sort(), [...SENSOR_MODALITIES].sort());
  assert.equal(observableClasses('audio').length, SIM_CLASSES.length);
});

test('the same seed gives the same bytes; another seed differs', async () => {
  await simulate({ scenario: 'demo', seed: 3, seconds: 8, out: join(dir, 'a') });
  await simulate({ scenario: 'demo', seed: 3, seconds: 8, out: join(dir, 'b') });
  await simulate({ scenario: 'demo', seed: 4, seconds: 8, out: join(dir, 'c') });
  for (const f of ['audio.wav', 'thermal.ebf', 'depth.ebf', 'imu.ebf', 'camera.rgbf', 'truth.json']) {
    assert.deepEqual(await readFile(join(dir, 'a', f)), await readFile(join(dir, 'b', f)), f);
  }
  assert.notDeepEqual(
    await readFile(join(dir, 'a', 'audio.wav')),
    await readFile(join(dir, 'c', 'audio.wav')),
  );
});

test('streams are at their native rates and shapes, with ground truth', async () => {
  const scene = buildScenario('person_falling', 11, 10);
  const truth = await writeScene(scene, join(dir, 'fall'));
  const wav = decodeWav(await readFile(join(dir, 'fall', 'audio.wav')));
  assert.equal(wav.sampleRateHz, 16000);
  assert.equal(wav.channels[0]!.length, 160000);
  const th = await readFrameFileHeader(join(dir, 'fall', 'thermal.ebf'));
  assert.deepEqual(th.header.sampleShape, [24, 32]);
  assert.equal(th.header.unit, 'degC');
  const de = await readFrameFileHeader(join(dir, 'fall', 'depth.ebf'));
  assert.deepEqual(de.header.sampleShape, [60, 80]);
  const imu = await readFrameFileHeader(join(dir, 'fall', 'imu.ebf'));
  assert.deepEqual(imu.header.sampleShape, [6]);
  assert.equal(truth.events.length, 1);
  assert.equal(truth.events[0]!.label, 'person_falling');
  const rec = await Recording.open(join(dir, 'fall'));
  const w = rec.window('thermal', 5000, 1000)!;
  assert.deepEqual(w.shape, [4, 24, 32]);
  // Depth: invalid pixels are 0, valid ones are plausible room distances.
  const d = rec.window('depth', 5000, 1000)!;
  assert.ok(d.data.some((v) => v === 0) && d.data.some((v) => v > 500 && v < 8000));
});

test('physics: a body is body-warm, fire is hot, gravity is on the IMU, a fall shakes it', () => {
  const walk = buildScenario('person_walking', 21, 10);
  const frame = renderThermal(walk, 5);
  const max = Math.max(...frame);
  assert.ok(max > 30 && max < 38, `person peak ${max} °C`);
  const fire = renderThermal(buildScenario('fire', 21, 10), 6);
  assert.ok(Math.max(...fire) > 150, 'flames');
  const still = renderImu(buildScenario('empty_room', 21, 10), 0, 2);
  let g = 0;
  for (let i = 0; i < 3; i++) g += still[i]! ** 2;
  assert.ok(Math.abs(Math.sqrt(g) - 9.81) < 0.5, `|g| = ${Math.sqrt(g)}`);
  const fall = buildScenario('person_falling', 21, 10);
  const shake = renderImu(fall, fall.events[0]!.startS, fall.events[0]!.startS + 1.5);
  const quiet = renderImu(fall, 0, 1.5);
  // Largest peak-to-peak swing of one accelerometer axis.
  const spread = (x: Float32Array) => {
    let best = 0;
    for (let c = 0; c < 3; c++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = c; i < x.length; i += 6) {
        lo = Math.min(lo, x[i]!);
        hi = Math.max(hi, x[i]!);
      }
      best = Math.max(best, hi - lo);
    }
    return best;
  };
  assert.ok(spread(shake) > 1.5 * spread(quiet), 'the impact is in the IMU');
});

test('sounds have structure: alarms are tonal and loud, the empty room is quiet', () => {
  const alarm = renderAudio(buildScenario('alarm_beeping', 5, 10), 4, 6);
  const empty = renderAudio(buildScenario('empty_room', 5, 10), 4, 6);
  assert.ok(rms(alarm) > 3 * rms(empty), `alarm ${rms(alarm)} vs room ${rms(empty)}`);
  const sample = makeSample('dog_barking', 99);
  assert.equal(sample.windows.audio.data.length, 32000);
  assert.deepEqual(sample.windows.imu.shape, [500, 6]);
  assert.equal(sample.rgb.length, 3 * 32 * 32);
});
