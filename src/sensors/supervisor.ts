/**
 * Keeps each sensor's frames flowing into the hub. Drivers reconnect by themselves after an
 * unplug (reconnect.ts); what they throw is what a reopen cannot fix, so the supervisor reports it
 * `down` and restarts the whole source with its own backoff (1 s doubling to 30 s), forever — except
 * a malformed recording, which stays malformed (issue 14), and in deterministic evaluation runs,
 * where a broken source fails the run.
 */
import type { Logger } from 'pino';
import type { ResolvedSensor } from '../config/load.js';
import type { SensorConfig } from '../config/schema.js';
import { FormatError } from '../errors.js';
import { sleep as realSleep, type Clock } from '../pipeline/clock.js';
import type { WindowHub } from '../pipeline/hub.js';
import { WindowPools } from '../pipeline/pools.js';
import type { Frame, Window } from '../pipeline/types.js';
import { windows } from '../pipeline/windows.js';
import { SensorBooks, type SensorBooksOptions, type SensorStatus } from './health-books.js';
import { Backoff } from './reconnect.js';
import { sensorFrames } from './registry.js';
import type { SensorContext } from './types.js';

export interface SupervisorOptions {
  /** Enabled sensors. */
  sensors: readonly ResolvedSensor[];
  hub: WindowHub;
  clock: Clock;
  logger: Logger;
  onChange?: SensorBooksOptions['onChange'];
  /** Gets every frame as it arrives, before windowing (event clips copy it into their rings, issue #18). */
  onFrame?: (frame: Frame) => void;
  /** Opens a sensor's frame source; sensors/registry.ts by default (tests inject scripted ones). */
  open?: (sensor: SensorConfig, ctx: SensorContext) => AsyncIterable<Frame>;
  /** Waits between restarts; pipeline/clock.ts `sleep` by default. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Restart backoff, ms. Default 1000 doubling to 30 000. */
  restartMinMs?: number;
  restartMaxMs?: number;
}

export class SensorSupervisor {
  readonly health: SensorBooks;
  private readonly pools = new WindowPools();

  constructor(private readonly opts: SupervisorOptions) {
    this.health = new SensorBooks({
      sensors: opts.sensors,
      logger: opts.logger,
      ...(opts.onChange ? { onChange: opts.onChange } : {}),
    });
    for (const s of opts.sensors) {
      const pool = this.pools.pool(s.id);
      opts.hub.addSensor(s.id, s.queueSize, (w) => pool.release(w.data));
    }
  }

  /** Gives a window's buffer back once it has been read. */
  release(w: Window): void {
    this.pools.release(w);
  }

  /** Every sensor's health entry; `fused` lists the sensors fusion counts now. */
  status(fused: Iterable<string>): Record<string, SensorStatus> {
    return this.health.status(fused);
  }

  /**
   * Runs every sensor until the signal aborts or its stream ends (a replay without loop); then
   * closes the hub. Rejects only in deterministic runs, with a source's error.
   */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.opts.sensors.map((s) => this.supervise(s, signal)));
    this.opts.hub.close();
  }

  private async supervise(s: ResolvedSensor, signal: AbortSignal): Promise<void> {
    const { hub, clock, logger } = this.opts;
    const open = this.opts.open ?? sensorFrames;
    const sleep = this.opts.sleep ?? realSleep;
    const onHealth: SensorContext['onHealth'] = (h) => this.health.report(s.id, h);
    const tap = this.opts.onFrame;
    const onFrame = tap
      ? (f: Frame) => {
          this.health.frame(s.id);
          tap(f);
        }
      : () => this.health.frame(s.id);
    const backoff = new Backoff(this.opts.restartMinMs ?? 1000, this.opts.restartMaxMs ?? 30_000);
    const pool = this.pools.pool(s.id);
    while (!signal.aborted) {
      try {
        const frames = open(s, { clock, signal, onHealth });
        for await (const w of windows(frames, { ...s.window, clock, pool, onFrame })) {
          if (hub.deterministic) await hub.pushWhenRoom(w);
          else hub.push(w);
        }
        hub.endSensor(s.id);
        return; // the stream ended (a replay without loop)
      } catch (err) {
        if (signal.aborted) return;
        const message = (err as Error).message;
        this.health.sourceFailed(s.id, message); // logged just below
        if (hub.deterministic) {
          // Evaluation: a broken recording fails the run instead of being retried forever.
          hub.endSensor(s.id);
          throw err;
        }
        if (s.driver === 'replay' && err instanceof FormatError) {
          // A malformed recording stays malformed: report it once and stop, health says down
          // with the reason, rather than reopening it (or failing every window) forever (issue 14).
          logger.error({ sensor: s.id, file: s.file, err: message }, `sensor ${s.id} stopped: ${message}`);
          hub.endSensor(s.id);
          return;
        }
        const delayMs = backoff.next();
        logger.warn(
          { sensor: s.id, err: message },
          `sensor ${s.id}: ${message}; restarting in ${delayMs} ms`,
        );
        await sleep(delayMs, signal).catch(() => undefined);
      }
    }
  }
}
