/**
 * PcmSource: 16-bit little-endian PCM from ALSA, captured by `arecord` through node-record-lpcm16
 * (hardware reference §4). The wrapper fixes the library's known problems:
 * - it emits a *string* 'error' on stdout whenever the child exits non-zero, `stop()` included
 *   (issue #44): swallowed here, the exit status is reported as a ChildExitError instead;
 * - a missing `arecord` is an unhandled ChildProcess 'error' (ENOENT, #8): handled, reported as
 *   ChildExitError with `notFound: true`;
 * - orphaned / paused children: killed (SIGCONT, SIGTERM, SIGKILL) on abort and on process exit;
 * - `audioType: 'wav'` prefixes a header whose sizes are bogus maxima: parsed, checked, stripped.
 */
import { createRequire } from 'node:module';
import type lpcm16 from 'node-record-lpcm16';
import { childChunks } from './child.js';

export interface PcmCaptureOptions {
  /** ALSA PCM name for `arecord -D` (e.g. `plughw:1,0`); the ALSA default when omitted. */
  device?: string;
  sampleRateHz: number;
  channels: number;
  /** `raw` = plain S16_LE; `wav` = the same behind a RIFF header, which is validated and removed. */
  audioType: 'raw' | 'wav';
  /** Fail when no byte arrives for this long, ms (0 = never). */
  stallMs?: number;
}

/** Raw S16_LE interleaved bytes, chunked arbitrarily (a sample may straddle two chunks). */
export interface PcmSource {
  capture(opts: PcmCaptureOptions, signal: AbortSignal): AsyncIterable<Uint8Array>;
}

/** The WAV header in front of the PCM does not describe what was asked for. */
export class PcmHeaderError extends Error {
  override name = 'PcmHeaderError';
}

export interface PcmSourceDeps {
  /** node-record-lpcm16's `record`; injectable for tests. */
  record?: typeof lpcm16.record;
}

/** The real source: node-record-lpcm16 spawning `arecord` found on PATH. */
export function createPcmSource(deps: PcmSourceDeps = {}): PcmSource {
  // Loaded on first capture, not at import, so modules that only need the alsa-mic config schema
  // (`edgebind config check`) do not load it (issue 16).
  const record =
    deps.record ??
    ((o: Parameters<typeof lpcm16.record>[0]) => {
      const require = createRequire(import.meta.url);
      return (require('node-record-lpcm16') as typeof lpcm16).record(o);
    });
  return {
    capture(opts, signal) {
      const rec = record({
        recorder: 'arecord',
        sampleRate: opts.sampleRateHz,
        channels: opts.channels,
        audioType: opts.audioType,
        ...(opts.device !== undefined ? { device: opts.device } : {}),
      });
      // Attach at once: ENOENT arrives on the next tick.
      rec.process.on('error', () => {});
      const chunks = childChunks(rec.process, rec.stream(), {
        command: 'arecord',
        signal,
        stallMs: opts.stallMs ?? 0,
      });
      return opts.audioType === 'wav' ? stripWavHeader(chunks, opts) : chunks;
    },
  };
}

/**
 * Removes the RIFF header from a streamed WAV, checking it is 16-bit PCM at the requested rate and
 * channel count. Tolerates chunk boundaries anywhere, and extra chunks (LIST) before `data`.
 */
export async function* stripWavHeader(
  chunks: AsyncIterable<Uint8Array>,
  want: { sampleRateHz: number; channels: number },
): AsyncGenerator<Uint8Array> {
  let head = Buffer.alloc(0);
  let headerDone = false;
  for await (const chunk of chunks) {
    if (headerDone) {
      yield chunk;
      continue;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length > 64 * 1024) throw new PcmHeaderError('WAV header longer than 64 KiB');
    const dataAt = parseHeader(head, want);
    if (dataAt === undefined) continue;
    headerDone = true;
    if (dataAt < head.length) yield head.subarray(dataAt);
    head = Buffer.alloc(0);
  }
}

/** Offset of the first PCM byte, or undefined while more header bytes are needed. */
function parseHeader(b: Buffer, want: { sampleRateHz: number; channels: number }): number | undefined {
  if (b.length < 12) return undefined;
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') {
    throw new PcmHeaderError('capture did not start with a RIFF/WAVE header');
  }
  let off = 12;
  let fmtOk = false;
  while (off + 8 <= b.length) {
    const id = b.toString('ascii', off, off + 4);
    const size = b.readUInt32LE(off + 4);
    if (id === 'data') {
      if (!fmtOk) throw new PcmHeaderError('WAV data chunk before fmt chunk');
      return off + 8;
    }
    if (off + 8 + size > b.length) return undefined;
    if (id === 'fmt ') {
      const format = b.readUInt16LE(off + 8);
      const channels = b.readUInt16LE(off + 10);
      const rate = b.readUInt32LE(off + 12);
      const bits = b.readUInt16LE(off + 22);
      if (format !== 1 || bits !== 16 || channels !== want.channels || rate !== want.sampleRateHz) {
        throw new PcmHeaderError(
          `WAV header says format ${format}, ${bits} bit, ${channels} ch, ${rate} Hz; expected 16-bit PCM, ${want.channels} ch, ${want.sampleRateHz} Hz`,
        );
      }
      fmtOk = true;
    }
    off += 8 + size + (size & 1);
  }
  return undefined;
}
