/**
 * A sensor's clip ring (issue #18): allocated once, frames copied in without allocating, spans
 * copied out by wall time, emptied on a jump in time, wrapping at its capacity.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SampleRing } from '../../src/clips/ring.js';
import type { Frame } from '../../src/pipeline/types.js';

const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

function frame(n: number, first: number, rateHz = 10, size = 1): Frame {
  const data = new Float32Array(n * size);
  for (let i = 0; i < n; i++) for (let k = 0; k < size; k++) data[i * size + k] = first + i + k / 10;
  return {
    sensorId: 's',
    modality: 'audio',
    tMs: 0,
    rateHz,
    data,
    shape: size === 1 ? [n] : [n, size],
  };
}

test('spans come out by wall time, oldest first, across the wrap; the buffer is allocated once', () => {
  const ring = new SampleRing(2); // 20 samples at 10 Hz
  assert.equal(ring.copy(T0, T0 + 1000), undefined);
  assert.ok(Number.isNaN(ring.newestWallMs));
  for (let k = 0; k < 5; k++) ring.push(frame(7, k * 7), T0 + k * 700); // 35 samples, 3.5 s
  assert.equal(ring.allocated, 1);
  assert.equal(ring.newestWallMs, T0 + 3500);
  assert.equal(ring.oldestWallMs, T0 + 1500); // the newest 20 samples
  const all = ring.copy(T0, T0 + 10_000)!;
  assert.equal(all.samples, 20);
  assert.equal(all.fromWallMs, T0 + 1500);
  assert.deepEqual(
    [...all.data],
    Array.from({ length: 20 }, (_, i) => 15 + i),
  );
  // [2.0 s, 2.55 s): samples 20..25 (sample 25 starts at 2.5 s).
  const part = ring.copy(T0 + 2000, T0 + 2550)!;
  assert.deepEqual([...part.data], [20, 21, 22, 23, 24, 25]);
  assert.equal(part.fromWallMs, T0 + 2000);
  assert.equal(ring.copy(T0, T0 + 1000), undefined, 'older than the ring');
  assert.equal(ring.copy(T0 + 4000, T0 + 5000), undefined, 'not recorded yet');
});

test('multi-value samples keep their shape; a frame longer than the ring keeps its newest samples', () => {
  const ring = new SampleRing(1); // 10 samples
  ring.push(frame(25, 0, 10, 6), T0);
  const s = ring.copy(T0, T0 + 5000)!;
  assert.deepEqual(s.sampleShape, [6]);
  assert.equal(s.samples, 10);
  assert.equal(s.fromWallMs, T0 + 1500);
  assert.equal(s.data[0], 15);
  assert.equal(Math.round(s.data[5]! * 10), 155);
});

test('a jump in time empties the ring; a change of rate reallocates it', () => {
  const ring = new SampleRing(2);
  ring.push(frame(10, 0), T0);
  ring.push(frame(10, 100), T0 + 60_000); // replay looped, sensor restarted
  const s = ring.copy(0, T0 + 100_000)!;
  assert.equal(s.samples, 10);
  assert.equal(s.data[0], 100);
  assert.equal(ring.allocated, 1);
  ring.push(frame(10, 0, 20), T0 + 61_000);
  assert.equal(ring.allocated, 2);
  assert.equal(ring.copy(0, T0 + 100_000)!.rateHz, 20);
});

test('pushing frames allocates nothing once the ring exists', () => {
  const ring = new SampleRing(5);
  const f = frame(160, 0, 16_000);
  // Until V8 optimises it, the loop boxes every time (an epoch-ms double) it passes: warm it up
  // first, optimising on this thread so that a busy machine cannot delay it (flags set at run
  // time), then collect, so that only the measured frames count.
  setFlagsFromString('--expose-gc');
  setFlagsFromString('--no-concurrent-recompilation');
  const pushAll = (from: number) => {
    for (let k = from; k < from + 20_000; k++) ring.push(f, T0 + k * 10);
  };
  pushAll(0);
  pushAll(20_000);
  (runInNewContext('gc') as () => void)();
  const before = process.memoryUsage().heapUsed;
  pushAll(40_000);
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(ring.allocated, 1);
  // 20,000 frames: even 100 bytes each would be 2 MB.
  assert.ok(grown < 1_000_000, `heap grew ${grown} bytes over 20,000 frames`);
});

test('an image stream over the memory budget keeps every k-th image, at its own time; nothing is allocated per frame', () => {
  // 640×480 at 30 Hz for 75 s would be 2.8 GB of float32; the budget here is 16 images.
  const px = 640 * 480;
  const ring = new SampleRing(75, 16 * px * 4);
  const image = (k: number): Frame => ({
    sensorId: 'depth',
    modality: 'depth',
    tMs: 0,
    rateHz: 30,
    data: new Float32Array(px).fill(k),
    shape: [1, 480, 640],
  });
  for (let k = 0; k < 600; k++) ring.push(image(k), T0 + (k * 1000) / 30); // 20 s
  assert.equal(ring.allocated, 1);
  assert.ok(ring.bytes <= 16 * px * 4, `${ring.bytes} bytes`);
  // 2250 images wanted, 16 fit: one in ceil(2250 / 16) = 141 is kept, 30/141 Hz.
  const span = ring.copy(T0, T0 + 60_000)!;
  assert.equal(span.rateHz, 30 / 141);
  assert.deepEqual(span.sampleShape, [480, 640]);
  const kept = Array.from({ length: span.samples }, (_, i) => span.data[i * px]!);
  assert.deepEqual(kept, [0, 141, 282, 423, 564]);
  assert.equal(span.fromWallMs, T0);
  assert.ok(Math.abs(ring.newestWallMs - (T0 + (564 * 1000) / 30 + 141_000 / 30)) < 1e-6);
});

test('a sample stream over the memory budget keeps fewer seconds, at its full rate', () => {
  const ring = new SampleRing(75, 48_000 * 4 * 10); // 10 s of 48 kHz mono
  for (let k = 0; k < 20; k++) ring.push(frame(48_000, k * 48_000, 48_000), T0 + k * 1000);
  assert.ok(ring.bytes <= 48_000 * 4 * 10);
  const span = ring.copy(T0, T0 + 20_000)!;
  assert.equal(span.rateHz, 48_000);
  assert.equal(span.samples, 480_000);
  assert.equal(span.fromWallMs, T0 + 10_000);
});
