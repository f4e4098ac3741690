/**
 * `edgebind clips list [--since 24h] [--label L] [--limit N] [--json]` and `edgebind clips export
 * EVENT_ID --out DIR` (issue #18): the clips an agent keeps of its events (docs/history.md#event-clips).
 * They read the clip files only (no lock, nothing written in the state directory), so they are safe
 * while the agent runs; a clip still being written has no event.json yet and is not listed.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { clipsDir, getClip, listClips, type ClipInfo } from '../../clips/store.js';
import { defaultStateDir } from '../../config/load.js';
import { ClipError } from '../../errors.js';
import { reportAndExit } from '../errors.js';
import { deviceDir } from '../state-dir.js';
import { parseSince } from '../since.js';

interface Located {
  stateDir?: string;
  deviceId?: string;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new InvalidArgumentError(`expected 1 to 100000, got "${value}"`);
  return n;
}

async function clipsOf(opts: Located): Promise<string> {
  const stateDir = resolve(opts.stateDir ?? defaultStateDir());
  const device = await deviceDir(
    stateDir,
    opts.deviceId,
    'clips',
    (devices) =>
      new ClipError(
        'CLIP_NOT_FOUND',
        devices,
        `no clips in ${stateDir} (no devices/<id>/clips): give the agent's stateDir with --state-dir`,
      ),
  );
  return clipsDir(device);
}

const kb = (bytes: number) =>
  bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;

/** One line per clip: when, how long, label, size, files; newest first. */
export function formatClipLine(c: ClipInfo): string {
  const start = c.start.replace(/\.\d{3}Z$/, 'Z');
  const lasted =
    c.end === null ? 'still on' : `${((Date.parse(c.end) - Date.parse(c.start)) / 1000).toFixed(1)} s`;
  const files = c.files.filter((f) => f.name !== 'event.json').map((f) => f.name);
  return `${start}  ${c.label.padEnd(18)} ${lasted.padStart(8)}  ${kb(c.bytes).padStart(9)}  ${c.eventId}  ${files.join(' ')}`;
}

interface ListOptions extends Located {
  since?: number;
  until?: number;
  label?: string;
  limit?: number;
  json?: boolean;
}

interface ExportOptions extends Located {
  out: string;
}

export function registerClips(program: Command): void {
  const clips = program
    .command('clips')
    .description("an agent's event clips: raw data around each event (docs/history.md)");
  clips
    .command('list')
    .description('the clips on disk, newest first')
    .option('--since <when>', 'only events that started since then: 24h, 30m, 2d, or an ISO 8601 time', (v) =>
      parseSince(v),
    )
    .option('--until <when>', 'only events that started before then (same forms as --since)', (v) =>
      parseSince(v),
    )
    .option('--label <name>', 'only this label')
    .option('--limit <n>', 'at most this many', parseLimit)
    .option('--json', 'print JSON: one array of clips with their files')
    .option('--state-dir <dir>', "the agent's stateDir (default: as the agent)")
    .option('--device-id <id>', 'the device whose clips to list (default: the only one in --state-dir)')
    .action(async (opts: ListOptions) => {
      try {
        const dir = await clipsOf(opts);
        const found = await listClips(dir, {
          ...(opts.since !== undefined ? { since: opts.since } : {}),
          ...(opts.until !== undefined ? { until: opts.until } : {}),
          ...(opts.label !== undefined ? { label: opts.label } : {}),
          ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
          return;
        }
        if (found.length === 0) {
          process.stdout.write(`no clips in ${dir}\n`);
          return;
        }
        for (const c of found) process.stdout.write(`${formatClipLine(c)}\n`);
      } catch (err) {
        reportAndExit(err);
      }
    });
  clips
    .command('export')
    .description("copies an event's clip (its WAV, PNG, CSV files and event.json) into --out/<event id>/")
    .argument('<event-id>', 'the event id (the `clip` field of its event messages)')
    .requiredOption('--out <dir>', 'where to copy it; the clip goes into <dir>/<event id>/')
    .option('--state-dir <dir>', "the agent's stateDir (default: as the agent)")
    .option('--device-id <id>', 'the device whose clip to export (default: the only one in --state-dir)')
    .action(async (eventId: string, opts: ExportOptions) => {
      try {
        const dir = await clipsOf(opts);
        const clip = await getClip(dir, eventId);
        const to = join(resolve(opts.out), clip.eventId);
        await mkdir(to, { recursive: true });
        for (const f of clip.files) {
          try {
            await copyFile(join(dir, clip.eventId, f.name), join(to, f.name), constants.COPYFILE_EXCL);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'EEXIST')
              throw new ClipError(
                'CLIP_EXPORT_EXISTS',
                join(to, f.name),
                `${join(to, f.name)} exists: not overwritten; remove it or choose another --out`,
              );
            throw err;
          }
          process.stdout.write(`${join(to, f.name)}  ${kb(f.bytes)}\n`);
        }
      } catch (err) {
        reportAndExit(err);
      }
    });
}
