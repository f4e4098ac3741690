import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatEventLine } from '../../src/cli/event-lines.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';

const base: EventPayload = {
  seq: 1,
  id: '01a24962-a9ce-7554-a152-ee6dea1cb6c5',
  type: 'start',
  label: 'alarm_beeping',
  score: 0.97,
  peakScore: 0.97,
  modalities: ['audio'],
  sensors: ['mic'],
  startTime: '2026-11-26T14:03:11.000Z',
  endTime: null,
  endReason: null,
  timestamp: '2026-11-26T14:03:13.000Z',
  windows: 2,
  contributions: [],
  deviceId: 'demo',
  pack: { id: 'edgebind-mini', version: '1.0.0' },
};
const at = (iso: string) => new Date(iso);
const hms = (iso: string) => new Date(iso).toTimeString().slice(0, 8);

test('the time column is when the line is printed, so an end decided late is not printed out of order', () => {
  const end: EventPayload = {
    ...base,
    type: 'end',
    score: 0.02,
    endTime: '2026-11-26T14:03:20.000Z',
    endReason: 'belowThreshold',
    timestamp: '2026-11-26T14:03:20.000Z',
  };
  const line = formatEventLine(end, at('2026-11-26T14:03:23.000Z'));
  assert.ok(line.startsWith(`${hms('2026-11-26T14:03:23.000Z')} END    alarm_beeping `), line);
  assert.match(line, /peak 0\.97, lasted 9\.0 s, below threshold since \d\d:\d\d:\d\d/);
  assert.ok(line.includes(`since ${hms('2026-11-26T14:03:20.000Z')}`));
  assert.doesNotMatch(line, /score/, 'an end shows the peak, not the last score');
});

test('an end forced at shutdown says so instead of showing its high last score', () => {
  const end: EventPayload = {
    ...base,
    type: 'end',
    score: 1,
    peakScore: 1,
    endTime: '2026-11-26T14:03:15.000Z',
    endReason: 'stopped',
  };
  const line = formatEventLine(end, at('2026-11-26T14:03:15.500Z'));
  assert.match(line, /END {4}alarm_beeping {4}peak 1\.00, lasted 4\.0 s, still on when the agent stopped/);
  assert.doesNotMatch(line, /score 1\.00/);
});

test('start and update lines carry the score (and the peak), the modalities and the id', () => {
  const now = at('2026-11-26T14:03:13.100Z');
  assert.equal(
    formatEventLine(base, now),
    `${hms('2026-11-26T14:03:13.100Z')} START  alarm_beeping    score 0.97  [audio]  ${base.id}`,
  );
  assert.equal(
    formatEventLine({ ...base, type: 'update', score: 0.5 }, now),
    `${hms('2026-11-26T14:03:13.100Z')} UPDATE alarm_beeping    score 0.50 peak 0.97  [audio]  ${base.id}`,
  );
});
