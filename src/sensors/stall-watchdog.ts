/**
 * A stall watchdog that measures how long a device has been silent, not how long this process was
 * busy (issue #24). Used by the capture children (`bus/child.ts`: arecord, v4l2-ctl) and the
 * serial line protocol.
 *
 * A timer that fires after a long event-loop delay runs before the poll phase has read what the
 * pipe or tty already holds, so the check first lets that phase run (setImmediate runs after it):
 * any data that arrived means no stall. A check that itself ran more than half a window late (the
 * whole machine was busy, and the device's process most likely starved with us) grants one more
 * window before deciding. The timer's own lateness is the event-loop delay of exactly this window,
 * which is what `perf_hooks.monitorEventLoopDelay` would only give as a histogram.
 */
import { performance } from 'node:perf_hooks';

export interface StallWatchdogOptions {
  /** Silence that counts as a stall, ms; 0 disables the watchdog. */
  stallMs: number;
  /** The window before the first data, ms (starting a process is not a silent device). Default stallMs. */
  startMs?: number;
  /** Called once the device was silent through a window checked on time. */
  onStall(): void;
}

export class StallWatchdog {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped on every arm and disarm, so a check scheduled for an older window does nothing. */
  private window = 0;
  private received = 0;
  private readonly startMs: number;

  constructor(private readonly opts: StallWatchdogOptions) {
    this.startMs = opts.startMs ?? opts.stallMs;
  }

  /** True until the first `data()`: a stall now is a start that never delivered. */
  get beforeFirstData(): boolean {
    return this.received === 0;
  }

  /** Data arrived: the current window is void (arm again when waiting for more). */
  data(): void {
    this.disarm();
    this.received++;
  }

  /** Stops timing (the consumer holds the data, or the stream ended). */
  disarm(): void {
    clearTimeout(this.timer);
    this.window++;
  }

  /** Starts timing one window of silence from now; a no-op when stallMs is 0. */
  arm(graceLeft = 1): void {
    if (!this.opts.stallMs) return;
    this.disarm();
    const mine = this.window;
    const windowMs = this.received === 0 ? this.startMs : this.opts.stallMs;
    const dueMs = performance.now() + windowMs;
    this.timer = setTimeout(() => {
      const lateMs = performance.now() - dueMs;
      // Timers run before the poll phase: let it deliver what the pipe already holds.
      setImmediate(() => {
        if (mine !== this.window) return;
        if (lateMs > windowMs / 2 && graceLeft > 0) return this.arm(graceLeft - 1);
        this.opts.onStall();
      });
    }, windowMs);
  }
}
