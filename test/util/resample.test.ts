import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SincResampler, resamplerFor } from '../../src/util/resample.js';

function sine(length: number, rateHz: number, parts: [freqHz: number, amplitude: number][]): Float32Array {
  const x = new Float32Array(length);
  for (let n = 0; n < length; n++) {
    let v = 0;
    for (const [f, a] of parts) v += a * Math.sin((2 * Math.PI * f * n) / rateHz);
    x[n] = v;
  }
  return x;
}

test('output length is ceil(N·new/orig): 115110 samples at 44.1 kHz become 41764', () => {
  const r = new SincResampler({ origRateHz: 44100, newRateHz: 16000 });
  assert.equal(r.outputLength(115110), 41764);
  assert.equal(r.process(new Float32Array(115110)).length, 41764);
  assert.equal(r.outputLength(220500), 80000);
  assert.equal(new SincResampler({ origRateHz: 48000, newRateHz: 16000 }).outputLength(144000), 48000);
  assert.equal(new SincResampler({ origRateHz: 8000, newRateHz: 16000 }).outputLength(1001), 2002);
  assert.equal(new SincResampler({ origRateHz: 22050, newRateHz: 16000 }).outputLength(1), 1);
});

test('rates are reduced by their gcd and the filter spans 6 zero crossings', () => {
  const r = new SincResampler({ origRateHz: 44100, newRateHz: 16000 });
  assert.equal(r.origStep, 441);
  assert.equal(r.newStep, 160);
  assert.equal(r.width, Math.ceil((6 * 441) / (160 * 0.99))); // 17
  assert.equal(r.taps, 2 * 17 + 441);
  const r48 = new SincResampler({ origRateHz: 48000, newRateHz: 16000 });
  assert.deepEqual([r48.origStep, r48.newStep, r48.width], [3, 1, 19]);
});

test('matches torchaudio.functional.resample sample for sample (values from torchaudio 0.13)', () => {
  // Input as in the script that produced the reference values: a 1 kHz sine plus a 5 kHz cosine.
  const x = new Float32Array(441 * 3);
  for (let n = 0; n < x.length; n++) {
    x[n] =
      0.5 * Math.sin((2 * Math.PI * 1000 * n) / 44100) + 0.1 * Math.cos((2 * Math.PI * 5000 * n) / 44100);
  }
  const y = resamplerFor(44100, 16000).process(x);
  assert.equal(y.length, 480);
  const expected: [number, number][] = [
    [0, 0.08660726994276047],
    [1, 0.16004088521003723],
    [100, 0.49980252981185913],
    [200, -0.10049561411142349],
    [479, -0.21740861237049103],
  ];
  for (const [i, v] of expected) assert.ok(Math.abs(y[i]! - v) <= 2e-7, `sample ${i}: ${y[i]} vs ${v}`);
});

test('a passband tone keeps its amplitude and a tone above the new Nyquist is removed', () => {
  const r = resamplerFor(48000, 16000);
  const pass = r.process(sine(48000, 48000, [[1000, 0.5]]));
  const stop = r.process(sine(48000, 48000, [[12000, 0.5]]));
  let passPeak = 0;
  let stopPeak = 0;
  // Skip the edges, where the zero padding shows.
  for (let i = 1000; i < 15000; i++) {
    passPeak = Math.max(passPeak, Math.abs(pass[i]!));
    stopPeak = Math.max(stopPeak, Math.abs(stop[i]!));
  }
  assert.ok(Math.abs(passPeak - 0.5) < 5e-3, `passband peak ${passPeak}`);
  assert.ok(stopPeak < 1e-3, `stopband peak ${stopPeak}`);
});

test('process writes into a caller buffer and rejects one that is too small', () => {
  const r = resamplerFor(44100, 16000);
  const input = sine(4410, 44100, [[440, 0.3]]);
  const out = new Float32Array(r.outputLength(4410));
  assert.equal(r.process(input, out), out);
  assert.deepEqual(out, r.process(input));
  assert.throws(() => r.process(input, new Float32Array(10)), RangeError);
});

test('resamplerFor builds each rate pair once; bad rates are a TypeError', () => {
  assert.equal(resamplerFor(44100, 16000), resamplerFor(44100, 16000));
  assert.notEqual(resamplerFor(44100, 16000), resamplerFor(48000, 16000));
  assert.throws(() => new SincResampler({ origRateHz: 44100.5, newRateHz: 16000 }), TypeError);
  assert.throws(() => new SincResampler({ origRateHz: 0, newRateHz: 16000 }), TypeError);
});
