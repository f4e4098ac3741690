/**
 * `edgebind record --config FILE --out DIR --seconds N`: captures each enabled sensor's frames in the
 * replay format (WAV for audio, .ebf otherwise), one file per sensor id, for `driver: replay`.
 * Only the config's `sensors` list is read here, validated against the drivers `openSensor` knows.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { configErrorMap, formatIssues } from '../../config/load.js';
import { ConfigError, DeviceError, type Problem } from '../../errors.js';
import { systemClock } from '../../pipeline/clock.js';
import {
  OpenableSensorSchema,
  openSensor,
  type OpenDeps,
  type OpenableSensorConfig,
} from '../../sensors/open.js';
import { recordSensors, recordingFile, type RecordingSummary } from '../../sensors/record.js';
import { reportAndExit } from '../errors.js';
import { progress } from '../progress.js';

export interface RecordCliOptions {
  config: string;
  out: string;
  seconds: string;
  /** Replace recordings already in `out` (otherwise they are refused, never overwritten). */
  force?: boolean;
}

/** Reads and validates the sensors of a config file; relative replay files resolve against it. */
export async function loadRecordSensors(file: string): Promise<OpenableSensorConfig[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('CONFIG_NOT_FOUND', `${file}: file not found`, { file, cause: err });
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      'CONFIG_PARSE',
      `${file}: YAML syntax error: ${doc.errors[0]!.message.split('\n')[0]}`,
      {
        file,
      },
    );
  }
  const raw = doc.toJS() as { sensors?: unknown } | null;
  if (!Array.isArray(raw?.sensors) || raw.sensors.length === 0) {
    throw new ConfigError('CONFIG_INVALID', `${file}: invalid config\n  sensors: expected a non-empty list`, {
      file,
      problems: [{ path: 'sensors', message: 'expected a non-empty list' }],
    });
  }
  const problems: Problem[] = [];
  const out: OpenableSensorConfig[] = [];
  raw.sensors.forEach((s: unknown, i: number) => {
    const r = OpenableSensorSchema.safeParse(s, { reportInput: true, error: configErrorMap });
    if (!r.success) {
      for (const p of formatIssues(r.error.issues)) {
        problems.push({ path: `sensors[${i}]${p.path ? `.${p.path}` : ''}`, message: p.message });
      }
      return;
    }
    const c = r.data;
    if (!c.enabled) return;
    out.push(
      c.driver === 'replay' && !isAbsolute(c.file) ? { ...c, file: resolve(dirname(file), c.file) } : c,
    );
  });
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
    throw new ConfigError('CONFIG_INVALID', `${file}: invalid config\n${lines}`, { file, problems });
  }
  return out;
}

export async function recordAction(
  opts: RecordCliOptions,
  deps: OpenDeps & { stdout?: { write(s: string): unknown } } = {},
): Promise<RecordingSummary[]> {
  const seconds = Number(opts.seconds);
  if (!(seconds > 0) || seconds > 86_400) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `--seconds must be a number of seconds in (0, 86400], got ${opts.seconds}`,
    );
  }
  const sensors = await loadRecordSensors(opts.config);
  const files = sensors.map((c) => recordingFile(opts.out, c.id, c.modality));
  const existing = files.filter((f) => existsSync(f));
  if (existing.length > 0 && !opts.force) {
    throw new InvalidArgumentError(
      `${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite, or choose another --out`,
    );
  }
  // With --force an old recording goes first, so a sensor that captures nothing leaves none behind.
  for (const f of existing) await rm(f, { force: true });
  await mkdir(opts.out, { recursive: true });
  const ac = new AbortController();
  const onSignal = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const write = (s: string) => (deps.stdout ?? process.stdout).write(s);
  // On a terminal, seconds captured so far (issue 17 item 9); nothing into a pipe.
  const bar = progress('record');
  const startedMs = systemClock.nowMs();
  const what = `capturing ${sensors.length} sensor${sensors.length === 1 ? '' : 's'}; seconds`;
  const tick = () =>
    bar.update(what, Math.min(seconds, Math.floor((systemClock.nowMs() - startedMs) / 1000)), seconds);
  const timer = bar.active ? setInterval(tick, 250) : undefined;
  timer?.unref();
  try {
    const summaries = await recordSensors({
      sensors: sensors.map((c) => ({ id: c.id, modality: c.modality, source: openSensor(c, deps) })),
      dir: opts.out,
      seconds,
      clock: systemClock,
      signal: ac.signal,
      onHealth: (id, h) => {
        if (h.state === 'ok') return;
        bar.finish(); // the message on a line of its own; the next tick redraws the line
        process.stderr.write(`${id}: ${h.state}${h.reason ? ` (${h.reason})` : ''}\n`);
      },
    });
    clearInterval(timer);
    bar.finish();
    const why = (s: RecordingSummary) =>
      s.health && s.health.state !== 'ok'
        ? ` (${s.health.state}${s.health.reason ? `: ${s.health.reason}` : ''})`
        : '';
    for (const s of summaries) {
      if (s.frames === 0) {
        write(`${s.sensorId}: nothing captured${why(s)}; no file written\n`);
        continue;
      }
      const extra = s.health ? `, ${s.health.rejected} rejected, ${s.health.restarts} restarts` : '';
      write(`${s.sensorId}: ${s.file} — ${s.frames} frames, ${(s.durationMs / 1000).toFixed(2)} s${extra}\n`);
      // Sample times are sums of periods: allow float rounding at the boundary (as recordSensors).
      if (s.durationMs < seconds * 1000 - 1e-3)
        process.stderr.write(
          `edgebind: warning: ${s.sensorId}: only ${(s.durationMs / 1000).toFixed(2)} s of ${seconds} s captured${why(s)}\n`,
        );
    }
    const empty = summaries.filter((s) => s.frames === 0);
    if (empty.length > 0) {
      throw new DeviceError(
        empty[0]!.sensorId,
        `captured nothing from ${empty.map((s) => `${s.sensorId}${why(s)}`).join(', ')}`,
      );
    }
    return summaries;
  } finally {
    clearInterval(timer);
    bar.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function registerRecord(program: Command): void {
  program
    .command('record')
    .description('record each configured sensor in the replay format (WAV for audio, .ebf otherwise)')
    .requiredOption('--config <file>', 'YAML config whose sensors to record')
    .requiredOption('--out <dir>', 'directory for <sensorId>.wav / <sensorId>.ebf')
    .requiredOption('--seconds <n>', 'seconds of data to capture per sensor')
    .option('--force', 'overwrite recordings already in --out')
    .action(async (opts: RecordCliOptions) => {
      try {
        await recordAction(opts);
      } catch (err) {
        reportAndExit(err);
      }
    });
}
