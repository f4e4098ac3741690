import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipRanges } from '../../../src/encoders/audio/clip-sampler.js';

const imagebind = (lengthSamples: number) =>
  clipRanges({ lengthSamples, sampleRateHz: 16000, durationS: 2, clips: 3 }).map((r) => [r.start, r.end]);

test('2 s or less: three identical clips over everything available', () => {
  assert.deepEqual(imagebind(32000), [
    [0, 32000],
    [0, 32000],
    [0, 32000],
  ]);
  assert.deepEqual(imagebind(20800), [
    [0, 20800],
    [0, 20800],
    [0, 20800],
  ]);
});

test('longer audio: clips start at k·(D − 2)/2 (ESC-50 5 s clips start at 0, 1.5, 3 s)', () => {
  assert.deepEqual(imagebind(80000), [
    [0, 32000],
    [24000, 56000],
    [48000, 80000],
  ]);
  // dog_audio.wav after resampling to 16 kHz (reference §3.3 step 4).
  assert.deepEqual(imagebind(41764), [
    [0, 32000],
    [4882, 36882],
    [9764, 41764],
  ]);
  assert.deepEqual(imagebind(33020), [
    [0, 32000],
    [510, 32510],
    [1020, 33020],
  ]);
  const starts = clipRanges({ lengthSamples: 32082, sampleRateHz: 16000, durationS: 2, clips: 3 }).map(
    (r) => r.startS,
  );
  assert.deepEqual(starts, [0, 0.002562500000000023, 0.005125000000000046]);
});

test('clip bounds use exact rational arithmetic like pytorchvideo (Fraction), not float64', () => {
  // float64 gives ⌊(s + 2)·16000⌋ = 32016 here; Python's Fraction gives 32015 (checked with CPython).
  assert.deepEqual(imagebind(32016), [
    [0, 32000],
    [7, 32007],
    [15, 32015],
  ]);
  for (let n = 32000; n < 40000; n++) {
    for (const [start, end] of imagebind(n)) assert.equal(end! - start!, 32000, `length ${n}`);
  }
});

test('bad options are a TypeError', () => {
  assert.throws(
    () => clipRanges({ lengthSamples: -1, sampleRateHz: 16000, durationS: 2, clips: 3 }),
    TypeError,
  );
  assert.throws(
    () => clipRanges({ lengthSamples: 10, sampleRateHz: 16000, durationS: 0, clips: 3 }),
    TypeError,
  );
  assert.throws(
    () => clipRanges({ lengthSamples: 10, sampleRateHz: 16000, durationS: 2, clips: 0 }),
    TypeError,
  );
});
