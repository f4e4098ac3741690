/**
 * VideoDevice: raw frames from a V4L2 node, streamed by a `v4l2-ctl` child to its stdout
 * (hardware reference §3.4):
 *
 *   v4l2-ctl -d /dev/videoN --set-fmt-video=width=W,height=H,pixelformat='Z16 '
 *            [--set-parm=FPS] --stream-mmap --stream-count=0 --stream-to=-
 *
 * The pixel format is exactly four characters, so `Z16` / `Y16` carry a trailing space (passed as
 * one argv element, no shell involved). Frames are concatenated with no header; stdout is cut into
 * `bytesPerLine × height` pieces whatever the pipe's chunk boundaries are.
 */
import { spawn } from 'node:child_process';
import { childChunks } from './child.js';

export interface VideoStreamOptions {
  /** V4L2 node, e.g. `/dev/video2`. */
  device: string;
  width: number;
  height: number;
  /** Four-character code, e.g. `'Z16 '`, `'Y16 '` (trailing space included). */
  pixelFormat: string;
  /** Bytes per image row; default `width × 2` (16-bit formats, no padding). */
  bytesPerLine?: number;
  /** Frame rate to request with `--set-parm`; the driver default when omitted. */
  fps?: number;
  /** Fail when no byte arrives for this long, ms (0 = never). */
  stallMs?: number;
}

/**
 * One buffer per frame, exactly `bytesPerLine × height` bytes. The same buffer is reused for the
 * next frame: read (or copy) it before asking for the next one.
 */
export interface VideoDevice {
  frames(opts: VideoStreamOptions, signal: AbortSignal): AsyncIterable<Uint8Array>;
}

export interface VideoDeviceDeps {
  /** Executable to run; default `v4l2-ctl` from PATH. */
  command?: string;
  env?: NodeJS.ProcessEnv;
}

/** The argv passed to v4l2-ctl for `opts`. */
export function v4l2CtlArgs(opts: VideoStreamOptions): string[] {
  if (opts.pixelFormat.length !== 4) {
    throw new TypeError(`pixelFormat must be exactly 4 characters (e.g. 'Z16 '), got '${opts.pixelFormat}'`);
  }
  return [
    '-d',
    opts.device,
    `--set-fmt-video=width=${opts.width},height=${opts.height},pixelformat=${opts.pixelFormat}`,
    ...(opts.fps !== undefined ? [`--set-parm=${opts.fps}`] : []),
    '--stream-mmap',
    '--stream-count=0',
    '--stream-to=-',
  ];
}

export function createVideoDevice(deps: VideoDeviceDeps = {}): VideoDevice {
  const command = deps.command ?? 'v4l2-ctl';
  return {
    frames(opts, signal) {
      const args = v4l2CtlArgs(opts);
      const frameBytes = (opts.bytesPerLine ?? opts.width * 2) * opts.height;
      const cp = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: deps.env ?? process.env });
      cp.on('error', () => {});
      const chunks = childChunks(cp, cp.stdout, { command, signal, stallMs: opts.stallMs ?? 0 });
      return frameChunks(chunks, frameBytes);
    },
  };
}

/**
 * Cuts a byte stream into `frameBytes` pieces. One buffer, allocated once, is filled and yielded
 * per frame; a partial frame left when the stream ends is dropped (the device went away mid-frame).
 */
export async function* frameChunks(
  chunks: AsyncIterable<Uint8Array>,
  frameBytes: number,
): AsyncGenerator<Uint8Array> {
  if (!Number.isInteger(frameBytes) || frameBytes <= 0) {
    throw new TypeError(`frameBytes must be a positive integer, got ${frameBytes}`);
  }
  const frame = new Uint8Array(frameBytes);
  let fill = 0;
  for await (const chunk of chunks) {
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(frameBytes - fill, chunk.length - off);
      frame.set(chunk.subarray(off, off + take), fill);
      fill += take;
      off += take;
      if (fill === frameBytes) {
        fill = 0;
        yield frame;
      }
    }
  }
}
