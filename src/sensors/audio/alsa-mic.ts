/**
 * ALSA microphone: `arecord` (via node-record-lpcm16, see bus/pcm.ts) → S16_LE mono 16 kHz →
 * audio frames of `frameMs` in [-1, 1] (int16 / 32768, as torchaudio scales them).
 *
 * Capture is restarted with backoff when arecord exits, stalls, or sends a bad WAV header; a
 * missing arecord is a DeviceError with a clear message (retrying cannot install it).
 */
import { z } from 'zod';
import { sensorBase } from '../../config/sensor-base.js';
import { DeviceError } from '../../errors.js';
import type { Clock } from '../../pipeline/clock.js';
import type { Frame } from '../../pipeline/types.js';
import { ChildExitError } from '../bus/child.js';
import { createPcmSource, type PcmSource } from '../bus/pcm.js';
import { SampleTimer, reconnectFields, reconnectingSource } from '../reconnect.js';
import type { FrameSource } from '../types.js';

export const AUDIO_RATE_HZ = 16000;

export const AlsaMicConfigSchema = z.strictObject({
  ...sensorBase,
  modality: z.literal('audio').default('audio').meta({ description: 'Always audio.' }),
  driver: z.literal('alsa-mic'),
  device: z.string().min(1).optional().meta({
    description:
      'ALSA capture PCM for `arecord -D`, e.g. `plughw:1,0` or `default` (see `arecord -L`). Default: the ALSA default device. Needs restart.',
  }),
  audioType: z.enum(['raw', 'wav']).default('raw').meta({
    description: 'How arecord streams: `raw` S16_LE, or `wav` (44-byte header, checked and stripped).',
  }),
  frameMs: z.int().min(10).max(1000).default(100).meta({ description: 'Milliseconds of audio per frame.' }),
  stallMs: z.int().min(0).max(60_000).default(2000).meta({
    description: 'Restart capture when arecord sends nothing for this long, ms (0 = never).',
  }),
  ...reconnectFields,
});
export type AlsaMicConfig = z.infer<typeof AlsaMicConfigSchema>;

export interface AlsaMicDeps {
  /** Default: node-record-lpcm16 spawning `arecord` from PATH. */
  pcm?: PcmSource;
}

/** Frame source for an ALSA microphone. */
export function alsaMicFrames(config: AlsaMicConfig, deps: AlsaMicDeps = {}): FrameSource {
  const pcm = deps.pcm ?? createPcmSource();
  return reconnectingSource({
    sensorId: config.id,
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    // Only a missing executable is final; everything else is retried.
    isFatal: (err) => err instanceof DeviceError && !err.disconnected,
    session: (signal, _health, ctx) => captureSession(config, pcm, ctx.clock, signal),
  });
}

async function* captureSession(
  config: AlsaMicConfig,
  pcm: PcmSource,
  clock: Clock,
  signal: AbortSignal,
): AsyncGenerator<Frame> {
  const frameSamples = Math.round((config.frameMs * AUDIO_RATE_HZ) / 1000);
  // arecord's pipe and our queue hold up to ~2 s of audio: that much lag is backlog, not a gap.
  const timer = new SampleTimer(clock, AUDIO_RATE_HZ, { maxLagMs: 3000 });
  let frame = new Float32Array(frameSamples);
  let fill = 0;
  // One byte of a sample split across chunks.
  let carry = -1;
  try {
    const bytes = pcm.capture(
      {
        ...(config.device !== undefined ? { device: config.device } : {}),
        sampleRateHz: AUDIO_RATE_HZ,
        channels: 1,
        audioType: config.audioType,
        stallMs: config.stallMs,
      },
      signal,
    );
    for await (const chunk of bytes) {
      let i = 0;
      if (carry >= 0 && chunk.length > 0) {
        frame[fill++] = toInt16(carry, chunk[0]!) / 32768;
        carry = -1;
        i = 1;
        if (fill === frameSamples) yield emit();
      }
      for (; i + 1 < chunk.length; i += 2) {
        frame[fill++] = toInt16(chunk[i]!, chunk[i + 1]!) / 32768;
        if (fill === frameSamples) yield emit();
      }
      if (i < chunk.length) carry = chunk[i]!;
    }
  } catch (err) {
    throw deviceError(config.id, err);
  }

  function emit(): Frame {
    const data = frame;
    frame = new Float32Array(frameSamples);
    fill = 0;
    return {
      sensorId: config.id,
      modality: 'audio',
      tMs: timer.stamp(frameSamples),
      rateHz: AUDIO_RATE_HZ,
      data,
      shape: [frameSamples],
    };
  }
}

function toInt16(lo: number, hi: number): number {
  const v = lo | (hi << 8);
  return v >= 0x8000 ? v - 0x10000 : v;
}

function deviceError(sensorId: string, err: unknown): DeviceError {
  if (err instanceof DeviceError) return err;
  if (err instanceof ChildExitError && err.info.notFound) {
    return new DeviceError(
      sensorId,
      `${sensorId}: arecord not found on PATH; install alsa-utils (apt install alsa-utils)`,
      { cause: err },
    );
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new DeviceError(sensorId, `${sensorId}: audio capture failed: ${msg}`, {
    disconnected: true,
    cause: err,
  });
}
