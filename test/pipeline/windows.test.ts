import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/pipeline/clock.js';
import type { Frame, Window } from '../../src/pipeline/types.js';
import { BufferPool, windows } from '../../src/pipeline/windows.js';

async function* frames(list: Frame[]): AsyncGenerator<Frame> {
  for (const f of list) yield f;
}

/** Audio-like stream: `count` frames of `n` samples at `rateHz`, sample value = its index. */
function ramp(count: number, n: number, rateHz: number, t0 = 0): Frame[] {
  return Array.from({ length: count }, (_, k) => ({
    sensorId: 'mic',
    modality: 'audio' as const,
    tMs: t0 + (k * n * 1000) / rateHz,
    rateHz,
    data: Float32Array.from({ length: n }, (_, i) => k * n + i),
    shape: [n],
  }));
}

async function collect(it: AsyncIterable<Window>, copy = true): Promise<Window[]> {
  const out: Window[] = [];
  for await (const w of it) out.push(copy ? { ...w, data: Float32Array.from(w.data) } : w);
  return out;
}

test('cuts windows of lengthMs every hopMs with exact sample content and times', async () => {
  const clock = new ManualClock(0, 1_000_000);
  // 100 Hz, frames of 7 samples (chunk boundaries do not align with hops), 3 s in all.
  const ws = await collect(windows(frames(ramp(43, 7, 100)), { lengthMs: 1000, hopMs: 250, clock }));
  assert.equal(ws.length, 1 + Math.floor((301 - 100) / 25));
  ws.forEach((w, i) => {
    assert.equal(w.seq, i);
    assert.deepEqual(w.shape, [100]);
    assert.equal(w.data[0], i * 25, `window ${i} starts at sample ${i * 25}`);
    assert.equal(w.data[99], i * 25 + 99);
    assert.equal(w.startMs, i * 250);
    assert.equal(w.endMs, i * 250 + 1000);
    assert.equal(w.endWallMs, 1_000_000 + w.endMs);
  });
});

test('multi-dimensional samples (IMU [n,6]) keep their layout', async () => {
  const clock = new ManualClock();
  const f: Frame = {
    sensorId: 'imu',
    modality: 'imu',
    tMs: 0,
    rateHz: 10,
    data: Float32Array.from({ length: 20 * 6 }, (_, i) => i),
    shape: [20, 6],
  };
  const ws = await collect(windows(frames([f]), { lengthMs: 1000, hopMs: 500, clock }));
  assert.equal(ws.length, 3);
  assert.deepEqual(ws[1]!.shape, [10, 6]);
  assert.equal(ws[1]!.data[0], 5 * 6);
  assert.equal(ws[2]!.data[59], 20 * 6 - 1);
});

test('a gap in time restarts the window instead of bridging it', async () => {
  const clock = new ManualClock();
  const before = ramp(10, 10, 100); // 1 s
  const after = ramp(10, 10, 100, 5000).map((f) => ({ ...f, data: f.data.map((x) => x + 1000) }));
  const ws = await collect(windows(frames([...before, ...after]), { lengthMs: 500, hopMs: 500, clock }));
  assert.deepEqual(
    ws.map((w) => w.startMs),
    [0, 500, 5000, 5500],
  );
  assert.ok(ws.every((w) => w.data.every((x) => (w.startMs < 5000 ? x < 1000 : x >= 1000))));
});

test('a frame whose data does not match its shape is rejected', async () => {
  const bad: Frame = {
    sensorId: 'x',
    modality: 'audio',
    tMs: 0,
    rateHz: 10,
    data: new Float32Array(3),
    shape: [4],
  };
  await assert.rejects(
    collect(windows(frames([bad]), { lengthMs: 100, hopMs: 100, clock: new ManualClock() })),
    /data length 3 ≠ shape 4/,
  );
});

test('window buffers are recycled through the pool: steady state allocates none', async () => {
  const pool = new BufferPool();
  let n = 0;
  for await (const w of windows(frames(ramp(200, 10, 100)), {
    lengthMs: 500,
    hopMs: 100,
    clock: new ManualClock(),
    pool,
  })) {
    n++;
    pool.release(w.data);
  }
  assert.ok(n > 150);
  assert.equal(pool.allocated, 1);
});

test('rejects non-positive lengths', async () => {
  await assert.rejects(
    collect(windows(frames([]), { lengthMs: 0, hopMs: 1, clock: new ManualClock() })),
    TypeError,
  );
});
