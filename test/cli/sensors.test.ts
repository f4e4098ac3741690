/**
 * `edgebind sensors probe` and `edgebind record`: probe findings from injected buses and the fake
 * tools, missing tools reported as lines; record run as a user runs it, against the fakes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { probeAction } from '../../src/cli/commands/sensors.js';
import { decodeWav } from '../../src/sensors/formats/wav.js';
import { readFrameFileHeader, readFrameRecords } from '../../src/sensors/formats/frame-file.js';
import { runTool } from '../../src/sensors/probe.js';
import { FAKE_BIN, requireTool } from '../sensors/fakes.js';

const run = promisify(execFile);
const CLI = new URL('../../src/cli/index.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'edgebind-cli-sensors-'));
requireTool('sh');

const sink = () => {
  let text = '';
  return {
    write: (s: string) => (text += s),
    get text() {
      return text;
    },
  };
};

test('probe names I2C chips by WHO_AM_I / chip id, lists serial, ALSA and V4L2 devices', async () => {
  const regs: Record<number, Record<number, number>> = {
    0x68: { 0x75: 0x68 },
    0x28: { 0x00: 0xa0 },
    0x69: { 0x00: 0xea },
  };
  const out = sink();
  const lines = await probeAction({
    stdout: out,
    i2cBuses: () => [1],
    openI2c: async () => ({
      scan: async () => [0x28, 0x40, 0x68, 0x69],
      readByte: async (addr, reg) => {
        const v = regs[addr]?.[reg];
        if (v === undefined)
          throw Object.assign(new Error('EREMOTEIO, Remote I/O error'), { code: 'EREMOTEIO' });
        return v;
      },
      close: async () => {},
    }),
    listSerial: async () => [
      { path: '/dev/ttyACM0', manufacturer: 'Arduino', vendorId: '2341', productId: '0043' },
    ],
    run: (cmd, args) => runTool(join(FAKE_BIN, cmd), args),
  });
  assert.deepEqual(lines, [
    'i2c-1 0x28: BNO055 (reg 0x00 = 0xa0)',
    'i2c-1 0x68: MPU-6050/6000/9150 (reg 0x75 = 0x68)',
    'i2c-1 0x69: ICM-20948 (reg 0x00 = 0xea)',
    'i2c-1: other addresses 0x40',
    'serial /dev/ttyACM0 (Arduino, 2341:0043)',
    'alsa plughw:1,0 Fake [Fake USB Mic], device 0: USB Audio [USB Audio]'.replace(
      'Fake [Fake USB Mic], device 0: ',
      '',
    ),
    "v4l2 /dev/video0 (Fake Depth Camera (usb-0000:00:14.0-1)): 'Z16 ' 848x480 → depth-z16",
    "v4l2 /dev/video1 (Fake Depth Camera (usb-0000:00:14.0-1)): 'Z16 ' 848x480 → depth-z16",
  ]);
  assert.equal(out.text, `${lines.join('\n')}\n`);
});

test('probe without buses or tools says so line by line and exits 0', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, 'sensors', 'probe'], {
    env: { ...process.env, PATH: dir },
  });
  assert.match(stdout, /^alsa: arecord not found \(install alsa-utils\)$/m);
  assert.match(stdout, /^v4l2: v4l2-ctl not found \(install v4l-utils\)$/m);
  assert.match(stdout, /^i2c: /m);
  assert.match(stdout, /^serial/m);
});

test('edgebind record writes one replayable file per sensor from the fakes', async () => {
  writeFileSync(join(dir, 'mic.json'), '{}');
  writeFileSync(join(dir, 'cam.json'), JSON.stringify({ pattern: 'thermal', pixelFormat: 'Y16 ' }));
  const cfg = join(dir, 'record.yaml');
  writeFileSync(
    cfg,
    [
      'sensors:',
      `  - { id: mic, driver: alsa-mic, device: ${join(dir, 'mic.json')}, audioType: wav }`,
      `  - { id: cam, driver: thermal-y16, device: ${join(dir, 'cam.json')}, width: 16, height: 12, fps: 10 }`,
      '  - { id: off, driver: alsa-mic, enabled: false }',
    ].join('\n'),
  );
  const out = join(dir, 'out');
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', CLI, 'record', '--config', cfg, '--out', out, '--seconds', '1'],
    {
      env: { ...process.env, PATH: `${FAKE_BIN}:${process.env.PATH}`, EDGEBIND_TEST_NODE: process.execPath },
    },
  );
  assert.match(stdout, /^mic: .*mic\.wav — 10 frames, 1\.00 s/m);
  assert.match(stdout, /^cam: .*cam\.ebf — 10 frames, 1\.00 s/m);
  assert.equal(existsSync(join(out, 'off.wav')), false, 'disabled sensors are not recorded');
  const wav = decodeWav(readFileSync(join(out, 'mic.wav')));
  assert.equal(wav.sampleRateHz, 16000);
  assert.equal(wav.channels[0]!.length, 16000);
  const { header } = await readFrameFileHeader(join(out, 'cam.ebf'));
  assert.deepEqual(header.sampleShape, [12, 16]);
  assert.equal(header.unit, 'degC');
  let n = 0;
  for await (const r of readFrameRecords(join(out, 'cam.ebf'))) {
    assert.ok(Math.abs(r.data[0]! - (20 + n / 10)) < 1e-3);
    n++;
  }
  assert.equal(n, 10);
});

test('edgebind record rejects a bad sensor config with its path, exit 2', async () => {
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'sensors:\n  - { id: cam, driver: depth-z16, device: /dev/video0, depthScaleMm: -1 }\n');
  await assert.rejects(
    run(process.execPath, [
      '--import',
      'tsx',
      CLI,
      'record',
      '--config',
      cfg,
      '--out',
      dir,
      '--seconds',
      '1',
    ]),
    (err: { code?: number; stderr?: string }) =>
      err.code === 2 && /sensors\[0\]\.depthScaleMm/.test(err.stderr ?? ''),
  );
});
