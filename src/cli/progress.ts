/**
 * A progress line for long commands (issue 17 item 9: `simulate --repeat 3` ran 33 s and `eval`
 * 47 s in silence). It is drawn on stderr only when stderr is a terminal, and never with `--json`:
 * pipes, CI logs and machine-read output get no carriage returns or escape codes. One line,
 * redrawn in place, cleared when the work is done, so the command's own output follows on a clean
 * line.
 *
 * Drawn by cli-progress (issue 17 asks for a maintained library): it owns redrawing in place, the
 * redraw rate, the time-left estimate and clearing. Off a terminal no bar is made at all, so its
 * own non-terminal mode (`noTTYOutput`) never applies. cli-progress reads `Date.now()` and
 * `setTimeout` itself; tests give it time through `mock.timers`.
 */
import { SingleBar, type Params } from 'cli-progress';

/** The part of a stream the line needs; process.stderr in use, a recording fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): boolean;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** False turns it off whatever the stream (`--json`). Default true. */
  enabled?: boolean;
  /** Minimum time between redraws, ms. Default 100. */
  intervalMs?: number;
  /** Show the time left in a phase; off where steps differ too much to predict (bench parts). Default true. */
  timeLeft?: boolean;
}

export interface Progress {
  /** Whether anything is drawn (stderr is a terminal and not turned off). */
  readonly active: boolean;
  /**
   * Sets the current phase and its count; `total` undefined draws a count without a bar. A new
   * phase name starts its own time-left estimate: phases (reading, embedding, replaying) differ in
   * pace. `note` (which scene, which part) follows the count and does not start a phase.
   */
  update(phase: string, done: number, total?: number, note?: string): void;
  /** Clears the line; a later update draws it again. */
  finish(): void;
}

const BAR = 20;

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const OFF: Progress = { active: false, update() {}, finish() {} };

/** A progress line for `command` on stderr, or one that draws nothing off a terminal. */
export function progress(command: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.enabled === false || stream.isTTY !== true) return OFF;
  const showLeft = opts.timeLeft ?? true;
  let started: number | undefined;
  let phase = '';
  let note = '';
  let counted = true; // false: a count without a total, so no bar

  const format = (_o: unknown, p: Params): string => {
    const elapsed = clock((Date.now() - (started ?? Date.now())) / 1000);
    let line = `${command}: ${phase}`;
    if (counted) {
      const share = p.progress;
      const filled = Math.round(share * BAR);
      line += ` [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${p.value}/${p.total} ${Math.floor(share * 100)}%`;
      line += ` ${elapsed}`;
      // cli-progress's estimate: this phase's recent pace (its eta is a string before it has one).
      if (showLeft && share > 0 && share < 1 && typeof p.eta === 'number' && p.eta > 0)
        line += ` (~${clock(p.eta)} left)`;
    } else line += ` ${p.value} ${elapsed}`;
    if (note) line += ` ${note}`;
    // One column short of the width: a line filling it would wrap on some terminals.
    const width = (p.maxWidth > 20 ? p.maxWidth : 80) - 1;
    return line.length > width ? line.slice(0, width) : line;
  };
  const bar = new SingleBar({
    // cli-progress's type says NodeJS.WritableStream; it only calls write and reads isTTY and columns.
    stream: stream as NodeJS.WritableStream,
    format,
    fps: 1000 / (opts.intervalMs ?? 100),
    clearOnComplete: true,
    // Cut to the width by format above; its default (false) would switch terminal wrapping off.
    linewrap: true,
  });
  let running = false;

  return {
    active: true,
    update(name, done, total, detail) {
      started ??= Date.now();
      note = detail ?? '';
      if (!running || name !== phase || (total ?? 0) !== bar.getTotal()) {
        // (Re)start: a new phase's estimate starts from its own first count.
        phase = name;
        counted = total !== undefined && total > 0;
        bar.start(total ?? 0, done);
        running = true;
      } else bar.update(done);
    },
    finish() {
      if (running) bar.stop();
      running = false;
    },
  };
}
