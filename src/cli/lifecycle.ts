/**
 * Runs an agent until a signal (or a time limit) and shuts it down exactly once. A hard-exit
 * timer guarantees the process ends within `hardExitMs` even if a component hangs.
 *
 * SIGHUP calls `onReload` (one reload at a time; a SIGHUP during a reload runs one more after it).
 * With a `notifier`, systemd hears RELOADING=1/READY=1 around a reload and STOPPING=1 on shutdown.
 */
import type { Logger } from 'pino';
import type { SdNotifier } from '../daemon/sd-notify.js';
import { acquireStateLock, type StateLock } from '../daemon/state-lock.js';
import type { Agent } from '../main.js';

export interface RunOptions {
  seconds?: number;
  hardExitMs?: number;
  /** Re-reads the config on SIGHUP; errors are logged and the running config stays. */
  onReload?: () => Promise<void>;
  notifier?: SdNotifier;
}

/**
 * Takes the state directory's lock (throws StateLockedError while another agent holds it) and
 * releases it when the process exits, whichever way: clean stop, startup error, hard-exit timer.
 */
export async function lockStateDir(stateDir: string, logger: Logger): Promise<StateLock> {
  const lock = await acquireStateLock(stateDir, { logger: logger.child({ component: 'state-lock' }) });
  process.once('exit', () => lock.release());
  logger.debug(`locked ${lock.file}`);
  return lock;
}

export async function runUntilStopped(agent: Agent, logger: Logger, opts: RunOptions = {}): Promise<number> {
  const hardExitMs = opts.hardExitMs ?? 5000;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      process.off('SIGHUP', onHup);
      logger.info(`stopping (${why})`);
      opts.notifier?.stopping(`stopping (${why})`);
      const hard = setTimeout(() => {
        logger.error(`shutdown took longer than ${hardExitMs} ms; exiting now`);
        process.exit(1);
      }, hardExitMs);
      hard.unref();
      agent
        .stop()
        .then(() => resolve(code))
        .catch((err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          resolve(1);
        })
        .finally(() => {
          clearTimeout(hard);
          opts.notifier?.close();
        });
    };

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
    const onHup = () => {
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
    process.on('SIGHUP', onHup);
    process.once('SIGTERM', () => stop('SIGTERM', 0));
    process.once('SIGINT', () => stop('SIGINT', 0));
    if (opts.seconds !== undefined)
      setTimeout(() => stop(`${opts.seconds} s elapsed`, 0), opts.seconds * 1000).unref();
    void agent.done.then(() => stop('all sensors finished', 0));
  });
}
