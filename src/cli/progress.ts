/**
 * A progress line for long commands (issue 17 item 9: `simulate --repeat 3` ran 33 s and `eval`
 * 47 s in silence). It is drawn on stderr only when stderr is a terminal, and never with `--json`:
 * pipes, CI logs and machine-read output get no carriage returns or escape codes. One line,
 * redrawn in place at most every `intervalMs`, cleared when the work is done, so the command's
 * own output follows on a clean line.
 *
 * Written here rather than taken from a progress-bar package: it is one redrawn line (about sixty
 * lines of code) and every package for it brings its own TTY handling we would have to switch off
 * for the non-terminal case anyway.
 */

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
  /** Milliseconds; injected in tests. Default performance.now. */
  now?: () => number;
  /** Minimum time between redraws, ms. Default 100. */
  intervalMs?: number;
}

export interface Progress {
  /** Whether anything is drawn (stderr is a terminal and not turned off). */
  readonly active: boolean;
  /** Sets the current phase and its count; `total` undefined draws a count without a bar. */
  update(phase: string, done: number, total?: number): void;
  /** Clears the line. */
  finish(): void;
}

const BAR = 20;

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** A progress line for `command` on stderr, or one that draws nothing off a terminal. */
export function progress(command: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now());
  const active = (opts.enabled ?? true) && stream.isTTY === true;
  const interval = opts.intervalMs ?? 100;
  const started = now();
  let lastDraw = -Infinity;
  let drawn = false;
  let phaseName = '';
  let phaseStart = started;
  return {
    active,
    update(phase, done, total) {
      if (!active) return;
      const t = now();
      if (phase !== phaseName) {
        phaseName = phase;
        phaseStart = t;
        lastDraw = -Infinity;
      }
      const complete = total !== undefined && done >= total;
      if (t - lastDraw < interval && !complete) return;
      lastDraw = t;
      const elapsed = t - started;
      let line = `${command}: ${phase}`;
      if (total !== undefined && total > 0) {
        const share = Math.min(1, done / total);
        const filled = Math.round(share * BAR);
        line += ` [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${done}/${total} ${Math.floor(share * 100)}%`;
        line += ` ${clock(elapsed)}`;
        // The time left is this phase's own pace: phases (reading, embedding, replaying) differ.
        const inPhase = t - phaseStart;
        if (share > 0 && share < 1 && inPhase > 0)
          line += ` (~${clock((inPhase / share) * (1 - share))} left)`;
      } else line += ` ${done} ${clock(elapsed)}`;
      const width = (stream.columns !== undefined && stream.columns > 20 ? stream.columns : 80) - 1;
      if (line.length > width) line = line.slice(0, width);
      stream.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    finish() {
      if (active && drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
