/**
 * `edgebind features audio FILE.wav --out OUT.f32`: ImageBind audio features of a WAV file,
 * written as raw float32 little-endian `[clips, 1, numMelBins, targetLength]` (`[3,1,128,204]`),
 * byte for byte the layout of the files in shared/golden/audio.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { audioFeaturesFromWav } from '../../encoders/audio/preprocess.js';
import { AudioPreprocessSchema, type AudioPreprocess } from '../../encoders/manifest.js';
import { loadAudio } from '../../sensors/formats/audio-file.js';
import { reportAndExit } from '../errors.js';

export interface AudioFeaturesFileOptions {
  /** WAV file to read. */
  file: string;
  /** Where to write the float32 LE features. */
  out: string;
  /** Default: the manifest schema's defaults (ImageBind's). */
  params?: AudioPreprocess;
}

export interface AudioFeaturesFileResult {
  file: string;
  out: string;
  dims: number[];
  bytes: number;
  sampleRateHz: number;
  channels: number;
  durationS: number;
}

/** Little-endian float32 bytes, whatever the host's byte order. */
export function float32LE(data: Float32Array): Uint8Array {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  return bytes;
}

/** `ENOENT: no such file or directory` from a Node fs error, without the repeated path. */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(', ')[0] ?? message;
}

/**
 * Reads `file`, computes its features and writes them to `out`. A file that is not a usable WAV,
 * or is shorter than 25 ms, is a FormatError whose message starts with the file name; read and
 * write failures are Errors that name the file and the system error (`x.wav: cannot read: ENOENT: …`).
 */
export async function writeAudioFeaturesFile(
  options: AudioFeaturesFileOptions,
): Promise<AudioFeaturesFileResult> {
  const { file, out } = options;
  const params = options.params ?? AudioPreprocessSchema.parse({});
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`${file}: cannot read: ${reason(err)}`, { cause: err });
  }
  // The one audio loader (every channel, resampled to 16 kHz), as embed and the replay sensor use.
  const audio = loadAudio(bytes, file, params.sampleRateHz);
  const { data, dims } = audioFeaturesFromWav(audio, params, { where: file });
  const payload = float32LE(data);
  try {
    await writeFile(out, payload);
  } catch (err) {
    throw new Error(`${out}: cannot write: ${reason(err)}`, { cause: err });
  }
  const frames = audio.channels[0]?.length ?? 0;
  return {
    file,
    out,
    dims,
    bytes: payload.byteLength,
    sampleRateHz: audio.fileRateHz,
    channels: audio.channels.length,
    durationS: frames / audio.sampleRateHz,
  };
}

export function registerFeatures(program: Command): void {
  const features = program.command('features').description('compute encoder input features from recordings');
  features
    .command('audio')
    .description('ImageBind audio features of a WAV file, as float32 little-endian [clips, 1, mel, frames]')
    .argument('<file>', 'WAV file: PCM 8/16/24/32-bit or float32, any sample rate, mono or stereo')
    .requiredOption('-o, --out <file>', 'output file (.f32)')
    .action(async (file: string, opts: { out: string }) => {
      try {
        const r = await writeAudioFeaturesFile({ file, out: opts.out });
        console.log(
          `${r.out}: float32 LE [${r.dims.join(',')}] (${r.bytes} bytes) from ${r.file} ` +
            `(${r.sampleRateHz} Hz, ${r.channels} ch, ${r.durationS.toFixed(3)} s)`,
        );
      } catch (err) {
        reportAndExit(err);
      }
    });
}
