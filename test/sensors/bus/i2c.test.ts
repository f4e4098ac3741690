import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  i2cError,
  i2ctransferWriteRead,
  isI2cDisconnect,
  readRegisters,
  realI2cBus,
} from '../../../src/sensors/bus/i2c.js';
import { Amg8833Emulator } from '../amg8833.emulator.js';

const dir = mkdtempSync(join(tmpdir(), 'edgebind-i2c-'));

/** A stand-in `i2ctransfer` that logs its argv and prints what the test scripts. */
function fakeI2ctransfer(body: string): string {
  const file = join(dir, `i2ctransfer-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `#!/bin/sh\necho "$@" > "${file}.args"\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('isI2cDisconnect: NACK/absent-device codes from SMBus, libuv and i2ctransfer errors', () => {
  assert.equal(isI2cDisconnect(i2cError('EREMOTEIO', 'readByte')), true);
  assert.equal(isI2cDisconnect({ code: 'ENXIO' }), true);
  assert.equal(isI2cDisconnect({ errno: -121 }), true, 'libuv negative errno');
  assert.equal(isI2cDisconnect({ errno: 5 }), true);
  assert.equal(isI2cDisconnect(new Error('Invalid I2C address 128')), false);
  assert.equal(isI2cDisconnect(new TypeError('x')), false);
  assert.equal(isI2cDisconnect(undefined), false);
  const e = i2cError('EREMOTEIO', 'readI2cBlock');
  assert.equal(e.message, 'EREMOTEIO, Remote I/O error');
  assert.equal(e.errno, 121);
  assert.equal(e.syscall, 'readI2cBlock');
});

test('i2ctransferWriteRead: one combined transfer w2@addr then rN, output parsed', async () => {
  const bin = fakeI2ctransfer('echo "0xbe 0x33 0x00 0x01"');
  const buf = await i2ctransferWriteRead(7, 0x33, Uint8Array.of(0x24, 0x0f), 4, { i2ctransfer: bin });
  assert.deepEqual([...buf], [0xbe, 0x33, 0x00, 0x01]);
  assert.equal(readFileSync(`${bin}.args`, 'utf8').trim(), '-y 7 w2@0x33 0x24 0x0f r4');
  const forced = fakeI2ctransfer('echo "0x01 0x02"');
  await i2ctransferWriteRead(1, 0x33, Uint8Array.of(0x80, 0x00), 2, {
    i2ctransfer: forced,
    forceAccess: true,
  });
  assert.equal(readFileSync(`${forced}.args`, 'utf8').trim(), '-y -f 1 w2@0x33 0x80 0x00 r2');
});

test('i2ctransferWriteRead: failures map to errno codes the drivers treat as disconnects', async () => {
  const nack = fakeI2ctransfer('echo "Error: Sending messages failed: Remote I/O error" >&2; exit 1');
  await assert.rejects(
    i2ctransferWriteRead(7, 0x33, Uint8Array.of(0x80, 0x00), 2, { i2ctransfer: nack }),
    (e: unknown) => {
      assert.equal((e as { code: string }).code, 'EREMOTEIO');
      return isI2cDisconnect(e);
    },
  );
  const short = fakeI2ctransfer('echo "0x01"');
  await assert.rejects(i2ctransferWriteRead(7, 0x33, Uint8Array.of(0x80, 0x00), 2, { i2ctransfer: short }), {
    code: 'EIO',
  });
  await assert.rejects(
    i2ctransferWriteRead(7, 0x33, Uint8Array.of(0x80, 0x00), 2, { i2ctransfer: join(dir, 'missing') }),
    (e: unknown) => (e as { code?: string }).code === 'I2CTRANSFER_MISSING' && !isI2cDisconnect(e),
  );
  const noBus = fakeI2ctransfer(
    'echo "Error: Could not open file \'/dev/i2c-7\': No such file or directory" >&2; exit 1',
  );
  await assert.rejects(i2ctransferWriteRead(7, 0x33, Uint8Array.of(0x80, 0x00), 2, { i2ctransfer: noBus }), {
    code: 'ENOENT',
  });
  await assert.rejects(i2ctransferWriteRead(7, 0x33, Uint8Array.of(0x80, 0x00), 9000), RangeError);
  assert.throws(() => i2ctransferWriteRead(7, 0x80, Uint8Array.of(0), 1), TypeError);
});

test('realI2cBus: loads the i2c-bus addon; a missing /dev/i2c-N fails on first transfer as a disconnect', async () => {
  const open = realI2cBus();
  const bus = await open(250);
  await assert.rejects(bus.readByte(0x33, 0), (e: unknown) => isI2cDisconnect(e));
  await bus.close();
});

test('readRegisters: splits into 32-byte SMBus blocks and rejects short reads', async () => {
  const emu = new Amg8833Emulator({ now: () => 0 });
  const bus = await emu.openBus(1);
  const pixels = await readRegisters(bus, 0x69, 0x80, 128);
  assert.equal(pixels.length, 128);
  assert.equal(pixels.readUInt16LE(0), 22 / 0.25);
  emu.shortReadNext(1);
  await assert.rejects(readRegisters(bus, 0x69, 0x80, 64), { code: 'SHORT_READ' });
  await assert.rejects(bus.readI2cBlock(0x69, 0x80, 33, Buffer.alloc(33)), /Invalid buffer length 33/);
  await bus.close();
});
