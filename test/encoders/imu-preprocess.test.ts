import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ImuPreprocessSchema } from '../../src/encoders/manifest.js';
import type { ImuPreprocess } from '../../src/encoders/manifest.js';
import { ImuPreprocessor } from '../../src/encoders/imu/preprocess.js';

const params = (input: Partial<Record<keyof ImuPreprocess, unknown>> = {}): ImuPreprocess =>
  ImuPreprocessSchema.parse(input);

const T = 2000;

/** An `[n, 6]` window whose sample j, channel c is `at(j, c)`. */
function window(n: number, at: (j: number, c: number) => number) {
  const data = new Float32Array(n * 6);
  for (let j = 0; j < n; j++) for (let c = 0; c < 6; c++) data[j * 6 + c] = at(j, c);
  return { data, shape: [n, 6] as const };
}

function run(
  win: { data: Float32Array; shape: readonly number[] },
  rateHz: number,
  p = params(),
): Float32Array {
  const pre = new ImuPreprocessor({ params: p, rateHz });
  const out = new Float32Array(pre.outputLength);
  pre.process(win.data, win.shape, rateHz, out, 0);
  return out;
}

describe('ImuPreprocessor', () => {
  it('outputs [6, 2000] by default', () => {
    const pre = new ImuPreprocessor({ params: params(), rateHz: 400 });
    assert.deepEqual(pre.outputDims, [6, 2000]);
    assert.equal(pre.outputLength, 12000);
  });

  it('transposes (not reshapes): sample i of channel c lands at out[c * 2000 + i]', () => {
    // 5 s at 400 Hz needs no resampling; value encodes (channel, sample).
    const out = run(
      window(T, (j, c) => c * 10_000 + j),
      400,
    );
    for (let c = 0; c < 6; c++) for (let i = 0; i < T; i++) assert.equal(out[c * T + i], c * 10_000 + i);
    // A reshape would have put sample 0's accel y (10000) at out[1].
    assert.equal(out[1], 1);
  });

  it('resamples a 100 Hz ramp to 400 Hz aligned on the newest sample, padding the start', () => {
    // 500 samples at 100 Hz: sample j at t = j / 100 s; value = t on every channel.
    const out = run(
      window(500, (j) => j / 100),
      100,
    );
    for (let i = 0; i < T; i++) {
      const t = 4.99 - (T - 1 - i) / 400; // output sample i's time
      const expected = Math.max(t, 0); // before the first sample: repeat it
      for (let c = 0; c < 6; c++) {
        assert.ok(
          Math.abs(out[c * T + i]! - expected) < 1e-5,
          `c ${c} i ${i}: ${out[c * T + i]} vs ${expected}`,
        );
      }
    }
    assert.ok(Math.abs(out[T - 1]! - 4.99) < 1e-6);
  });

  it('resamples a 1000 Hz sine to 400 Hz within linear-interpolation error', () => {
    const f = 3; // Hz
    const out = run(
      window(5000, (j, c) => Math.sin(2 * Math.PI * f * (j / 1000) + c)),
      1000,
    );
    for (let c = 0; c < 6; c++) {
      for (let i = 0; i < T; i++) {
        const t = 4.999 - (T - 1 - i) / 400;
        const expected = Math.sin(2 * Math.PI * f * t + c);
        // |error| ≤ (2πf·Δt)² / 8 = 4.4e-5 for Δt = 1 ms, plus float32 rounding.
        assert.ok(Math.abs(out[c * T + i]! - expected) < 1e-4, `c ${c} i ${i}`);
      }
    }
  });

  it('pads a short window at the start by repeating its first sample', () => {
    // 1 s at 400 Hz: the last 400 outputs are the window, the first 1600 repeat sample 0.
    const out = run(
      window(400, (j, c) => 100 * c + j + 1),
      400,
    );
    for (let c = 0; c < 6; c++) {
      for (let i = 0; i < 1600; i++) assert.equal(out[c * T + i], 100 * c + 1);
      for (let i = 1600; i < T; i++) assert.equal(out[c * T + i], 100 * c + (i - 1600) + 1);
    }
  });

  it('keeps only the newest 5 s of a longer window', () => {
    const out = run(
      window(4000, (j, c) => c + j * 10),
      400,
    );
    for (let c = 0; c < 6; c++) for (let i = 0; i < T; i++) assert.equal(out[c * T + i], c + (2000 + i) * 10);
  });

  it('repeats a single sample across the whole window', () => {
    const out = run(
      window(1, (_j, c) => c - 2.5),
      200,
    );
    for (let c = 0; c < 6; c++) for (let i = 0; i < T; i++) assert.equal(out[c * T + i], c - 2.5);
  });

  it('scales accel and gyro groups separately', () => {
    const out = run(
      window(T, (_j, c) => (c < 3 ? 9.80665 : 0.5)),
      400,
      params({ accelScale: 1 / 9.80665, gyroScale: 2 }),
    );
    for (let i = 0; i < T; i++) {
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(out[c * T + i]! - 1) < 1e-6);
      for (let c = 3; c < 6; c++) assert.equal(out[c * T + i], 1);
    }
  });

  it('follows a manifest with another rate and length', () => {
    const p = params({ sampleRateHz: 200, samples: 10 });
    const pre = new ImuPreprocessor({ params: p, rateHz: 100, windowSamples: 5 });
    assert.deepEqual(pre.outputDims, [6, 10]);
    const out = new Float32Array(60);
    const win = window(5, (j) => j);
    pre.process(win.data, win.shape, 100, out, 0);
    // Newest sample 4 at t = 0.04 s; outputs every 5 ms back from there.
    assert.deepEqual([...out.subarray(0, 10)], [0, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
  });

  it('writes into a batch slot, re-plans on a new length or rate, and touches nothing else', () => {
    const pre = new ImuPreprocessor({ params: params(), rateHz: 200 });
    const batch = new Float32Array(3 * 12_000).fill(-3);
    const a = window(1000, (j, c) => Math.cos(j / 50 + c));
    const b = window(900, (j, c) => j * 0.01 - c);
    pre.process(a.data, a.shape, 200, batch, 12_000);
    pre.process(b.data, b.shape, 180, batch, 12_000);
    assert.equal(batch.length, 36_000);
    assert.deepEqual(batch.subarray(12_000, 24_000), run(b, 180));
    assert.ok(batch.subarray(0, 12_000).every((v) => v === -3));
    assert.ok(batch.subarray(24_000).every((v) => v === -3));
    pre.process(a.data, a.shape, 200, batch, 0);
    assert.deepEqual(batch.subarray(0, 12_000), run(a, 200));
  });

  it('rejects bad shapes, rates and outputs with a TypeError naming expected and actual', () => {
    const pre = new ImuPreprocessor({ params: params(), rateHz: 400 });
    const out = new Float32Array(pre.outputLength);
    const data = new Float32Array(600);
    assert.throws(() => pre.process(data, [200, 3], 400, out, 0), {
      name: 'TypeError',
      message: /expected window shape \[n, 6\].*got \[200, 3\]/,
    });
    assert.throws(() => pre.process(data, [600], 400, out, 0), { name: 'TypeError', message: /got \[600\]/ });
    assert.throws(() => pre.process(data, [6, 100], 400, out, 0), {
      name: 'TypeError',
      message: /got \[6, 100\]/,
    });
    assert.throws(() => pre.process(new Float32Array(0), [0, 6], 400, out, 0), {
      name: 'TypeError',
      message: /got \[0, 6\]/,
    });
    assert.throws(() => pre.process(data, [99, 6], 400, out, 0), {
      name: 'TypeError',
      message: /\[99, 6\] needs 594 values, got data of length 600/,
    });
    assert.throws(() => pre.process(data, [100, 6], 0, out, 0), {
      name: 'TypeError',
      message: /rateHz.*got 0/,
    });
    assert.throws(() => pre.process(data, [100, 6], NaN, out, 0), {
      name: 'TypeError',
      message: /rateHz.*got NaN/,
    });
    assert.throws(() => pre.process(data, [100, 6], 400, new Float32Array(11_999), 0), {
      name: 'TypeError',
      message: /output \[6, 2000\] \(12000 values\) at offset 0 does not fit in out of length 11999/,
    });
    assert.throws(() => new ImuPreprocessor({ params: params(), rateHz: -1 }), { name: 'TypeError' });
  });
});
