/** The agent's own JSON logger, writing into an array a test can read. */
import type { Logger } from 'pino';
import { createLogger } from '../../src/log.js';

export function captureLogger(level = 'info'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level, format: 'json', stream }), lines };
}
