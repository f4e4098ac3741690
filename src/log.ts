/**
 * Logging with pino. JSON lines (for journald and log shippers) by default; `pretty` prints
 * `time level component: message` for people at a terminal. Logs go to stderr so stdout stays
 * free for command output (event lines, JSON results).
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export function createLogger(opts: {
  level: string;
  format?: LogFormat;
  stream?: NodeJS.WritableStream;
}): Logger {
  const format = opts.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const dest = opts.stream ?? process.stderr;
  const stream = format === 'pretty' ? prettyStream(dest) : dest;
  return pino({ level: opts.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function prettyStream(dest: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      try {
        const { level, time, component, msg } = JSON.parse(chunk.toString()) as Record<string, unknown>;
        const t = typeof time === 'string' ? time.slice(11, 19) : '';
        const text = typeof msg === 'string' ? msg : JSON.stringify(msg ?? '');
        // Many messages already start with their component ("mqtt: connected"): say it once.
        const tag =
          typeof component === 'string' &&
          !text.startsWith(`${component}: `) &&
          !text.startsWith(`${component} `)
            ? `${component}: `
            : '';
        dest.write(`${t} ${(LEVELS[level as number] ?? String(level)).padEnd(5)} ${tag}${text}\n`);
      } catch {
        dest.write(chunk);
      }
      done();
    },
  });
}
