import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ThermalPreprocessSchema } from '../../src/encoders/manifest.js';
import type { ThermalPreprocess } from '../../src/encoders/manifest.js';
import { ResizeCrop, centerCropGeometry, roundHalfEven } from '../../src/encoders/image-ops.js';
import { ThermalPreprocessor } from '../../src/encoders/thermal/preprocess.js';

const params = (input: Partial<Record<keyof ThermalPreprocess, unknown>> = {}): ThermalPreprocess =>
  ThermalPreprocessSchema.parse(input);

/** A `[n, h, w]` window whose frame f, pixel (y, x) is `at(f, y, x)`. */
function window(n: number, h: number, w: number, at: (f: number, y: number, x: number) => number) {
  const data = new Float32Array(n * h * w);
  for (let f = 0; f < n; f++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(f * h + y) * w + x] = at(f, y, x);
  return { data, shape: [n, h, w] as const };
}

function run(p: ThermalPreprocess, win: { data: Float32Array; shape: readonly number[] }): Float32Array {
  const pre = new ThermalPreprocessor({ params: p, sampleShape: win.shape.slice(1) });
  const out = new Float32Array(pre.outputLength);
  pre.process(win.data, win.shape, 4, out, 0);
  return out;
}

function assertAll(out: Float32Array, expected: number, tol = 1e-6) {
  for (let i = 0; i < out.length; i++) {
    assert.ok(Math.abs(out[i]! - expected) <= tol, `out[${i}] = ${out[i]}, expected ${expected}`);
  }
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

describe('image-ops', () => {
  it('rounds halves to even like Python', () => {
    assert.deepEqual([0.5, 1.5, 2.5, 37.5, -0.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 38, -0, 2, 3]);
  });

  it('computes torchvision Resize(224) + CenterCrop(224) geometry', () => {
    // 32 wide × 24 high (MLX90640): long side int(224·32/24) = 298, crop left round(74/2) = 37.
    assert.deepEqual(centerCropGeometry(24, 32, 224), { resizedH: 224, resizedW: 298, top: 0, left: 37 });
    assert.deepEqual(centerCropGeometry(32, 24, 224), { resizedH: 298, resizedW: 224, top: 37, left: 0 });
    assert.deepEqual(centerCropGeometry(8, 8, 224), { resizedH: 224, resizedW: 224, top: 0, left: 0 });
    // int(5·4/3) = 6; (6 − 5)/2 = 0.5 rounds to even 0.
    assert.deepEqual(centerCropGeometry(3, 4, 5), { resizedH: 5, resizedW: 6, top: 0, left: 0 });
  });

  // Goldens: Pillow 9.4 `Image.fromarray(float32, 'F').resize((w', h'), BICUBIC|BILINEAR)`, then the crop.
  it('matches Pillow bicubic on a float image (upscale)', () => {
    const rc = new ResizeCrop({ inH: 3, inW: 4, size: 5, interpolation: 'bicubic' });
    const out = new Float32Array(25);
    rc.run(Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20), 0, out, 0);
    // prettier-ignore
    assertClose(out, [
      -0.3676763, 0.1098779, 0.8647798, 1.531447, 2.286349, 1.158091, 1.635645, 2.395211, 3.080535, 3.598771,
      3.934211, 4.411765, 5.166667, 5.833333, 6.588235, 6.71033, 7.187884, 7.875155, 8.271299, 12.45786,
      8.236097, 8.713652, 9.356525, 9.575079, 16.01443,
    ], 2e-5);
  });

  it('matches Pillow bilinear on a float image (upscale)', () => {
    const rc = new ResizeCrop({ inH: 3, inW: 4, size: 5, interpolation: 'bilinear' });
    const out = new Float32Array(25);
    rc.run(Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20), 0, out, 0);
    // prettier-ignore
    assertClose(out, [
      0, 0.5, 1.166667, 1.833333, 2.5, 1.6, 2.1, 2.766667, 3.433333, 4.1, 4, 4.5, 5.166667, 5.833333, 6.5, 6.4,
      6.9, 7.566667, 8.233334, 11.6, 8, 8.5, 9.166667, 9.833333, 15,
    ], 2e-5);
  });

  it('matches Pillow bicubic when shrinking (antialiased kernel)', () => {
    const rc = new ResizeCrop({ inH: 6, inW: 5, size: 2, interpolation: 'bicubic' });
    const out = new Float32Array(4);
    rc.run(
      Float32Array.from({ length: 30 }, (_, i) => i),
      0,
      out,
      0,
    );
    assertClose(out, [6.514673, 8.801117, 20.19888, 22.48533], 2e-5);
  });

  it('is the identity when the input is already size × size', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => (i * 7) % 5);
    for (const interpolation of ['bicubic', 'bilinear'] as const) {
      const out = new Float32Array(16);
      new ResizeCrop({ inH: 4, inW: 4, size: 4, interpolation }).run(src, 0, out, 0);
      assertClose(out, src, 1e-6);
    }
  });
});

