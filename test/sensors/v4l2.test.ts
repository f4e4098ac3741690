/**
 * V4L2 depth (Z16) and thermal (Y16) drivers against the fake `v4l2-ctl`
 * (test/sensors/fakes/v4l2-ctl.mjs) streaming real little-endian images on stdout: framing at odd
 * chunk boundaries, units, garbage images, crash mid-image, unplug and replug, missing executable.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DeviceError } from '../../src/errors.js';
import { systemClock } from '../../src/pipeline/clock.js';
import type { Frame } from '../../src/pipeline/types.js';
import { frameChunks, v4l2CtlArgs } from '../../src/sensors/bus/video.js';
import { DepthZ16ConfigSchema, depthZ16Frames } from '../../src/sensors/v4l2/depth-z16.js';
import { ThermalY16ConfigSchema, thermalY16Frames } from '../../src/sensors/v4l2/thermal-y16.js';
import { HealthLog, alive, fakesOnPath, pump, requireTool, starts, take, tempDir, waitFor } from './fakes.js';

requireTool('sh');
fakesOnPath();
const dir = tempDir('v4l2');
// A failing test must not leave a capture running (the file would never exit).
const open: AbortController[] = [];
after(() => open.forEach((ac) => ac.abort()));
const W = 64;
const H = 48;

function camera(kind: 'depth' | 'thermal', name: string, spec: Record<string, unknown>, extra = {}) {
  const device = join(dir, `${name}.json`);
  writeFileSync(
    device,
    JSON.stringify({ pattern: kind, pixelFormat: kind === 'depth' ? 'Z16 ' : 'Y16 ', ...spec }),
  );
  const base = { id: name, device, width: W, height: H, fps: 30, reconnectMinMs: 50, reconnectMaxMs: 400 };
  const source =
    kind === 'depth'
      ? depthZ16Frames(DepthZ16ConfigSchema.parse({ ...base, driver: 'depth-z16', ...extra }))
      : thermalY16Frames(ThermalY16ConfigSchema.parse({ ...base, driver: 'thermal-y16', ...extra }));
  const ac = new AbortController();
  open.push(ac);
  const health = new HealthLog();
  const it = source({ clock: systemClock, signal: ac.signal, onHealth: health.on })[Symbol.asyncIterator]();
  return { device, it, health, stop: async () => (ac.abort(), await it.return?.()) };
}

/** Checks a depth frame is one whole image of the fake's pattern; returns its frame index k. */
function depthK(f: Frame, scale = 1): number {
  assert.deepEqual(f.shape, [1, H, W]);
  const k = Math.round(f.data[0]! / scale) - 500;
  for (let y = 0; y < H; y += 5)
    for (let x = 0; x < W; x += 3)
      assert.ok(
        Math.abs(f.data[y * W + x]! - (500 + ((x + y + k) % 1000)) * scale) < 1e-3,
        `pixel ${x},${y}`,
      );
  return k;
}

test('frameChunks cuts frames exactly whatever the chunk boundaries', async () => {
  const frameBytes = 10;
  const bytes = Uint8Array.from({ length: 47 }, (_, i) => i);
  for (const sizes of [[1], [3], [7, 1, 13], [10], [47]]) {
    async function* chunks() {
      let o = 0;
      for (let i = 0; o < bytes.length; i++) {
        const n = sizes[i % sizes.length]!;
        yield bytes.subarray(o, o + n);
        o += n;
      }
    }
    const got: number[][] = [];
    for await (const f of frameChunks(chunks(), frameBytes)) got.push([...f]);
    assert.equal(got.length, 4, `sizes ${sizes.join(',')}: partial 5th frame dropped`);
    got.forEach((f, k) => assert.deepEqual(f, [...bytes.subarray(k * 10, k * 10 + 10)]));
  }
});

test('v4l2-ctl gets the reference flags, with the four-character fourcc', () => {
  const args = v4l2CtlArgs({ device: '/dev/video2', width: 848, height: 480, pixelFormat: 'Z16 ', fps: 30 });
  assert.deepEqual(args, [
    '-d',
    '/dev/video2',
    '--set-fmt-video=width=848,height=480,pixelformat=Z16 ',
    '--set-parm=30',
    '--stream-mmap',
    '--stream-count=0',
    '--stream-to=-',
  ]);
  assert.throws(() => v4l2CtlArgs({ device: 'x', width: 1, height: 1, pixelFormat: 'Z16' }), TypeError);
});

test('depth: Z16 images become [1, h, w] millimetre frames, depth scale applied', async () => {
  const cam = camera('depth', 'depth-scale', {}, { depthScaleMm: 0.1 });
  const frames = await take(cam.it, 5);
  await cam.stop();
  const ks = frames.map((f) => depthK(f, 0.1));
  assert.deepEqual(ks, [0, 1, 2, 3, 4]);
  assert.equal(frames[0]!.rateHz, 30);
  assert.equal(frames[0]!.modality, 'depth');
  assert.ok(frames[4]!.tMs > frames[0]!.tMs);
  assert.equal(cam.health.last?.state, 'ok');
});

