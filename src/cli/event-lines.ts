/**
 * The one-line view of an event that `demo`, and `run` on a terminal, print on stdout.
 *
 * The time column is when the line is printed, so lines stay in order: an end is decided only
 * after `events.endWindows` quiet windows, later than the end time it carries (issue 17 item 5:
 * `START dog_barking 07:45:43` printed before `END alarm_beeping 07:45:41`). An end line shows the
 * peak, how long the event lasted and why it ended instead of the last score, which for an event
 * still on when the agent stopped is its current, high score.
 */
import { Option } from 'commander';
import type { LogFormat } from '../log.js';
import type { EventPayload } from '../mqtt/payloads.js';

const hms = (d: Date): string => d.toTimeString().slice(0, 8);

/** How an end reason reads on a terminal (event lines, `history replay`). */
export const END_REASON_WORDS: Record<NonNullable<EventPayload['endReason']>, string> = {
  belowThreshold: 'below threshold',
  unseen: 'not seen',
  maxDuration: 'maximum duration reached',
  labelRemoved: 'label removed',
  stopped: 'still on when the agent stopped',
};

/** `now`: when the line is printed (its time column), local time like the rest of a terminal. */
export function formatEventLine(e: EventPayload, now: Date = new Date()): string {
  const head = `${hms(now)} ${e.type.toUpperCase().padEnd(6)} ${e.label.padEnd(16)}`;
  const tail = `[${e.modalities.join('+')}]  ${e.id}`;
  if (e.type === 'start') return `${head} score ${e.score.toFixed(2)}  ${tail}`;
  if (e.type === 'update')
    return `${head} score ${e.score.toFixed(2)} peak ${e.peakScore.toFixed(2)}  ${tail}`;
  const start = Date.parse(e.startTime);
  const end = Date.parse(e.endTime ?? e.timestamp);
  const lasted = `${((end - start) / 1000).toFixed(1)} s`;
  const why = e.endReason ? END_REASON_WORDS[e.endReason] : 'ended';
  const since =
    e.endReason === 'belowThreshold' || e.endReason === 'unseen' ? ` since ${hms(new Date(end))}` : '';
  return `${head} peak ${e.peakScore.toFixed(2)}, lasted ${lasted}, ${why}${since}  ${tail}`;
}

/** `--log-format pretty|json` for the daemon commands; overrides the config's `log.format`. */
export function logFormatOption(): Option {
  return new Option(
    '--log-format <format>',
    'log lines on stderr (overrides log.format; default: pretty on a terminal, json otherwise)',
  ).choices(['pretty', 'json']);
}

/** Writes the event's line to stdout (`demo`). */
export const printEventLine = (e: EventPayload): void => void process.stdout.write(`${formatEventLine(e)}\n`);

/**
 * `run`: event lines only when stdout is a terminal (issue 17 item 5). Piped or under systemd,
 * stdout stays quiet: events are on MQTT.
 */
export const eventLinesOnTerminal = (): ((e: EventPayload) => void) | undefined =>
  process.stdout.isTTY ? printEventLine : undefined;

export type { LogFormat };
