/**
 * The files of an event clip (issue #18), from spans copied out of the sensors' rings:
 * - audio: WAV, 16-bit PCM mono at the sensor's rate (channels averaged);
 * - IMU: CSV `t,ax,ay,az,gx,gy,gz`, t in seconds from the event's start (negative in the pre-roll);
 * - thermal, depth: PNG heat maps in the inferno colour map over the clip's value range (written
 *   in the PNG's tEXt chunks and in event.json): the key frame (the one inside the event that
 *   differs most from the last frame before it) and a contact sheet of up to 12 frames evenly
 *   spread over the clip. One PNG per frame would be 10-100 files per clip for little more.
 * Depth 0 (no reading) is drawn grey and left out of the range.
 */
import { encode } from 'fast-png';
import type { RingSpan } from './ring.js';

/** 44-byte RIFF/WAVE header + 16-bit little-endian PCM, mono. */
export function encodeWav(span: RingSpan): Buffer {
  const channels = span.sampleShape.reduce((a, b) => a * b, 1);
  const n = span.samples;
  const rate = Math.round(span.rateHz);
  const out = Buffer.alloc(44 + n * 2);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + n * 2, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16); // fmt chunk size
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28); // byte rate
  out.writeUInt16LE(2, 32); // block align
  out.writeUInt16LE(16, 34); // bits per sample
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(n * 2, 40);
  const d = span.data;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let c = 0; c < channels; c++) v += d[i * channels + c]!;
    v /= channels;
    const s = Math.max(-1, Math.min(1, Number.isFinite(v) ? v : 0));
    out.writeInt16LE(Math.round(s * 32767), 44 + i * 2);
  }
  return out;
}

export const IMU_CSV_HEADER = 't,ax,ay,az,gx,gy,gz';

/** IMU samples as CSV; t in seconds from `zeroWallMs` (the event's start), 3 decimals. */
export function imuCsv(span: RingSpan, zeroWallMs: number): string {
  const size = span.sampleShape.reduce((a, b) => a * b, 1);
  const periodMs = 1000 / span.rateHz;
  const lines: string[] = [IMU_CSV_HEADER];
  for (let i = 0; i < span.samples; i++) {
    const t = (span.fromWallMs + i * periodMs - zeroWallMs) / 1000;
    const row = [t.toFixed(3)];
    for (let k = 0; k < 6; k++) row.push(k < size ? fmt(span.data[i * size + k]!) : '');
    lines.push(row.join(','));
  }
  return lines.join('\n') + '\n';
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 1e5) / 1e5) : '';
}

/** Inferno, 256 entries of RGB: a polynomial fit of matplotlib's map (Matt Zucker, CC0). */
const INFERNO = (() => {
  const c = [
    [0.0002189403691192265, 0.001651004631001012, -0.01948089843709184],
    [0.1065134194856116, 0.5639564367884091, 3.932712388889277],
    [11.60249308247187, -3.972853965665698, -15.9423941062914],
    [-41.70399613139459, 17.43639888205313, 44.35414519872813],
    [77.162935699427, -33.40235894210092, -81.80730925738993],
    [-71.31942824499214, 32.62606426397723, 73.20951985803202],
    [25.13112622477341, -12.24266895238567, -23.07032500287172],
  ];
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    for (let ch = 0; ch < 3; ch++) {
      let v = c[6]![ch]!;
      for (let k = 5; k >= 0; k--) v = c[k]![ch]! + t * v;
      lut[i * 3 + ch] = Math.round(Math.max(0, Math.min(1, v)) * 255);
    }
  }
  return lut;
})();

/** RGB of a value in [0, 1] on the inferno map (tests check its ends). */
export function inferno(t: number): [number, number, number] {
  const i = Math.round(Math.max(0, Math.min(1, t)) * 255) * 3;
  return [INFERNO[i]!, INFERNO[i + 1]!, INFERNO[i + 2]!];
}

const INVALID_RGB = [128, 128, 128];

export interface HeatRange {
  min: number;
  max: number;
  unit: string;
}

