/**
 * The daemon's process lifecycle (`run`, `demo`) from its first moment to its exit. Signals are
 * handled from before anything slow starts (src/cli/startup-signals.ts arms this before the other
 * modules load; pack loading and TensorRT engine builds can take minutes), so no signal ever kills
 * the process with its default action and leaves `edgebind.lock` behind (issue #14):
 *
 * - SIGINT/SIGTERM during start-up stop it: an agent that is being started is stopped once it is
 *   up (at most `hardExitMs` later the process exits anyway); exit 0, the lock removed.
 * - SIGHUP during start-up is deferred with a log line: the config is re-read once it runs.
 * - Once running, SIGHUP calls `onReload` (one reload at a time; a SIGHUP during a reload runs one
 *   more after it), SIGINT/SIGTERM shut the agent down exactly once, with a hard-exit timer.
 * - The agent's pipeline failing stops the agent with exit 1 and says why; an uncaught exception
 *   does the same; an unhandled promise rejection is logged as the bug it is and the agent keeps
 *   detecting. Nothing ends the process without a log line.
 *
 * With a `notifier`, systemd hears RELOADING=1/READY=1 around a reload and STOPPING=1 on shutdown.
 */
import type { Logger } from 'pino';
import type { SdNotifier } from '../daemon/sd-notify.js';
import { acquireStateLock, type StateLock } from '../daemon/state-lock.js';
import { createLogger } from '../log.js';
import type { Agent } from '../agent-types.js';

export interface RunOptions {
  seconds?: number;
  /** Re-reads the config on SIGHUP; errors are logged and the running config stays. */
  onReload?: () => Promise<void>;
  notifier?: SdNotifier;
}

export interface LifecycleOptions {
  /** How long a stop may take before the process exits regardless. Default 5000 ms. */
  hardExitMs?: number;
}

/**
 * Takes the state directory's lock (throws StateLockedError while another agent holds it) and
 * releases it when the process exits, whichever way: clean stop, startup error, hard-exit timer,
 * a signal during start-up.
 */
export async function lockStateDir(stateDir: string, logger: Logger): Promise<StateLock> {
  const taking = acquireStateLock(stateDir, { logger: logger.child({ component: 'state-lock' }) }).then(
    (lock) => {
      process.once('exit', () => lock.release());
      return lock;
    },
  );
  // A stop signal meanwhile waits for this, so the exit hook is there to remove the lock.
  const lock = await (current ? current.track(taking) : taking);
  logger.debug(`locked ${lock.file}`);
  return lock;
}

type Phase = 'starting' | 'running' | 'stopping';
type StopSignal = 'SIGINT' | 'SIGTERM';

export class DaemonLifecycle {
  private phase: Phase = 'starting';
  private logger: Logger | undefined;
  private notifier: SdNotifier | undefined;
  private readonly hardExitMs: number;
  private hupWhileStarting = false;
  private starting: Promise<Agent> | undefined;
  /** Start-up steps a stop must let finish (taking the lock), so their exit hooks are in place. */
  private readonly steps = new Set<Promise<unknown>>();
  private stopRunning: ((why: string, code: number) => void) | undefined;
  private hupRunning: (() => void) | undefined;
  private unhandled = 0;

  constructor(opts: LifecycleOptions = {}) {
    this.hardExitMs = opts.hardExitMs ?? 5000;
    process.on('SIGHUP', () => this.onHup());
    process.on('SIGINT', () => this.onStopSignal('SIGINT'));
    process.on('SIGTERM', () => this.onStopSignal('SIGTERM'));
    process.on('uncaughtException', (err) => this.onUncaught(err));
    process.on('unhandledRejection', (reason) => this.onUnhandledRejection(reason));
  }

  /** The configured logger, once the config is loaded (until then: info level to stderr). */
  setLogger(logger: Logger): void {
    this.logger = logger;
  }

  setNotifier(notifier: SdNotifier): void {
    this.notifier = notifier;
  }

  /** Registers a start-up step that must settle before a stop during start-up exits. */
  track<T>(step: Promise<T>): Promise<T> {
    this.steps.add(step);
    const done = () => void this.steps.delete(step);
    step.then(done, done);
    return step;
  }

  /**
   * Awaits the agent's start. If a stop signal came (or comes) during it, the agent is stopped
   * once it is up and the process exits 0; the returned promise then never settles.
   */
  whileStarting(start: Promise<Agent>): Promise<Agent> {
    this.starting = start;
    if (this.phase === 'stopping') {
      this.stopStarted(start);
      return new Promise<Agent>(() => undefined);
    }
    return start.then(
      (agent) => (this.phase === 'stopping' ? new Promise<Agent>(() => undefined) : agent),
      (err: unknown) => {
        if (this.phase === 'stopping') return new Promise<Agent>(() => undefined);
        throw err;
      },
    );
  }