test('thermal: Y16 centikelvin becomes °C', async () => {
  const cam = camera('thermal', 'thermal', {});
  const frames = await take(cam.it, 3);
  await cam.stop();
  frames.forEach((f, k) => {
    assert.deepEqual(f.shape, [1, H, W]);
    assert.equal(f.modality, 'thermal');
    for (let y = 0; y < H; y += 7)
      for (let x = 0; x < W; x += 5) {
        const want = Math.round((20 + ((x + y + k) % 100) / 10 + 273.15) * 100) / 100 - 273.15;
        assert.ok(Math.abs(f.data[y * W + x]! - want) < 1e-3, `frame ${k} pixel ${x},${y}`);
      }
  });
});

test('garbage images are rejected one by one; the stream keeps going', async () => {
  const cam = camera('depth', 'garbage', { garbageEvery: 3 });
  const frames = await take(cam.it, 9);
  await cam.stop();
  const ks = frames.map((f) => depthK(f));
  assert.deepEqual(ks, [0, 1, 3, 4, 6, 7, 9, 10, 12], 'every third (random) image was dropped');
  // A lone bad image is counted but is not a fault; the third in the last 100 makes it degraded.
  const atRejected = (n: number) => cam.health.all.find((h) => h.rejected === n);
  assert.equal(atRejected(1)?.state, 'ok');
  assert.equal(atRejected(2)?.state, 'ok');
  assert.equal(atRejected(3)?.state, 'degraded');
  assert.match(
    atRejected(3)?.reason ?? '',
    /^3 of the last \d+ rejected, latest: \d+ of \d+ pixels out of range$/,
  );
});

test('thermal garbage is rejected too', async () => {
  const cam = camera('thermal', 'thermal-garbage', { garbageEvery: 2 });
  const frames = await take(cam.it, 3);
  await cam.stop();
  assert.equal(frames.length, 3);
  assert.ok(cam.health.last!.rejected >= 2);
  for (const f of frames) assert.ok(f.data.every((c) => c > 19 && c < 31));
});

test('v4l2-ctl dying mid-image: the partial image is dropped, capture restarts aligned', async () => {
  const cam = camera('depth', 'crash', { exitAfterFrames: 3, midFrame: true });
  const frames = await take(cam.it, 7);
  await cam.stop();
  assert.deepEqual(
    frames.map((f) => depthK(f)),
    [0, 1, 2, 0, 1, 2, 0],
  );
  assert.ok(cam.health.last!.restarts >= 2);
  assert.ok(cam.health.sawDown(/exited with code 1/));
});

test('unplug and replug: back at the first reopen after the device returns', async () => {
  const cam = camera('depth', 'plug', {});
  // Pulled all along, as the agent does: a stream nobody pulls reports nothing.
  const p = pump(cam.it);
  await waitFor(() => p.frames.length >= 2, 20_000, 'two frames');
  const spec = readFileSync(cam.device, 'utf8');
  rmSync(cam.device);
  await waitFor(() => cam.health.last?.state === 'down', 20_000, 'health down after unplug');
  await waitFor(() => (cam.health.last?.restarts ?? 0) >= 2, 20_000, 'a failed reopen');
  // Down and reopening: every frame from before the unplug has been pulled.
  const framesBefore = p.frames.length;
  const startsBefore = starts(cam.device);
  writeFileSync(cam.device, spec);
  await waitFor(() => p.frames.length > framesBefore, 20_000, 'a frame after replug');
  // "Within 2 s" counted, not timed on a loaded machine: the start in flight (it may fail) and
  // at most one after it, i.e. one reconnect delay (≤ reconnectMaxMs 400 ms) plus one start.
  assert.ok(
    starts(cam.device) - startsBefore <= 2,
    `${starts(cam.device) - startsBefore} starts after replug`,
  );
  await cam.stop();
  await p.done;
  assert.ok(cam.health.sawDown(/No such device|Cannot open device/));
  assert.equal(cam.health.last?.state, 'ok');
});

test('abort stops v4l2-ctl', async () => {
  const pidFile = join(dir, 'cam.pid');
  const cam = camera('depth', 'abort', { pidFile });
  await take(cam.it, 1);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  await cam.stop();
  await waitFor(() => !alive(pid), 20_000, 'v4l2-ctl to exit');
  assert.equal(alive(pid), false);
});

test('missing v4l2-ctl is a DeviceError naming the package to install', async () => {
  const saved = process.env.PATH;
  process.env.PATH = tempDir('empty-path');
  try {
    const cam = camera('thermal', 'missing', {});
    await assert.rejects(
      () => cam.it.next(),
      (err: unknown) =>
        err instanceof DeviceError && /v4l2-ctl not found on PATH.*v4l-utils/.test(err.message),
    );
  } finally {
    process.env.PATH = saved;
  }
});