/** The range of a span's valid values (depth: 0 is no reading). */
export function heatRange(span: RingSpan, modality: 'thermal' | 'depth'): HeatRange {
  let min = Infinity;
  let max = -Infinity;
  for (const v of span.data) {
    if (!Number.isFinite(v) || (modality === 'depth' && v === 0)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) min = max = 0;
  return { min: round2(min), max: round2(max), unit: modality === 'thermal' ? '°C' : 'mm' };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The key frame: the frame at or after `eventWallMs` that differs most (mean absolute difference)
 * from the last frame before it; the first frame when none precedes the event.
 */
export function keyFrame(span: RingSpan, eventWallMs: number, eventEndWallMs: number): number {
  const size = span.sampleShape.reduce((a, b) => a * b, 1);
  const periodMs = 1000 / span.rateHz;
  const at = (ms: number) => Math.floor((ms - span.fromWallMs) / periodMs);
  const startIdx = Math.max(0, Math.min(span.samples - 1, at(eventWallMs)));
  const endIdx = Math.max(startIdx, Math.min(span.samples - 1, at(eventEndWallMs)));
  const ref = startIdx - 1;
  if (ref < 0) return startIdx;
  let best = startIdx;
  let bestDiff = -1;
  for (let f = startIdx; f <= endIdx; f++) {
    let d = 0;
    for (let k = 0; k < size; k++) d += Math.abs(span.data[f * size + k]! - span.data[ref * size + k]!);
    if (d > bestDiff) {
      bestDiff = d;
      best = f;
    }
  }
  return best;
}

/** Frame indices for a contact sheet: up to `max`, evenly spread, first and last included. */
export function sheetFrames(frames: number, max = 12): number[] {
  if (frames <= max) return Array.from({ length: frames }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (frames - 1)) / (max - 1)));
}

/**
 * A PNG of frames laid out in a grid (`columns` across), each scaled (nearest neighbour) so its
 * longer side is about `tilePx`, 2 px apart; values coloured over `range`.
 */
export function heatMapPng(
  span: RingSpan,
  frames: readonly number[],
  opts: {
    range: HeatRange;
    modality: 'thermal' | 'depth';
    tilePx: number;
    columns: number;
    text: Record<string, string>;
  },
): Uint8Array {
  const [h = 1, w = 1] = span.sampleShape;
  const size = h * w;
  const scale = opts.tilePx / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * scale));
  const th = Math.max(1, Math.round(h * scale));
  const gap = frames.length > 1 ? 2 : 0;
  const cols = Math.min(opts.columns, frames.length);
  const rows = Math.ceil(frames.length / cols);
  const width = cols * tw + (cols - 1) * gap;
  const height = rows * th + (rows - 1) * gap;
  const rgb = new Uint8Array(width * height * 3); // gaps black
  const { min, max } = opts.range;
  const span01 = max > min ? max - min : 1;
  frames.forEach((f, k) => {
    const ox = (k % cols) * (tw + gap);
    const oy = Math.floor(k / cols) * (th + gap);
    for (let y = 0; y < th; y++) {
      const sy = Math.min(h - 1, Math.floor(y / scale));
      for (let x = 0; x < tw; x++) {
        const sx = Math.min(w - 1, Math.floor(x / scale));
        const v = span.data[f * size + sy * w + sx]!;
        const o = ((oy + y) * width + ox + x) * 3;
        if (!Number.isFinite(v) || (opts.modality === 'depth' && v === 0)) {
          rgb[o] = INVALID_RGB[0]!;
          rgb[o + 1] = INVALID_RGB[1]!;
          rgb[o + 2] = INVALID_RGB[2]!;
          continue;
        }
        const i = Math.round(Math.max(0, Math.min(1, (v - min) / span01)) * 255) * 3;
        rgb[o] = INFERNO[i]!;
        rgb[o + 1] = INFERNO[i + 1]!;
        rgb[o + 2] = INFERNO[i + 2]!;
      }
    }
  });
  return encode({ width, height, data: rgb, channels: 3, depth: 8, text: opts.text });
}
