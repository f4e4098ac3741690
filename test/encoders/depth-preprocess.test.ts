import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DepthPreprocessSchema } from '../../src/encoders/manifest.js';
import type { DepthPreprocess } from '../../src/encoders/manifest.js';
import { DepthPreprocessor, fillNearest } from '../../src/encoders/depth/preprocess.js';

const params = (input: Partial<Record<keyof DepthPreprocess, unknown>> = {}): DepthPreprocess =>
  DepthPreprocessSchema.parse(input);

/**
 * Hand-checkable constants: baseline × focal = 0.1 × 500 = 50, so 1000 mm → disparity 50 → 0.5
 * after ÷ maxDisparity 100; mean 0 / std 1 leave that as is; size 4 on 4×4 input skips resizing.
 */
const simple = (extra: Partial<Record<keyof DepthPreprocess, unknown>> = {}) =>
  params({
    size: 4,
    focalLengthPx: 500,
    baselineM: 0.1,
    minDisparity: 1,
    maxDisparity: 100,
    mean: 0,
    std: 1,
    ...extra,
  });

function window(n: number, h: number, w: number, at: (f: number, y: number, x: number) => number) {
  const data = new Float32Array(n * h * w);
  for (let f = 0; f < n; f++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(f * h + y) * w + x] = at(f, y, x);
  return { data, shape: [n, h, w] as const };
}

/** A 1×4×4 window from 16 row-major millimetre values. */
const frame4 = (mm: number[]) => ({ data: Float32Array.from(mm), shape: [1, 4, 4] as const });