describe('ThermalPreprocessor', () => {
  it('outputs [1, 224, 224] by default', () => {
    const pre = new ThermalPreprocessor({ params: params(), sampleShape: [24, 32] });
    assert.deepEqual(pre.outputDims, [1, 224, 224]);
    assert.equal(pre.outputLength, 224 * 224);
  });

  it('maps a uniform frame in a fixed range to a constant', () => {
    const p = params({ range: { mode: 'fixed', minC: 20, maxC: 40 } });
    assertAll(
      run(
        p,
        window(1, 24, 32, () => 30),
      ),
      0.5,
    );
    assertAll(
      run(
        p,
        window(1, 24, 32, () => 25),
      ),
      0.25,
    );
    // Outside the range clamps.
    assertAll(
      run(
        p,
        window(1, 24, 32, () => 55),
      ),
      1,
      0,
    );
    assertAll(
      run(
        p,
        window(1, 24, 32, () => -5),
      ),
      0,
      0,
    );
  });

  it('maps a flat frame under minmax to mid-grey instead of dividing by zero', () => {
    const out = run(
      params(),
      window(2, 8, 8, () => 21.5),
    );
    assert.ok(out.every((v) => Number.isFinite(v)));
    assertAll(out, 0.5);
  });

  it('stretches a frame min-max to exactly [0, 1] (no resize: size 8 on 8×8)', () => {
    const p = params({ size: 8 });
    const out = run(
      p,
      window(1, 8, 8, (_f, y, x) => 20 + (y * 8 + x) / 4),
    );
    assert.equal(out[0], 0);
    assert.ok(Math.abs(out[63]! - 1) < 1e-6);
    assertClose(out.subarray(0, 3), [0, 1 / 63, 2 / 63], 1e-6);
  });

  it('keeps low-contrast noise low-contrast with minSpanC', () => {
    const p = params({ size: 8, range: { mode: 'minmax', minSpanC: 2 } });
    // 20.0 … 20.5 °C, mid 20.25: mapped over [19.25, 21.25].
    const out = run(
      p,
      window(1, 8, 8, (_f, y) => (y < 4 ? 20 : 20.5)),
    );
    assertClose([out[0]!, out[63]!], [0.375, 0.625], 1e-6);
    // A real scene wider than minSpanC is still stretched fully.
    const wide = run(
      p,
      window(1, 8, 8, (_f, y) => (y < 4 ? 20 : 34)),
    );
    assertClose([wide[0]!, wide[63]!], [0, 1], 1e-6);
  });

  it('keeps a horizontal gradient monotone through the 24×32 → 224 upscale', () => {
    const out = run(
      params(),
      window(1, 24, 32, (_f, _y, x) => 18 + x * 0.5),
    );
    for (let y = 0; y < 224; y++) {
      for (let x = 1; x < 224; x++) {
        assert.ok(out[y * 224 + x]! >= out[y * 224 + x - 1]! - 1e-6, `row ${y} not monotone at ${x}`);
      }
      // Constant down each column.
      assert.ok(Math.abs(out[y * 224 + 100]! - out[100]!) < 1e-6);
    }
    // Centre crop drops 37 resized columns each side, so the ends are inside (0, 1).
    assert.ok(out[0]! > 0.05 && out[0]! < 0.2, `left ${out[0]}`);
    assert.ok(out[223]! > 0.8 && out[223]! < 0.95, `right ${out[223]}`);
  });

  it('clamps bicubic overshoot around a hot spot to [0, 1]', () => {
    const win = window(1, 24, 32, (_f, y, x) => (y === 12 && x === 16 ? 36 : 20));
    // The raw bicubic upscale of the [0, 1] frame rings below 0 around the hot pixel …
    const unit = Float32Array.from(win.data, (t) => (t - 20) / 16);
    const raw = new Float32Array(224 * 224);
    new ResizeCrop({ inH: 24, inW: 32, size: 224, interpolation: 'bicubic' }).run(unit, 0, raw, 0);
    assert.ok(Math.min(...raw) < -0.01);
    // … and the preprocessor clamps it, as the reference's 8-bit image does.
    const out = run(params(), win);
    let min = Infinity;
    let max = -Infinity;
    for (const v of out) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.equal(min, 0);
    assert.ok(max > 0.9 && max <= 1, `max ${max}`);
  });

  it('reduces frames with last / mean / max', () => {
    const frames = [10, 60, 20];
    const win = window(3, 8, 8, (f) => frames[f]!);
    const fixed = { mode: 'fixed', minC: 0, maxC: 100 };
    assertAll(run(params({ size: 8, range: fixed, reduce: 'last' }), win), 0.2);
    assertAll(run(params({ size: 8, range: fixed, reduce: 'mean' }), win), 0.3);
    assertAll(run(params({ size: 8, range: fixed, reduce: 'max' }), win), 0.6);
  });

  it('skips non-finite readings: last falls back to the previous frame, none at all maps to 0', () => {
    const p = params({ size: 8, range: { mode: 'fixed', minC: 0, maxC: 100 } });
    const win = window(2, 8, 8, (f, y, x) => {
      if (y === 0 && x === 0) return f === 0 ? 40 : NaN; // dropped in the newest frame
      if (y === 0 && x === 1) return NaN; // dead pixel
      return f === 0 ? 10 : 50;
    });
    const out = run(p, win);
    assertClose([out[0]!, out[1]!, out[2]!], [0.4, 0, 0.5], 1e-6);
    const mean = run(params({ size: 8, range: { mode: 'fixed', minC: 0, maxC: 100 }, reduce: 'mean' }), win);
    assertClose([mean[0]!, mean[1]!, mean[2]!], [0.4, 0, 0.3], 1e-6);
  });

  it('writes into a batch slot, reuses buffers, and touches nothing else', () => {
    const pre = new ThermalPreprocessor({ params: params(), sampleShape: [24, 32] });
    const len = pre.outputLength;
    const batch = new Float32Array(3 * len).fill(-7);
    const a = window(1, 24, 32, (_f, y, x) => 20 + x + y);
    const b = window(1, 24, 32, (_f, y, x) => 30 - x * 0.3 + (y % 3));
    pre.process(a.data, a.shape, 4, batch, len);
    pre.process(b.data, b.shape, 4, batch, len);
    assert.equal(batch.length, 3 * len);
    assert.deepEqual(batch.subarray(len, 2 * len), run(params(), b));
    assert.ok(batch.subarray(0, len).every((v) => v === -7));
    assert.ok(batch.subarray(2 * len).every((v) => v === -7));
  });

  it('re-plans when the frame shape changes', () => {
    const pre = new ThermalPreprocessor({ params: params(), sampleShape: [24, 32] });
    const out = new Float32Array(pre.outputLength);
    const small = window(2, 8, 8, (_f, y, x) => 20 + x * y);
    pre.process(small.data, small.shape, 10, out, 0);
    assert.deepEqual(out, run(params(), small));
    const big = window(1, 24, 32, (_f, y, x) => 20 + x - y);
    pre.process(big.data, big.shape, 4, out, 0);
    assert.deepEqual(out, run(params(), big));
  });

  it('rejects bad shapes with a TypeError naming expected and actual', () => {
    const pre = new ThermalPreprocessor({ params: params(), sampleShape: [24, 32] });
    const out = new Float32Array(pre.outputLength);
    const data = new Float32Array(24 * 32);
    assert.throws(() => pre.process(data, [24, 32], 4, out, 0), {
      name: 'TypeError',
      message: /expected window shape \[n, h, w\].*got \[24, 32\]/,
    });
    assert.throws(() => pre.process(data, [0, 24, 32], 4, out, 0), {
      name: 'TypeError',
      message: /got \[0, 24, 32\]/,
    });
    assert.throws(() => pre.process(data, [2, 24, 32], 4, out, 0), {
      name: 'TypeError',
      message: /\[2, 24, 32\] needs 1536 values, got data of length 768/,
    });
    assert.throws(() => pre.process(data, [1, 24, 32], 4, out, 1), {
      name: 'TypeError',
      message: /output \[1, 224, 224\] \(50176 values\) at offset 1 does not fit in out of length 50176/,
    });
    assert.throws(() => new ThermalPreprocessor({ params: params(), sampleShape: [24] }), {
      name: 'TypeError',
      message: /expected sampleShape \[h, w\], got \[24\]/,
    });
    assert.throws(
      () =>
        new ThermalPreprocessor({
          params: params({ range: { mode: 'fixed', minC: 30, maxC: 30 } }),
          sampleShape: [8, 8],
        }),
      { name: 'TypeError', message: /maxC \(30\) must be greater than range.minC \(30\)/ },
    );
  });
});
