import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ComplexFft, RealFft } from '../../../src/encoders/audio/fft.js';

/** Deterministic values in [-1, 1). */
function noise(length: number, seed: number): Float64Array {
  const out = new Float64Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function naiveDft(re: Float64Array, im: Float64Array): { re: Float64Array; im: Float64Array } {
  const n = re.length;
  const outRe = new Float64Array(n);
  const outIm = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * ((k * j) % n)) / n;
      sr += re[j]! * Math.cos(a) - im[j]! * Math.sin(a);
      si += re[j]! * Math.sin(a) + im[j]! * Math.cos(a);
    }
    outRe[k] = sr;
    outIm[k] = si;
  }
  return { re: outRe, im: outIm };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, length = a.length): number {
  let max = 0;
  for (let i = 0; i < length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test('ComplexFft matches a naive DFT for every power of two up to 512', () => {
  for (let size = 2; size <= 512; size *= 2) {
    const re = noise(size, size);
    const im = noise(size, size + 1);
    const expected = naiveDft(re, im);
    const fft = new ComplexFft(size);
    fft.transform(re, im);
    assert.ok(maxAbsDiff(re, expected.re) < 1e-10 * size, `size ${size} real part`);
    assert.ok(maxAbsDiff(im, expected.im) < 1e-10 * size, `size ${size} imaginary part`);
  }
});

test('ComplexFft can be reused: a second transform of the same input gives the same output', () => {
  const fft = new ComplexFft(64);
  const run = () => {
    const re = noise(64, 7);
    const im = noise(64, 8);
    fft.transform(re, im);
    return [...re, ...im];
  };
  assert.deepEqual(run(), run());
});

test('RealFft.transform matches the naive DFT of a real signal (bins 0..N/2)', () => {
  for (const size of [4, 8, 16, 512]) {
    const x = noise(size, 3 * size);
    const expected = naiveDft(x, new Float64Array(size));
    const fft = new RealFft(size);
    const re = new Float64Array(fft.bins);
    const im = new Float64Array(fft.bins);
    fft.transform(x, re, im);
    assert.equal(fft.bins, size / 2 + 1);
    assert.ok(maxAbsDiff(re, expected.re, fft.bins) < 1e-10 * size, `size ${size} real part`);
    assert.ok(maxAbsDiff(im, expected.im, fft.bins) < 1e-10 * size, `size ${size} imaginary part`);
  }
});

test('RealFft.powerSpectrum is |X[k]|² of the naive DFT, zero padding included', () => {
  const x = new Float64Array(512);
  x.set(noise(400, 11)); // a 400-sample kaldi frame padded to 512
  const expected = naiveDft(x, new Float64Array(512));
  const fft = new RealFft(512);
  const power = new Float64Array(fft.bins);
  fft.powerSpectrum(x, power);
  for (let k = 0; k < fft.bins; k++) {
    const p = expected.re[k]! ** 2 + expected.im[k]! ** 2;
    assert.ok(Math.abs(power[k]! - p) <= 1e-9 * Math.max(1, p), `bin ${k}: ${power[k]} vs ${p}`);
  }
});

test('RealFft of a pure tone puts its energy in the tone bin', () => {
  const fft = new RealFft(512);
  const x = new Float64Array(512);
  for (let n = 0; n < 512; n++) x[n] = Math.cos((2 * Math.PI * 32 * n) / 512);
  const power = new Float64Array(fft.bins);
  fft.powerSpectrum(x, power);
  assert.ok(Math.abs(power[32]! - 256 ** 2) < 1e-6);
  for (let k = 0; k < fft.bins; k++) if (k !== 32) assert.ok(power[k]! < 1e-12, `bin ${k} leaks ${power[k]}`);
});

test('FFT sizes that are not powers of two are rejected at construction', () => {
  assert.throws(() => new ComplexFft(400), TypeError);
  assert.throws(() => new ComplexFft(1), TypeError);
  assert.throws(() => new RealFft(2), TypeError);
  assert.throws(() => new RealFft(1000), /power of two/);
});
