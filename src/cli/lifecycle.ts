/**
 * Runs an agent until a signal (or a time limit) and shuts it down exactly once. A hard-exit
 * timer guarantees the process ends within `hardExitMs` even if a component hangs.
 */
import type { Logger } from 'pino';
import type { Agent } from '../main.js';

export async function runUntilStopped(
  agent: Agent,
  logger: Logger,
  opts: { seconds?: number; hardExitMs?: number } = {},
): Promise<number> {
  const hardExitMs = opts.hardExitMs ?? 5000;
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      logger.info(`stopping (${why})`);
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
        .finally(() => clearTimeout(hard));
    };
    process.once('SIGTERM', () => stop('SIGTERM', 0));
    process.once('SIGINT', () => stop('SIGINT', 0));
    if (opts.seconds !== undefined)
      setTimeout(() => stop(`${opts.seconds} s elapsed`, 0), opts.seconds * 1000).unref();
    void agent.done.then(() => stop('all sensors finished', 0));
  });
}
