/**
 * ImageBind's clip sampler (pytorchvideo ConstantClipsPerVideoSampler): `clips` clips of
 * `durationS` seconds spread evenly over the audio. Durations are float64 as in Python, and the
 * clip arithmetic is exact rational (pytorchvideo uses `Fraction`), so sample offsets never
 * suffer float rounding: clip k covers [⌊s_k·rate⌋, ⌊(s_k + durationS)·rate⌋) with
 * s_k = k·max(N/rate − durationS, 0)/(clips − 1).
 */

export interface ClipRange {
  /** Clip start in seconds (rounded to float64 for display). */
  readonly startS: number;
  /** First sample, inclusive. */
  readonly start: number;
  /** Last sample, exclusive; at most the input length. */
  readonly end: number;
}

export interface ClipSamplerOptions {
  lengthSamples: number;
  sampleRateHz: number;
  durationS: number;
  clips: number;
}

/** x ≥ 0 (finite) as m·2^e with integer m. */
function dyadic(x: number): { m: bigint; e: number } {
  let e = 0;
  while (!Number.isInteger(x)) {
    x *= 2;
    e--;
  }
  return { m: BigInt(x), e };
}

export function clipRanges(options: ClipSamplerOptions): ClipRange[] {
  const { lengthSamples, sampleRateHz, durationS, clips } = options;
  if (!Number.isInteger(lengthSamples) || lengthSamples < 0) {
    throw new TypeError(`clipRanges: lengthSamples must be a non-negative integer, got ${lengthSamples}`);
  }
  if (!Number.isInteger(sampleRateHz) || sampleRateHz <= 0) {
    throw new TypeError(`clipRanges: sampleRateHz must be a positive integer, got ${sampleRateHz}`);
  }
  if (!(durationS > 0) || !Number.isFinite(durationS)) {
    throw new TypeError(`clipRanges: durationS must be positive, got ${durationS}`);
  }
  if (!Number.isInteger(clips) || clips < 1)
    throw new TypeError(`clipRanges: clips must be ≥ 1, got ${clips}`);
  const maxStart = Math.max(lengthSamples / sampleRateHz - durationS, 0);
  const divisor = Math.max(clips - 1, 1);
  const f = dyadic(maxStart);
  const d = dyadic(durationS);
  // Common denominator 2^-low·divisor keeps everything integral.
  const low = Math.min(f.e, d.e, 0);
  const fNum = f.m << BigInt(f.e - low);
  const dNum = d.m << BigInt(d.e - low);
  const den = BigInt(divisor) << BigInt(-low);
  const rate = BigInt(sampleRateHz);
  const ranges: ClipRange[] = [];
  for (let k = 0; k < clips; k++) {
    const startNum = BigInt(k) * fNum;
    const start = Number((startNum * rate) / den);
    const end = Number(((startNum + BigInt(divisor) * dNum) * rate) / den);
    ranges.push({ startS: (k * maxStart) / divisor, start, end: Math.min(end, lengthSamples) });
  }
  return ranges;
}
