/** The PCM wrapper's WAV header handling (bus/pcm.ts): any chunking, extra chunks, wrong formats. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PcmHeaderError, stripWavHeader } from '../../src/sensors/bus/pcm.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';

const want = { sampleRateHz: 16000, channels: 1 };
const samples = Float32Array.from({ length: 50 }, (_, i) => (i - 25) / 32);
const wav = Buffer.from(encodeWav16({ sampleRateHz: 16000, channels: [samples] }));

async function strip(bytes: Buffer, chunk: number, w = want): Promise<Buffer> {
  async function* chunks() {
    for (let o = 0; o < bytes.length; o += chunk) yield bytes.subarray(o, o + chunk);
  }
  const out: Buffer[] = [];
  for await (const c of stripWavHeader(chunks(), w)) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

test('the header is removed whatever the chunk size, PCM bytes pass unchanged', async () => {
  for (const chunk of [1, 3, 43, 44, 45, 1000]) {
    assert.deepEqual(await strip(wav, chunk), wav.subarray(44), `chunk ${chunk}`);
  }
});

test('extra chunks before data (LIST) are skipped', async () => {
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([4, 0, 0, 0]), Buffer.from('INFO')]);
  const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
  assert.deepEqual(await strip(withList, 7), wav.subarray(44));
});

test('garbage or a header for another format is a PcmHeaderError', async () => {
  await assert.rejects(strip(Buffer.alloc(100, 0x41), 10), PcmHeaderError);
  await assert.rejects(
    strip(wav, 10, { sampleRateHz: 48000, channels: 1 }),
    /expected 16-bit PCM, 1 ch, 48000 Hz/,
  );
  await assert.rejects(strip(wav, 10, { sampleRateHz: 16000, channels: 2 }), PcmHeaderError);
});