function run(p: DepthPreprocess, win: { data: Float32Array; shape: readonly number[] }): Float32Array {
  const pre = new DepthPreprocessor({ params: p, sampleShape: win.shape.slice(1) });
  const out = new Float32Array(pre.outputLength);
  pre.process(win.data, win.shape, 5, out, 0);
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

describe('DepthPreprocessor', () => {
  it('outputs [1, 224, 224] by default', () => {
    const pre = new DepthPreprocessor({ params: params(), sampleShape: [60, 80] });
    assert.deepEqual(pre.outputDims, [1, 224, 224]);
    assert.equal(pre.outputLength, 224 * 224);
  });

  it('turns known depths into clamped, scaled disparity', () => {
    // 1000 mm → 50 → 0.5; 2000 → 25 → 0.25; 400 → 125 clamps to 100 → 1; 100 m → 0.5 clamps to 1 → 0.01.
    const out = run(simple(), frame4([1000, 2000, 400, 100_000, ...new Array<number>(12).fill(500)]));
    assertClose(out, [0.5, 0.25, 1, 0.01, ...new Array<number>(12).fill(1)]);
  });

  it('applies the Omnivore constants: (disparity / 75 − 0.0418) / 0.0295', () => {
    // Defaults: f = 518.857901 px, baseline 0.075 m, disparity clamp [0.01, 75].
    const pre = new DepthPreprocessor({ params: params({ size: 4 }), sampleShape: [4, 4] });
    const out = new Float32Array(16);
    pre.process(
      Float32Array.from({ length: 16 }, () => 1500),
      [1, 4, 4],
      5,
      out,
      0,
    );
    const disparity = (0.075 * 518.857901) / 1.5; // 25.9429 at 1.5 m
    const expected = (disparity / 75 - 0.0418) / 0.0295;
    assertClose(out, new Array<number>(16).fill(expected), 1e-4);
    assert.ok(Math.abs(expected - 10.3086) < 1e-3);
  });

  it('maps a uniform depth to a constant at 224 × 224', () => {
    const out = run(
      params(),
      window(3, 60, 80, () => 2500),
    );
    const expected = ((0.075 * 518.857901) / 2.5 / 75 - 0.0418) / 0.0295;
    for (let i = 0; i < out.length; i++)
      assert.ok(Math.abs(out[i]! - expected) < 1e-4, `out[${i}] = ${out[i]}`);
  });

  it('keeps depth increasing left to right as disparity decreasing (60×80 → 224)', () => {
    const out = run(
      params(),
      window(1, 60, 80, (_f, _y, x) => 800 + x * 40),
    );
    for (let y = 0; y < 224; y += 37) {
      for (let x = 1; x < 224; x++)
        assert.ok(out[y * 224 + x]! <= out[y * 224 + x - 1]! + 1e-5, `row ${y} at ${x}`);
    }
    assert.ok(out[0]! > out[223]!);
  });

  it('fills invalid pixels (0, NaN, negative) with the nearest valid disparity by default', () => {
    // Seeds: 1000 mm (0.5) top-left, 2000 (0.25) top-right, 4000 (0.125) bottom-left, 500 (1) bottom-right.
    // prettier-ignore
    const out = run(simple(), frame4([
      1000, 0, 0, 2000,
      NaN,  0, 0, -5,
      0,    0, 0, 0,
      4000, 0, 0, 500,
    ]));
    // prettier-ignore
    assertClose(out, [
      0.5,   0.5,   0.25, 0.25,
      0.5,   0.5,   0.25, 0.25,
      0.125, 0.125, 1,    1,
      0.125, 0.125, 1,    1,
    ]);
  });

  it("fills invalid pixels with minDisparity under fillInvalid: 'far'", () => {
    const out = run(
      simple({ fillInvalid: 'far' }),
      frame4([1000, 0, NaN, -1, ...new Array<number>(12).fill(2000)]),
    );
    assertClose(out, [0.5, 0.01, 0.01, 0.01, ...new Array<number>(12).fill(0.25)]);
  });

  it('treats a frame with no valid pixel as all far', () => {
    assertClose(run(simple(), frame4(new Array<number>(16).fill(0))), new Array<number>(16).fill(0.01));
    assertClose(run(simple(), frame4(new Array<number>(16).fill(NaN))), new Array<number>(16).fill(0.01));
  });

  it('reduces frames over valid readings only: newest valid, mean, max', () => {
    // Pixel 0 reads 1000, 2000, then drops out; all other pixels read 1000, 2000, 4000.
    const win = window(3, 4, 4, (f, y, x) => (y === 0 && x === 0 && f === 2 ? 0 : [1000, 2000, 4000][f]!));
    const last = run(simple({ reduce: 'last' }), win);
    assertClose([last[0]!, last[1]!], [0.25, 0.125]);
    const mean = run(simple({ reduce: 'mean' }), win);
    assertClose([mean[0]!, mean[1]!], [50_000 / 1500 / 100, 50_000 / (7000 / 3) / 100]);
    const max = run(simple({ reduce: 'max' }), win);
    assertClose([max[0]!, max[1]!], [0.25, 0.125]);
  });

  it('clamps bicubic overshoot back into the disparity range', () => {
    // A near surface (300 mm, disparity clamped to the maximum) next to a hole filled as far: the
    // resized step overshoots above 1 and below minDisparity / maxDisparity before the clamp.
    const p = params({ mean: 0, std: 1, fillInvalid: 'far' });
    const out = run(
      p,
      window(1, 60, 80, (_f, _y, x) => (x < 40 ? 300 : 0)),
    );
    const floor = 0.01 / 75;
    let min = Infinity;
    let max = -Infinity;
    for (const v of out) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(Math.abs(min - floor) < 1e-7 && max === 1, `range [${min}, ${max}]`);
    // Still a clean step: every row falls monotonically from near to far.
    for (let x = 1; x < 224; x++) assert.ok(out[x]! <= out[x - 1]!, `column ${x}`);
  });

  it('writes into a batch slot, reuses buffers, and touches nothing else', () => {
    const pre = new DepthPreprocessor({ params: params(), sampleShape: [60, 80] });
    const len = pre.outputLength;
    const batch = new Float32Array(2 * len + 5).fill(-9);
    const a = window(2, 60, 80, (_f, y, x) => ((x + y) % 7 === 0 ? 0 : 900 + 10 * x));
    const b = window(2, 60, 80, (f, y) => 3000 - 20 * y + f);
    pre.process(a.data, a.shape, 5, batch, len);
    pre.process(b.data, b.shape, 5, batch, len);
    assert.equal(batch.length, 2 * len + 5);
    assert.deepEqual(batch.subarray(len, 2 * len), run(params(), b));
    assert.ok(batch.subarray(0, len).every((v) => v === -9));
    assert.ok(batch.subarray(2 * len).every((v) => v === -9));
  });

  it('re-plans when the frame shape changes', () => {
    const pre = new DepthPreprocessor({ params: params(), sampleShape: [60, 80] });
    const out = new Float32Array(pre.outputLength);
    const other = window(1, 48, 64, (_f, y, x) => (x === 3 ? 0 : 1000 + y * x));
    pre.process(other.data, other.shape, 5, out, 0);
    assert.deepEqual(out, run(params(), other));
  });

  it('rejects bad shapes and parameters with a TypeError naming expected and actual', () => {
    const pre = new DepthPreprocessor({ params: params(), sampleShape: [60, 80] });
    const out = new Float32Array(pre.outputLength);
    const data = new Float32Array(60 * 80);
    assert.throws(() => pre.process(data, [60 * 80], 5, out, 0), {
      name: 'TypeError',
      message: /expected window shape \[n, h, w\].*got \[4800\]/,
    });
    assert.throws(() => pre.process(data, [1, 80, 61], 5, out, 0), {
      name: 'TypeError',
      message: /\[1, 80, 61\] needs 4880 values, got data of length 4800/,
    });
    assert.throws(() => pre.process(data, [1, 60, 80], 5, new Float32Array(100), 0), {
      name: 'TypeError',
      message: /output \[1, 224, 224\]/,
    });
    assert.throws(
      () => new DepthPreprocessor({ params: params({ minDisparity: 80 }), sampleShape: [60, 80] }),
      {
        name: 'TypeError',
        message: /maxDisparity \(75\) must be greater than minDisparity \(80\)/,
      },
    );
  });
});

describe('fillNearest', () => {
  it('copies the nearest valid value along a row; ties go to the first found', () => {
    const img = Float32Array.of(1, NaN, NaN, NaN, 5, NaN);
    fillNearest(img, 1, 6, new Int32Array(6));
    assert.deepEqual([...img], [1, 1, 1, 5, 5, 5]);
  });

  it('fills everything from a single seed', () => {
    const img = new Float32Array(12).fill(NaN);
    img[7] = 3;
    fillNearest(img, 3, 4, new Int32Array(12));
    assert.ok(img.every((v) => v === 3));
  });

  it('picks a seed at (or within a pixel of) the true nearest on random masks', () => {
    let state = 12345;
    const rnd = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let t = 0; t < 40; t++) {
      const h = 1 + Math.floor(rnd() * 40);
      const w = 1 + Math.floor(rnd() * 40);
      const density = 0.01 + rnd() * 0.2;
      const img = new Float32Array(h * w);
      const seeds: number[] = [];
      for (let i = 0; i < h * w; i++) {
        img[i] = rnd() < density ? i : NaN;
        if (img[i] === i) seeds.push(i);
      }
      if (seeds.length === 0) continue;
      const orig = img.slice();
      fillNearest(img, h, w, new Int32Array(h * w));
      const dist = (a: number, b: number) =>
        Math.hypot((a % w) - (b % w), Math.floor(a / w) - Math.floor(b / w));
      for (let i = 0; i < h * w; i++) {
        if (orig[i] === orig[i]) {
          assert.equal(img[i], orig[i]);
          continue;
        }
        const chosen = img[i]!;
        assert.ok(seeds.includes(chosen));
        const best = Math.min(...seeds.map((s) => dist(s, i)));
        assert.ok(
          dist(chosen, i) <= best + 1.5,
          `pixel ${i}: seed at ${dist(chosen, i)}, nearest at ${best}`,
        );
      }
    }
  });
});
