// Loads every native module of an arm64 install through edgebind's own wrappers and prints what
// each did as one JSON line (issue #21). Run by the arm64 Node under emulation from
// scripts/arm64/arm64.test.ts, which makes the pty pair and checks the result:
//
//   node scripts/arm64/smoke.mjs APP_DIR PTY_A PTY_B
//
// Plain JavaScript: an arm64 production install has no tsx, so it imports APP_DIR/dist.
// Each part reports its own failure instead of stopping the others.
import { Buffer } from 'node:buffer';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const [app, ptyA, ptyB] = process.argv.slice(2);
if (!app || !ptyA || !ptyB) throw new TypeError('usage: smoke.mjs APP_DIR PTY_A PTY_B');
const dist = (path) => import(pathToFileURL(join(app, 'dist', path)).href);
const failure = (err) => ({ error: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` });

/** onnxruntime-node: its build, and one run of the mini pack's IMU encoder on a fixed input. */
async function onnx() {
  const { EncoderSession, onnxruntimeBuild } = await dist('encoders/session.js');
  const pack = join(app, 'models/mini');
  const entry = JSON.parse(readFileSync(join(pack, 'manifest.json'), 'utf8')).encoders.imu;
  const session = await EncoderSession.open(join(pack, entry.file), entry, { providers: ['cpu'] });
  try {
    const input = new Float32Array(session.itemSize).map((_, i) => Math.sin(i / 100));
    const output = await session.run(input, 1);
    return { build: onnxruntimeBuild(), provider: session.provider, output: Array.from(output) };
  } finally {
    await session.close();
  }
}

/** serialport: both ends of a socat pty pair open at once, each sending the other a word. */
async function serial() {
  const { createSerialLink } = await dist('sensors/bus/serial.js');
  const link = createSerialLink();
  // A bound, not a wait: aborting closes both ends, so a lost word shows as a short read.
  const signal = globalThis.AbortSignal.timeout(30_000);
  const opts = (path) => ({ path, baudRate: 115200, watchPathMs: 0 });
  const [a, b] = await Promise.all([link.open(opts(ptyA), signal), link.open(opts(ptyB), signal)]);
  // Leaving the loop closes the connection, so both words go out before either side reads.
  const read = async (conn, n) => {
    let got = Buffer.alloc(0);
    for await (const chunk of conn.data()) {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) break;
    }
    return got.toString('utf8');
  };
  const readA = read(a, 4);
  const readB = read(b, 4);
  await Promise.all([a.write('ping'), b.write('pong')]);
  const [atA, atB] = await Promise.all([readA, readB]);
  return { atA, atB };
}

/**
 * i2c-bus: a bus that does not exist. i2c-bus opens /dev/i2c-N on the first transfer, so opening
 * succeeds and the read fails with ENOENT, which bus/i2c.ts counts as a disconnect.
 */
async function i2c() {
  const { realI2cBus, isI2cDisconnect } = await dist('sensors/bus/i2c.js');
  let bus = 200;
  while (existsSync(`/dev/i2c-${bus}`)) bus++;
  const opened = await realI2cBus()(bus);
  try {
    const value = await opened.readByte(0x33, 0);
    return { bus, value };
  } catch (err) {
    return { bus, code: err.code, errno: err.errno, message: err.message, disconnect: isI2cDisconnect(err) };
  } finally {
    await opened.close().catch(() => {});
  }
}

const result = { arch: process.arch, platform: process.platform, node: process.version };
for (const [name, part] of Object.entries({ onnx, serial, i2c })) {
  const t0 = performance.now();
  try {
    result[name] = await part();
  } catch (err) {
    result[name] = failure(err);
  }
  result[name].ms = Math.round(performance.now() - t0);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
