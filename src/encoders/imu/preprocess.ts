/**
 * IMU window (`[n, 6]`: accel x,y,z m/s², gyro x,y,z rad/s at the sensor's rate) → ImageBind IMU
 * input `[6, samples]` (channel-major, `samples` at `sampleRateHz`, i.e. 2000 over 5 s).
 * Steps and choices: docs/preprocessing.md#imu.
 */
import type { ImuPreprocess } from '../manifest.js';
import { checkOut, formatShape } from '../image-ops.js';

/** accel x, y, z, gyro x, y, z: the window's and the model's channel order alike. */
export const IMU_CHANNELS = 6;

export interface ImuPreprocessorOptions {
  /** The pack manifest's `encoders.imu.preprocess`. */
  readonly params: ImuPreprocess;
  /** The sensor's sample rate; a window at another rate re-plans (no allocation). */
  readonly rateHz: number;
  /** Samples per window, if known, to plan up front; otherwise planned on the first window. */
  readonly windowSamples?: number;
}

export class ImuPreprocessor {
  /** Shape of one window's model input, `[6, samples]`. */
  readonly outputDims: readonly [6, number];
  /** Values one window writes into `out`. */
  readonly outputLength: number;
  private readonly params: ImuPreprocess;
  /** For output sample i: the input sample before it, and the interpolation weight of the next. */
  private readonly src: Int32Array;
  private readonly frac: Float64Array;
  private plannedSamples = -1;
  private plannedRateHz = -1;

  constructor(options: ImuPreprocessorOptions) {
    const { params, rateHz, windowSamples } = options;
    checkRate(rateHz);
    this.params = params;
    this.outputDims = [IMU_CHANNELS, params.samples];
    this.outputLength = IMU_CHANNELS * params.samples;
    this.src = new Int32Array(params.samples);
    this.frac = new Float64Array(params.samples);
    if (windowSamples !== undefined) {
      if (!Number.isInteger(windowSamples) || windowSamples < 1) {
        throw new TypeError(
          `ImuPreprocessor: windowSamples must be a positive integer, got ${windowSamples}`,
        );
      }
      this.plan(windowSamples, rateHz);
    }
  }

  /** Writes the model input for one window to `out[outOffset .. outOffset + outputLength)`. */
  process(
    data: Float32Array,
    shape: readonly number[],
    rateHz: number,
    out: Float32Array,
    outOffset: number,
  ): void {
    const n = shape[0] ?? 0;
    if (shape.length !== 2 || shape[1] !== IMU_CHANNELS || !Number.isInteger(n) || n < 1) {
      throw new TypeError(
        `ImuPreprocessor: expected window shape [n, 6] with n ≥ 1, got ${formatShape(shape)}`,
      );
    }
    if (data.length !== n * IMU_CHANNELS) {
      throw new TypeError(
        `ImuPreprocessor: window shape ${formatShape(shape)} needs ${n * IMU_CHANNELS} values, got data of length ${data.length}`,
      );
    }
    checkRate(rateHz);
    checkOut('ImuPreprocessor', out, outOffset, this.outputDims);
    if (n !== this.plannedSamples || rateHz !== this.plannedRateHz) this.plan(n, rateHz);

    const { src, frac } = this;
    const { samples, accelScale, gyroScale } = this.params;
    // Transpose [n, 6] → [6, samples]: channel c's i-th resampled value lands at c * samples + i.
    for (let c = 0; c < IMU_CHANNELS; c++) {
      const scale = c < 3 ? accelScale : gyroScale;
      const base = outOffset + c * samples;
      for (let i = 0; i < samples; i++) {
        const j = src[i]!;
        const f = frac[i]!;
        const a = data[j * IMU_CHANNELS + c]!;
        out[base + i] = (f === 0 ? a : a + (data[(j + 1) * IMU_CHANNELS + c]! - a) * f) * scale;
      }
    }
  }

  /**
   * Output sample i sits (samples − 1 − i) / sampleRateHz seconds before the window's newest
   * sample; input sample j sits (n − 1 − j) / rateHz before it. Times before the first input sample
   * repeat it (edge padding at the start); a longer window keeps only its newest part.
   */
  private plan(n: number, rateHz: number): void {
    const { samples, sampleRateHz } = this.params;
    const step = rateHz / sampleRateHz;
    for (let i = 0; i < samples; i++) {
      const p = n - 1 - (samples - 1 - i) * step;
      if (p <= 0) {
        this.src[i] = 0;
        this.frac[i] = 0;
      } else {
        const j = Math.min(Math.floor(p), n - 1);
        this.src[i] = j;
        this.frac[i] = j === n - 1 ? 0 : p - j;
      }
    }
    this.plannedSamples = n;
    this.plannedRateHz = rateHz;
  }
}

function checkRate(rateHz: number): void {
  if (!(rateHz > 0) || rateHz === Infinity) {
    throw new TypeError(`ImuPreprocessor: rateHz must be a positive finite number, got ${rateHz}`);
  }
}
