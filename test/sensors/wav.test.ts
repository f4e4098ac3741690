/** A WAV file cut anywhere is a FormatError naming the file, never a bare RangeError (issue 14). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FormatError } from '../../src/errors.js';
import { decodeWav, encodeWav16 } from '../../src/sensors/formats/wav.js';

test('every truncation of a WAV header is a FormatError naming the file', () => {
  const wav = encodeWav16({ sampleRateHz: 16000, channels: [new Float32Array(64)] });
  for (let n = 0; n < 44; n++) {
    assert.throws(
      () => decodeWav(wav.subarray(0, n), '/recordings/cut.wav'),
      (err: unknown) => err instanceof FormatError && err.message.startsWith('/recordings/cut.wav: '),
      `cut at ${n} bytes`,
    );
  }
  assert.throws(() => decodeWav(wav.subarray(0, 26), 'cut.wav'), /cut\.wav: file ends inside the fmt chunk/);
  // Cut inside the samples: what is there is read.
  assert.equal(decodeWav(wav.subarray(0, 44 + 20), 'cut.wav').channels[0]!.length, 10);
});
