/**
 * RIFF/WAVE reading and writing. Samples come back as float in [-1, 1] scaled the way torchaudio
 * does (int16 / 32768), one Float32Array per channel, so features match ImageBind's loader.
 */
import { FormatError } from '../../errors.js';

export interface WavAudio {
  sampleRateHz: number;
  /** One array per channel, equal lengths. */
  channels: Float32Array[];
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

export function decodeWav(bytes: Uint8Array, where = 'wav'): WavAudio {
  try {
    return decodeWavChecked(bytes, where);
  } catch (err) {
    // Anything the checks below missed still names the file, never a bare DataView RangeError.
    if (err instanceof RangeError)
      throw new FormatError(where, `truncated or corrupt WAV (${err.message})`, err);
    throw err;
  }
}

function decodeWavChecked(bytes: Uint8Array, where: string): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new FormatError(where, 'not a RIFF/WAVE file (missing RIFF....WAVE header)');
  }
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new FormatError(where, `fmt chunk too short (${size} bytes)`);
      const needed = Math.min(size, 40);
      if (body + needed > bytes.length)
        throw new FormatError(
          where,
          `file ends inside the fmt chunk at byte ${bytes.length} (the chunk at byte ${offset} needs ${needed} bytes, ${bytes.length - body} are there): truncated`,
        );
      let format = view.getUint16(body, true);
      if (format === WAVE_FORMAT_EXTENSIBLE && size >= 40) format = view.getUint16(body + 24, true);
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new FormatError(where, 'data chunk before fmt chunk');
      // Streams written by arecord to a pipe carry a size of 0 or 0xffffffff: read to the end.
      const end = size === 0 || size === 0xffffffff ? bytes.length : Math.min(bytes.length, body + size);
      return { sampleRateHz: fmt.rate, channels: decodeSamples(view, body, end, fmt, where) };
    }
    offset = body + size + (size & 1);
  }
  throw new FormatError(
    where,
    `no data chunk before the end of the file at byte ${bytes.length} (truncated?)`,
  );
}

function decodeSamples(
  view: DataView,
  start: number,
  end: number,
  fmt: { format: number; channels: number; rate: number; bits: number },
  where: string,
): Float32Array[] {
  const { format, channels, bits } = fmt;
  if (channels < 1) throw new FormatError(where, 'channel count is 0');
  if (fmt.rate < 1) throw new FormatError(where, 'sample rate is 0');
  const bytesPer = bits / 8;
  const isFloat = format === WAVE_FORMAT_IEEE_FLOAT && bits === 32;
  const isPcm = format === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bits);
  if (!isFloat && !isPcm) {
    throw new FormatError(where, `unsupported encoding (format ${format}, ${bits} bits); use PCM or float32`);
  }
  const frames = Math.floor((end - start) / (bytesPer * channels));
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  let p = start;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      let v: number;
      if (isFloat) v = view.getFloat32(p, true);
      else if (bits === 16) v = view.getInt16(p, true) / 32768;
      else if (bits === 8) v = (view.getUint8(p) - 128) / 128;
      else if (bits === 24) {
        const x = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16);
        v = x / 8388608;
      } else v = view.getInt32(p, true) / 2147483648;
      out[c]![i] = v;
      p += bytesPer;
    }
  }
  return out;
}

/** 16-bit PCM WAV (what arecord writes and every tool reads). Values are clamped to [-1, 1). */
export function encodeWav16(audio: WavAudio): Uint8Array {
  const channels = audio.channels.length;
  const frames = audio.channels[0]?.length ?? 0;
  const dataBytes = frames * channels * 2;
  const buf = new Uint8Array(44 + dataBytes);
  const view = new DataView(buf.buffer);
  const ascii = (o: number, s: string) => {
    for (let i = 0; i < 4; i++) buf[o + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, WAVE_FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, audio.sampleRateHz, true);
  view.setUint32(28, audio.sampleRateHz * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  let p = 44;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      const s = Math.max(-1, Math.min(32767 / 32768, audio.channels[c]![i]!));
      view.setInt16(p, Math.round(s * 32768), true);
      p += 2;
    }
  }
  return buf;
}
