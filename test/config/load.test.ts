import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultStateDir, loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'edgebind-config-'));
writeFileSync(join(dir, 'a.wav'), 'x');
const base = `sensors:\n  - id: mic\n    driver: replay\n    modality: audio\n    file: a.wav\n`;
const file = join(dir, 'edgebind.yaml');

function problems(text: string): { code: string; problems: { path: string; message: string }[] } {
  try {
    parseConfig(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return { code: err.code, problems: [...err.problems] };
  }
  assert.fail('expected a ConfigError');
}

test('a minimal config gets defaults, absolute paths and the per-modality window', () => {
  const cfg = parseConfig(base, file);
  const s0 = cfg.sensors[0]!;
  assert.equal(s0.driver === 'replay' && s0.file, join(dir, 'a.wav'));
  assert.deepEqual(cfg.sensors[0]!.window, { lengthMs: 2000, hopMs: 1000 });
  assert.equal(cfg.mqtt.broker, 'embedded');
  assert.equal(cfg.mqtt.baseTopic, 'edgebind');
  assert.equal(cfg.encoders.pack, 'test');
  assert.deepEqual(cfg.encoders.providers, ['cpu']);
  assert.ok(cfg.deviceId.length > 0);
});

test('an unknown key is rejected with its full path', () => {
  const r = problems(base + '    windoww: { lengthMs: 1 }\nmqtt:\n  brokr: x\n');
  assert.equal(r.code, 'CONFIG_INVALID');
  assert.deepEqual(r.problems.map((p) => `${p.path}: ${p.message}`).sort(), [
    'mqtt.brokr: unknown key; did you mean "broker"?',
    'sensors[0].windoww: unknown key; did you mean "window"?',
  ]);
});

test('a wrong type names the path, the expected and the actual type', () => {
  const r = problems(base + '    window: { lengthMs: "2s", hopMs: 500 }\n');
  assert.deepEqual(r.problems, [
    { path: 'sensors[0].window.lengthMs', message: 'expected number, got string' },
  ]);
});

test('enums and URLs are checked, every problem reported at once', () => {
  const r = problems(base.replace('audio', 'sound') + 'mqtt: { broker: "http://x" }\n');
  assert.deepEqual(r.problems.map((p) => p.path).sort(), ['mqtt.broker', 'sensors[0].modality']);
  assert.match(r.problems.find((p) => p.path === 'mqtt.broker')!.message, /mqtt:\/\//);
  assert.match(r.problems.find((p) => p.path === 'sensors[0].modality')!.message, /"audio", "thermal"/);
});

test('duplicates and cross-field rules are checked', () => {
  const r = problems(
    base +
      '  - { id: mic, driver: replay, modality: imu, file: a.wav }\n' +
      'labels:\n  - { name: a, prompts: [x], threshold: 0.3, offThreshold: 0.5 }\n  - { name: a, prompts: [y] }\n',
  );
  assert.deepEqual(r.problems.map((p) => `${p.path}: ${p.message}`).sort(), [
    'labels[0].offThreshold: must not exceed threshold',
    'labels[1].name: duplicate label "a"',
    'sensors[1].id: duplicate sensor id "mic"',
  ]);
});

test('a missing replay file is named', () => {
  const r = problems(base.replace('a.wav', 'missing.wav'));
  assert.equal(r.problems[0]!.path, 'sensors[0].file');
  assert.match(r.problems[0]!.message, /file not found: .*missing\.wav/);
});

test('malformed YAML reports file, line and column', () => {
  const r = problems('sensors: [\n  - id: x\n');
  assert.equal(r.code, 'CONFIG_PARSE');
  assert.match(r.problems[0]!.path, /^line \d+, column \d+$/);
});

test('a missing file is CONFIG_NOT_FOUND', async () => {
  await assert.rejects(loadConfig(join(dir, 'nope.yaml')), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'CONFIG_NOT_FOUND');
    assert.match(err.message, /nope\.yaml: file not found/);
    return true;
  });
});

test('command-line overrides win over the file', () => {
  const cfg = parseConfig(base + 'deviceId: from-file\n', file, {
    deviceId: 'cli',
    mqttUrl: 'mqtts://broker:8883',
  });
  assert.equal(cfg.deviceId, 'cli');
  assert.equal(cfg.mqtt.broker, 'mqtts://broker:8883');
  assert.throws(() => parseConfig(base, file, { deviceId: 'bad id!' }), /deviceId/);
});

