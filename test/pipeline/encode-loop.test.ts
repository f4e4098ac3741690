/**
 * The encode loop (src/pipeline/encode-loop.ts) with a real hub and real sensor books: finite
 * embeddings go on, a failing encoder degrades the batch's sensors until windows embed again, a
 * NaN embedding is dropped and counted, and every window's buffer is released exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runEncodeLoop, type WindowEmbedder } from '../../src/pipeline/encode-loop.js';
import { WindowHub } from '../../src/pipeline/hub.js';
import type { Window } from '../../src/pipeline/types.js';
import { SensorBooks } from '../../src/sensors/health-books.js';
import { captureLogger } from '../helpers/log-capture.js';

function window(sensorId: string, seq: number): Window {
  return {
    sensorId,
    modality: 'audio',
    seq,
    startMs: seq * 100,
    endMs: seq * 100 + 100,
    startWallMs: seq * 100,
    endWallMs: seq * 100 + 100,
    rateHz: 16_000,
    data: new Float32Array(4).fill(seq),
    shape: [4],
  };
}

/** Embeds window `seq` as [seq, 1]; a seq in `nan` gives NaN; batches named in `failOn` throw. */
function encoder(opts: { nan?: number[]; failOn?: number[] }): WindowEmbedder {
  return {
    provider: 'cpu',
    embed: (ws) => {
      if (ws.some((w) => opts.failOn?.includes(w.seq))) return Promise.reject(new Error('out of memory'));
      return Promise.resolve(ws.map((w) => Float32Array.of(opts.nan?.includes(w.seq) ? NaN : w.seq, 1)));
    },
  };
}

async function run(windows: Window[], enc: WindowEmbedder) {
  const hub = new WindowHub();
  hub.addSensor('mic', 16);
  const { logger, lines } = captureLogger('debug');
  const changes: string[] = [];
  const books = new SensorBooks({
    sensors: [{ id: 'mic', modality: 'audio' }],
    logger,
    onChange: (_id, state, prev) => changes.push(`${prev}→${state}`),
  });
  books.frame('mic'); // up
  const embedded: number[] = [];
  const released: number[] = [];
  const loop = runEncodeLoop({
    hub,
    encoders: new Map([['audio', enc]]),
    maxBatch: 1,
    health: books,
    release: (w) => released.push(w.seq),
    onEmbedding: (w, v) => {
      embedded.push(w.seq);
      assert.equal(v[0], w.seq);
    },
    logger,
  });
  for (const w of windows) hub.push(w);
  hub.close();
  await loop;
  return { embedded, released, changes, lines, status: books.status([])['mic']! };
}

test('finite embeddings go on in order; every buffer is released once', async () => {
  const r = await run(
    [0, 1, 2].map((i) => window('mic', i)),
    encoder({}),
  );
  assert.deepEqual(r.embedded, [0, 1, 2]);
  assert.deepEqual(r.released, [0, 1, 2]);
  assert.equal(r.status.state, 'ok');
});

test('a failing encoder degrades the sensor until its windows embed again; logged once', async () => {
  const r = await run(
    [0, 1, 2, 3].map((i) => window('mic', i)),
    encoder({ failOn: [1, 2] }),
  );
  assert.deepEqual(r.embedded, [0, 3]);
  assert.deepEqual(r.released, [0, 1, 2, 3]);
  assert.deepEqual(r.changes, ['down→ok', 'ok→degraded', 'degraded→ok']);
  assert.equal(r.status.state, 'ok');
  const errors = r.lines.filter((l) => l.includes('encoder audio failed'));
  assert.equal(errors.length, 1, 'the second failure is not logged (first and every 100th)');
});

test('a NaN embedding is dropped, counted on health and never handed on', async () => {
  const r = await run(
    [0, 1, 2].map((i) => window('mic', i)),
    encoder({ nan: [1] }),
  );
  assert.deepEqual(r.embedded, [0, 2]);
  assert.deepEqual(r.released, [0, 1, 2]);
  assert.equal(r.status.nonFinite, 1);
  assert.deepEqual(r.changes, ['down→ok', 'ok→degraded', 'degraded→ok'], 'the next finite window clears it');
  assert.equal(r.lines.filter((l) => l.includes('has NaN or infinite values')).length, 1);
});

test('a modality without an encoder is a bug: the loop rejects', async () => {
  const hub = new WindowHub();
  hub.addSensor('mic', 4);
  hub.push(window('mic', 0));
  const books = new SensorBooks({
    sensors: [{ id: 'mic', modality: 'audio' }],
    logger: captureLogger().logger,
  });
  await assert.rejects(
    runEncodeLoop({
      hub,
      encoders: new Map(),
      maxBatch: 1,
      health: books,
      release: () => undefined,
      onEmbedding: () => undefined,
      logger: captureLogger().logger,
    }),
    /no encoder for modality audio/,
  );
});
