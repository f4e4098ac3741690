/**
 * Our kaldi fbank against torchaudio's, same machine, same clips, one thread each.
 *
 *   node --import tsx bench/fbank.ts [--clips 200] [--python /usr/bin/python3]
 *
 * Prints one JSON line: both times per 2 s clip, their ratio (ours / torchaudio; < 1 means we are
 * faster) and the largest difference between the two outputs in log-mel units. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CLIP_SAMPLES,
  fbankFeatures,
  parsePositiveInt,
  syntheticClips,
  timeFbank,
} from '../src/cli/commands/bench.js';
import { float32LE } from '../src/cli/commands/features.js';

const { values } = parseArgs({
  options: {
    clips: { type: 'string', default: '200' },
    distinct: { type: 'string', default: '8' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const count = parsePositiveInt(values.clips);
const clips = syntheticClips({ count: Math.min(count, parsePositiveInt(values.distinct)) });

const dir = mkdtempSync(join(tmpdir(), 'edgebind-bench-'));
try {
  const clipsFile = join(dir, 'clips.f32');
  const featuresFile = join(dir, 'torchaudio.f32');
  const all = new Float32Array(clips.length * CLIP_SAMPLES);
  clips.forEach((clip, i) => all.set(clip, i * CLIP_SAMPLES));
  writeFileSync(clipsFile, float32LE(all));

  const ours = timeFbank({ clips, count });

  const script = fileURLToPath(new URL('fbank_torchaudio.py', import.meta.url));
  const args = [
    script,
    '--clips-file',
    clipsFile,
    '--samples',
    String(CLIP_SAMPLES),
    '--count',
    String(count),
  ];
  const run = spawnSync(values.python, [...args, '--features-out', featuresFile], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' },
  });
  if (run.status !== 0) {
    throw new Error(
      `${values.python} ${script} failed (status ${run.status}): ${run.error?.message ?? run.stderr}`,
    );
  }
  const lastLine = run.stdout.trim().split('\n').at(-1) ?? '';
  const torch = JSON.parse(lastLine) as {
    torchaudioMsPerClip: number;
    torchaudioCpuMsPerClip: number;
    torch: string;
    torchaudio: string;
  };

  const theirs = readFileSync(featuresFile);
  const theirView = new DataView(theirs.buffer, theirs.byteOffset, theirs.byteLength);
  const mine = fbankFeatures(clips);
  if (theirs.byteLength !== mine.length * 4) {
    throw new Error(`torchaudio wrote ${theirs.byteLength / 4} values, we have ${mine.length}`);
  }
  let maxAbsDiffLogMel = 0;
  for (let i = 0; i < mine.length; i++) {
    maxAbsDiffLogMel = Math.max(maxAbsDiffLogMel, Math.abs(mine[i]! - theirView.getFloat32(i * 4, true)));
  }

  console.log(
    JSON.stringify({
      fbankMsPerClip: ours.msPerClip,
      torchaudioMsPerClip: torch.torchaudioMsPerClip,
      ratio: ours.msPerClip / torch.torchaudioMsPerClip,
      // CPU time, user + system: what each side computed, less what waiting for a busy CPU added.
      fbankCpuMsPerClip: ours.cpuMsPerClip,
      torchaudioCpuMsPerClip: torch.torchaudioCpuMsPerClip,
      cpuRatio: ours.cpuMsPerClip / torch.torchaudioCpuMsPerClip,
      clips: count,
      distinctClips: clips.length,
      maxAbsDiffLogMel,
      node: process.version,
      torch: torch.torch,
      torchaudio: torch.torchaudio,
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