test('every hardware driver is part of the one config schema', () => {
  const cfg = parseConfig(
    base +
      '  - { id: mlx, driver: mlx90640, bus: 1 }\n' +
      '  - { id: imu, driver: mpu6050, bus: 1 }\n' +
      '  - { id: amg, driver: amg8833, bus: 1 }\n' +
      '  - { id: bno, driver: bno055, bus: 1 }\n' +
      '  - { id: arec, driver: alsa-mic }\n' +
      '  - { id: rs, driver: depth-z16, device: /dev/video2, width: 640, height: 480 }\n' +
      '  - { id: lep, driver: thermal-y16, device: /dev/video0, width: 160, height: 120 }\n',
    file,
  );
  assert.deepEqual(
    cfg.sensors.map((s) => `${s.driver}:${s.modality}`),
    [
      'replay:audio',
      'mlx90640:thermal',
      'mpu6050:imu',
      'amg8833:thermal',
      'bno055:imu',
      'alsa-mic:audio',
      'depth-z16:depth',
      'thermal-y16:thermal',
    ],
  );
  const r = problems(base + '  - { id: mlx, driver: mlx90640, bus: 1, adress: 0x33 }\n');
  assert.deepEqual(r.problems, [
    { path: 'sensors[1].adress', message: 'unknown key; did you mean "address"?' },
  ]);
});

test('the default stateDir: systemd StateDirectory, else an absolute XDG_CACHE_HOME, else ~/.cache', () => {
  assert.equal(defaultStateDir({ STATE_DIRECTORY: '/var/lib/edgebind:/var/lib/other' }), '/var/lib/edgebind');
  assert.equal(defaultStateDir({ XDG_CACHE_HOME: '/srv/cache' }), '/srv/cache/edgebind');
  const fallback = join(homedir(), '.cache', 'edgebind');
  // Empty and relative values are ignored, as the XDG spec says, not resolved against the cwd.
  assert.equal(defaultStateDir({ XDG_CACHE_HOME: '' }), fallback);
  assert.equal(defaultStateDir({ XDG_CACHE_HOME: 'cache' }), fallback);
  assert.equal(defaultStateDir({}), fallback);
});

test('issue 17 item 6: an unknown key gets the nearest key it could be, and its line and column', () => {
  const text = base + 'mqtt:\n  brokr: x\n  base_topic: y\n  zzzzzzzz: 1\n';
  const r = problems(text);
  assert.deepEqual(r.problems, [
    { path: 'mqtt.brokr', message: 'unknown key; did you mean "broker"?' },
    { path: 'mqtt.base_topic', message: 'unknown key; did you mean "baseTopic"?' },
    { path: 'mqtt.zzzzzzzz', message: 'unknown key' },
  ]);
  const lines = text.split('\n');
  const brokr = lines.findIndex((l) => l.includes('brokr')) + 1;
  assert.throws(
    () => parseConfig(text, file),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.message.includes(`  mqtt.brokr: unknown key; did you mean "broker"? (line ${brokr}, column 3)\n`),
  );
});

test('issue 17 item 6: an unknown driver and a bound read as sentences, not zod wording', () => {
  const r = problems(
    base.replace('driver: replay', 'driver: replai') + '    window: { lengthMs: 0, hopMs: 1 }\n',
  );
  const driver = r.problems.find((p) => p.path === 'sensors[0].driver')!;
  assert.match(
    driver.message,
    /^unknown driver "replai"; did you mean "replay"\? It is one of: replay, alsa-mic, /,
  );
  const r2 = problems(base + '    window: { lengthMs: 0, hopMs: 1 }\n');
  assert.deepEqual(r2.problems, [{ path: 'sensors[0].window.lengthMs', message: 'must be > 0' }]);
});

test('issue 17 item 6: a bad --mqtt-url is blamed on the flag, not on the file', () => {
  assert.throws(
    () => parseConfig(base, file, { mqttUrl: 'htp:/bad' }),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.file === undefined &&
      err.message ===
        'invalid option\n  --mqtt-url "htp:/bad": must be "embedded" or an mqtt://, mqtts://, ws:// or wss:// URL',
  );
});

test('issue 17 item 6: a label listening only to a modality no sensor has is refused', () => {
  const r = problems(base + 'labels:\n  - { name: fall, prompts: [a fall], modalities: [depth, imu] }\n');
  assert.deepEqual(r.problems, [
    {
      path: 'labels[0].modalities',
      message: 'no sensor is depth or imu (the sensors are audio); label "fall" could never fire',
    },
  ]);
  // One of its modalities sensed is enough.
  parseConfig(base + 'labels:\n  - { name: fall, prompts: [a fall], modalities: [depth, audio] }\n', file);
});
