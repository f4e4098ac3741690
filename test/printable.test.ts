/** Health reasons quoting device bytes are escaped and bounded (issue 14 item 6). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_REASON_CHARS, printable } from '../src/printable.js';

test('control characters, U+FFFD and lone surrogates are escaped; pairs and ordinary text stay', () => {
  const garbage = Buffer.from([0x41, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x0d, 0x7f]).toString('utf8');
  assert.equal(printable(`bad line: ${garbage}`), 'bad line: A\\x00\\x1b[2J\\ufffd\\ufffd\\x0d\\x7f');
  assert.equal(printable('tempC 21.5 😀 é'), 'tempC 21.5 😀 é');
  assert.equal(printable('x\ud800y\udc00z'), 'x\\ud800y\\udc00z');
  assert.equal(printable('\u009b31m'), '\\x9b31m');
});

test('long reasons are cut to MAX_REASON_CHARS plus an ellipsis, never inside a surrogate pair', () => {
  const out = printable('x'.repeat(1000));
  assert.equal(out.length, MAX_REASON_CHARS + 1);
  assert.ok(out.endsWith('…'));
  const pairs = printable(`${'x'.repeat(MAX_REASON_CHARS - 1)}😀😀`);
  assert.equal(pairs, `${'x'.repeat(MAX_REASON_CHARS - 1)}…`);
});