  /** Runs `agent` until a signal, `opts.seconds` or the end of its sensors; resolves the exit code. */
  run(agent: Agent, opts: RunOptions = {}): Promise<number> {
    if (this.phase === 'stopping') return new Promise<number>(() => undefined);
    this.phase = 'running';
    const logger = this.log();
    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (why: string, code: number) => {
        if (stopping) return;
        stopping = true;
        this.phase = 'stopping';
        if (code === 0) logger.info(`stopping (${why})`);
        else logger.error(`stopping (${why})`);
        opts.notifier?.stopping(`stopping (${why})`);
        const hard = setTimeout(() => {
          logger.error(`shutdown took longer than ${this.hardExitMs} ms; exiting now`);
          process.exit(1);
        }, this.hardExitMs);
        hard.unref();
        agent
          .stop()
          .then(() => resolve(code))
          .catch((err: unknown) => {
            logger.error({ err }, `error during shutdown: ${(err as Error).message}`);
            resolve(1);
          })
          .finally(() => {
            clearTimeout(hard);
            opts.notifier?.close();
          });
      };
      this.stopRunning = stop;

      let reloading: Promise<void> | undefined;
      let again = false;
      const reload = async (): Promise<void> => {
        opts.notifier?.reloading();
        try {
          await opts.onReload!();
        } catch (err) {
          logger.error({ err }, `reload failed: ${(err as Error).message}; keeping the running config`);
        }
        if (!stopping) opts.notifier?.reloaded();
      };
      this.hupRunning = () => {
        if (stopping) return;
        if (!opts.onReload) {
          logger.warn('SIGHUP ignored: this command cannot reload its config');
          return;
        }
        if (reloading) {
          again = true;
          return;
        }
        logger.info('SIGHUP: reloading the config');
        reloading = (async () => {
          do {
            again = false;
            await reload();
          } while (again && !stopping);
          reloading = undefined;
        })();
      };
      if (opts.seconds !== undefined)
        setTimeout(() => stop(`${opts.seconds} s elapsed`, 0), opts.seconds * 1000).unref();
      agent.done.then(
        () => stop('all sensors finished', 0),
        (err: unknown) => stop(`the pipeline failed: ${(err as Error)?.message ?? String(err)}`, 1),
      );
      if (this.hupWhileStarting) {
        this.hupWhileStarting = false;
        if (opts.onReload) logger.info('re-reading the config for the SIGHUP received during start-up');
        this.hupRunning();
      }
    });
  }

  private log(): Logger {
    return (this.logger ??= createLogger({ level: 'info' }));
  }

  private onHup(): void {
    if (this.phase === 'running') return this.hupRunning?.();
    if (this.phase === 'starting') {
      this.hupWhileStarting = true;
      this.log().warn('SIGHUP during start-up: deferred; the config is re-read once start-up has finished');
    }
  }

  private onStopSignal(signal: StopSignal): void {
    if (this.phase === 'running') return this.stopRunning?.(signal, 0);
    if (this.phase === 'stopping') {
      this.log().info(`${signal} ignored: already stopping`);
      return;
    }
    this.phase = 'stopping';
    this.log().info(`${signal} during start-up: stopping`);
    this.notifier?.stopping(`stopping during start-up (${signal})`);
    if (this.starting) this.stopStarted(this.starting);
    else if (this.steps.size > 0) this.stopStarted(Promise.allSettled([...this.steps]));
    else this.exit(0); // nothing started that needs stopping
  }

  /**
   * Lets a start-up step finish, stops the agent it started (if any), and exits 0; after
   * `hardExitMs` it exits regardless. The exit hook of `lockStateDir` removes the lock.
   */
  private stopStarted(start: Promise<unknown>): void {
    const hard = setTimeout(() => {
      this.log().warn(
        `start-up did not finish within ${this.hardExitMs} ms of the stop request; exiting without waiting for it`,
      );
      this.exit(0);
    }, this.hardExitMs);
    start
      .then(
        (agent) => (isAgent(agent) ? agent.stop() : undefined),
        () => undefined, // the start failed: nothing to stop
      )
      .catch((err: unknown) => this.log().error({ err }, `error during shutdown: ${(err as Error).message}`))
      .finally(() => {
        clearTimeout(hard);
        this.exit(0);
      });
  }

  private onUncaught(err: Error): void {
    this.log().fatal({ err }, `uncaught exception: ${err?.message ?? String(err)}; stopping (exit 1)`);
    if (this.phase === 'running') return this.stopRunning?.('uncaught exception', 1);
    this.exit(1);
  }

  private onUnhandledRejection(reason: unknown): void {
    this.unhandled++;
    const msg = reason instanceof Error ? reason.message : String(reason);
    this.log().error(
      { err: reason, unhandledRejections: this.unhandled },
      `unhandled promise rejection (a bug, please report it): ${msg}; the agent keeps running`,
    );
  }

  private exit(code: number): void {
    this.notifier?.close();
    process.exit(code);
  }
}

function isAgent(x: unknown): x is Agent {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Agent>).stop === 'function';
}

let current: DaemonLifecycle | undefined;

/** The process's lifecycle; the first call installs the signal handlers. */
export function daemonLifecycle(opts: LifecycleOptions = {}): DaemonLifecycle {
  return (current ??= new DaemonLifecycle(opts));
}
