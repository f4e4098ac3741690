import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KaldiFbank, LOG_FLOOR, kaldiMelBank, melScale } from '../../../src/encoders/audio/fbank.js';
import { Float32RowSum } from '../../../src/encoders/audio/float32-sum.js';

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected}`);

function tone(length: number, freqHz: number, amplitude = 0.5): Float32Array {
  const x = new Float32Array(length);
  for (let n = 0; n < length; n++) x[n] = amplitude * Math.sin((2 * Math.PI * freqHz * n) / 16000);
  return x;
}

test('mel scale and filter edges are the ones in the reference (§3.3 step 7.4)', () => {
  close(melScale(20), 31.7486, 1e-4, 'mel(20)');
  close(melScale(8000), 2840.0377, 1e-4, 'mel(8000)');
  const bank = kaldiMelBank({ numMelBins: 128, fftSize: 512, sampleRateHz: 16000 });
  const delta = (melScale(8000) - melScale(20)) / 129;
  close(delta, 21.76968, 1e-5, 'Δ');
  for (const m of [0, 1, 63, 127]) {
    close(bank.leftMel[m]!, melScale(20) + m * delta, 1e-3, `left edge of filter ${m}`);
    close(bank.centerMel[m]!, melScale(20) + (m + 1) * delta, 1e-3, `centre of filter ${m}`);
    close(bank.rightMel[m]!, melScale(20) + (m + 2) * delta, 1e-3, `right edge of filter ${m}`);
  }
  close(bank.rightMel[127]!, melScale(8000), 1e-3, 'last right edge is Nyquist');
});

test('mel filter weights match torchaudio get_mel_banks (values from torchaudio 0.13)', () => {
  const bank = kaldiMelBank({ numMelBins: 128, fftSize: 512, sampleRateHz: 16000 });
  const weight = (m: number, k: number) => {
    const i = k - bank.firstBin[m]!;
    return i >= 0 && i < bank.offsets[m + 1]! - bank.offsets[m]! ? bank.weights[bank.offsets[m]! + i]! : 0;
  };
  // [filter, FFT bin, torchaudio weight]
  const expected: [number, number, number][] = [
    [0, 1, 0.8026372790336609],
    [0, 2, 0],
    [1, 2, 0.03096625953912735],
    [2, 2, 0.9690337181091309],
    [50, 39, 0.7430777549743652],
    [50, 40, 0.42057451605796814],
    [100, 137, 0.1312900185585022],
    [100, 140, 0.9034417867660522],
    [127, 246, 0.10625889897346497],
    [127, 251, 0.9382184147834778],
    [127, 255, 0.18628671765327454],
  ];
  for (const [m, k, w] of expected) close(weight(m, k), w, 2e-5, `filter ${m} bin ${k}`);
  // Filter 0 sees only bin 1 (31.25 Hz); the last filter ends at bin 255; bin 256 (Nyquist) is never used.
  assert.equal(bank.firstBin[0], 1);
  assert.equal(bank.offsets[1]! - bank.offsets[0]!, 1);
  for (let m = 0; m < 128; m++) {
    const last = bank.firstBin[m]! + bank.offsets[m + 1]! - bank.offsets[m]! - 1;
    assert.ok(last <= 255, `filter ${m} reaches bin ${last}`);
    for (let w = bank.offsets[m]!; w < bank.offsets[m + 1]!; w++) {
      assert.ok(bank.weights[w]! > 0 && bank.weights[w]! <= 1, `filter ${m} weight ${bank.weights[w]}`);
    }
  }
  assert.equal(bank.firstBin[127]! + bank.offsets[128]! - bank.offsets[127]! - 1, 255);
});

test('Float32RowSum reproduces torch float32 sums bit for bit (values from torch 1.13)', () => {
  const input = (n: number) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) * 0.5 + 1e-3 * i;
    return x;
  };
  const summer = new Float32RowSum();
  // 400: one kaldi frame; 32000: a 2 s clip (exercises the cascade); 1001 and 7: ragged tails.
  assert.equal(summer.sum(input(400), 0, 400), 82.47760009765625);
  assert.equal(summer.sum(input(32000), 0, 32000), 511986.25);
  assert.equal(summer.sum(input(1001), 0, 1001), 500.6584167480469);
  assert.equal(summer.sum(input(7), 0, 7), 2.363661766052246);
  // An offset into a longer array is the same as the slice.
  const long = new Float32Array(1400);
  long.set(input(400), 1000);
  assert.equal(summer.sum(long, 1000, 400), 82.47760009765625);
});

test('frame count follows kaldi snip_edges: 1 + ⌊(L − 400)/160⌋', () => {
  const fbank = new KaldiFbank();
  assert.equal(fbank.windowSize, 400);
  assert.equal(fbank.windowShift, 160);
  assert.equal(fbank.paddedSize, 512);
  assert.equal(fbank.numFrames(32000), 198);
  assert.equal(fbank.numFrames(400), 1);
  assert.equal(fbank.numFrames(559), 1);
  assert.equal(fbank.numFrames(560), 2);
  assert.equal(fbank.numFrames(399), 0);
  const out = new Float32Array(198 * 128);
  assert.equal(fbank.compute(tone(32000, 440), 32000, out, 0), 198);
});

test('fewer samples than one frame is a RangeError, as kaldi asserts', () => {
  const fbank = new KaldiFbank();
  assert.throws(() => fbank.compute(new Float32Array(399), 399, new Float32Array(128), 0), {
    name: 'RangeError',
    message: /399 samples is shorter than one 400-sample frame/,
  });
  assert.throws(() => fbank.compute(new Float32Array(400), 400, new Float32Array(127), 0), RangeError);
});

test('silence gives the log floor in every band', () => {
  const fbank = new KaldiFbank();
  const out = new Float32Array(3 * 128);
  fbank.compute(new Float32Array(720), 720, out, 0);
  for (const v of out) assert.equal(v, Math.fround(Math.log(LOG_FLOOR)));
});

test('a 1 kHz tone peaks in the mel band around 1 kHz', () => {
  const fbank = new KaldiFbank();
  const out = new Float32Array(198 * 128);
  fbank.compute(tone(32000, 1000), 32000, out, 0);
  const frame = out.subarray(100 * 128, 101 * 128);
  const peak = frame.indexOf(Math.max(...frame));
  const bank = fbank.melBank;
  assert.ok(
    bank.leftMel[peak]! < melScale(1000) && melScale(1000) < bank.rightMel[peak]!,
    `peak band ${peak}`,
  );
});

test('mel-major layout with normalisation is the transposed, normalised frame-major output', () => {
  const plain = new KaldiFbank();
  const imagebind = new KaldiFbank({ layout: 'mel-major', maxFrames: 204, mean: -4.268, std: 9.138 });
  const x = tone(32000, 300);
  const a = new Float32Array(198 * 128);
  const b = new Float32Array(10 + 128 * 204);
  plain.compute(x, 32000, a, 0);
  assert.equal(imagebind.compute(x, 32000, b, 10), 198);
  for (let f = 0; f < 198; f += 7) {
    for (let m = 0; m < 128; m += 5) {
      close(b[10 + m * 204 + f]!, (a[f * 128 + m]! + 4.268) / 9.138, 1e-6, `frame ${f} band ${m}`);
    }
  }
  assert.equal(b[0], 0, 'nothing written before the offset');
});

test('maxFrames crops: frames past it are not written', () => {
  const fbank = new KaldiFbank({ maxFrames: 2 });
  const out = new Float32Array(3 * 128).fill(123);
  assert.equal(fbank.compute(tone(32000, 440), 32000, out, 0), 2);
  assert.ok(out.subarray(0, 256).every((v) => v !== 123));
  assert.ok(out.subarray(256).every((v) => v === 123));
  assert.throws(() => new KaldiFbank({ layout: 'mel-major' }), TypeError);
});
