import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import pino from 'pino';
import { EncoderError } from '../../src/errors.js';
import { GraphBuilder } from '../../src/encoders/onnx/graph.js';
import { writeModel } from '../../src/encoders/onnx/writer.js';
import {
  EncoderSession,
  probeProvider,
  ModelLoadError,
  type SessionSpec,
} from '../../src/encoders/session.js';

const dir = await mkdtemp(join(tmpdir(), 'edgebind-session-'));
after(() => rm(dir, { recursive: true, force: true }));

/** `audio.onnx`: x `[batch, 2, 3]` → embedding `[batch, 4]` = [Σx, Σx², max x, 1]. */
const spec: SessionSpec = {
  input: { name: 'audio', dtype: 'float32', shape: ['batch', 2, 3] },
  output: { name: 'embedding', dim: 4 },
};
const file = join(dir, 'audio.onnx');
{
  const g = new GraphBuilder('audio');
  const x = g.input('audio', 'float32', ['batch', 2, 3]);
  const flat = g.op('Flatten', [x], { axis: 1 });
  const axes = g.constInt64([1]);
  const sum = g.op('ReduceSum', [flat, axes], { keepdims: 1 });
  const sq = g.op('ReduceSumSquare', [flat], { axes: [1], keepdims: 1 });
  const max = g.op('ReduceMax', [flat], { axes: [1], keepdims: 1 });
  const one = g.op('Add', [g.op('Mul', [sum, g.constFloat([0], [])]), g.constFloat([1], [])]);
  g.output('embedding', 'float32', ['batch', 4], g.op('Concat', [sum, sq, max, one], { axis: 1 }));
  await writeModel(file, g.build());
}

/** A pino logger writing into `lines`. */
function capture(): { logger: pino.Logger; lines: { msg: string; level: number; [k: string]: unknown }[] } {
  const lines: { msg: string; level: number }[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string; level: number }) },
  );
  return { logger, lines };
}

test("['cuda', 'cpu'] falls back to cpu on this machine and logs one clear line", async () => {
  const { logger, lines } = capture();
  const s = await EncoderSession.open(file, spec, { providers: ['cuda', 'cpu'], logger });
  try {
    assert.equal(s.provider, 'cpu');
    const fallbacks = lines.filter((l) => l.level === 40);
    assert.equal(fallbacks.length, 1);
    assert.match(
      fallbacks[0]!.msg,
      /^encoder audio: execution provider cuda unavailable \(.+\), falling back to cpu$/,
    );
    assert.equal(fallbacks[0]!.component, 'encoder');
    assert.equal(fallbacks[0]!.provider, 'cuda');
    assert.ok(lines.some((l) => l.msg === 'encoder audio: loaded audio.onnx on cpu'));
  } finally {
    await s.close();
  }
});

test('an unknown provider falls back too; with no working provider open fails', async () => {
  const { logger, lines } = capture();
  const s = await EncoderSession.open(file, spec, { providers: ['bogus', 'cpu'], logger, name: 'mic' });
  assert.equal(s.provider, 'cpu');
  // Debug lines of the provider probe come first (issue #15); the warning is the one line that counts.
  assert.match(
    lines.find((l) => l.level === 40)!.msg,
    /^encoder mic: execution provider bogus unavailable \(.+\), falling back to cpu$/,
  );
  await s.close();

  await assert.rejects(EncoderSession.open(file, spec, { providers: ['cuda'] }), (err: unknown) => {
    assert.ok(err instanceof EncoderError);
    assert.equal(err.code, 'ENCODER_FAILED');
    assert.match(err.message, /no requested execution provider is available \(cuda: .+\)/);
    return true;
  });
  await assert.rejects(EncoderSession.open(file, spec, { providers: [] }), TypeError);
});

test('a corrupt model is a ModelLoadError, not a provider fallback', async () => {
  const bad = join(dir, 'garbage.onnx');
  await writeFile(bad, 'not a model\n'.repeat(20));
  const { logger, lines } = capture();
  await assert.rejects(EncoderSession.open(bad, spec, { providers: ['cpu'], logger }), (err: unknown) => {
    assert.ok(err instanceof ModelLoadError);
    assert.equal(err.file, bad);
    assert.match(err.reason, /Protobuf parsing failed/);
    return true;
  });
  // cuda's failure comes first (providers attach before the model is read), then cpu reports the model.
  await assert.rejects(
    EncoderSession.open(bad, spec, { providers: ['cuda', 'cpu'], logger }),
    ModelLoadError,
  );
  assert.equal(lines.filter((l) => l.level === 40).length, 1);
});

test('run returns [batch, dim], validates its input and reuses tensors safely', async () => {
  const s = await EncoderSession.open(file, spec, {
    providers: ['cpu'],
    intraOpThreads: 1,
    interOpThreads: 2,
  });
  try {
    assert.equal(s.itemSize, 6);
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, 0]);
    assert.deepEqual(Array.from(await s.run(x, 2)), [21, 91, 6, 1, -5, 5, 0, 1]);
    // Same array again (cached tensor) after changing it in place: the new values are used.
    x[0] = 10;
    assert.deepEqual(Array.from(await s.run(x, 2)), [30, 190, 10, 1, -5, 5, 0, 1]);
    // A view of a larger buffer works for a smaller batch.
    assert.deepEqual(Array.from(await s.run(x.subarray(6), 1)), [-5, 5, 0, 1]);
    const first = await s.run(x.subarray(0, 6), 1);
    const second = await s.run(x.subarray(0, 6), 1);
    assert.notEqual(first, second, 'every run returns a fresh array');

    await assert.rejects(s.run(x, 1), /input has 12 values, batch 1 needs 6 \(\[1,2,3\]\)/);
    await assert.rejects(s.run(x, 0), TypeError);
    await assert.rejects(s.run(new BigInt64Array(6), 1), /input must be a Float32Array, got BigInt64Array/);
    assert.equal(typeof (await s.warmUp(3)), 'number');
  } finally {
    await s.close();
  }
  await s.close(); // idempotent
  await assert.rejects(s.run(new Float32Array(6), 1), (err: unknown) => {
    assert.ok(err instanceof EncoderError);
    assert.match(err.message, /session is closed/);
    return true;
  });
});

test('a spec with a symbolic dim after the batch is rejected before loading', async () => {
  await assert.rejects(
    EncoderSession.open(
      file,
      { input: { name: 'audio', dtype: 'float32', shape: ['batch', 'time', 3] }, output: spec.output },
      { providers: ['cpu'] },
    ),
    /input dim time after the batch must be fixed/,
  );
});

test('an output of the wrong size is an EncoderError at run time', async () => {
  const s = await EncoderSession.open(
    file,
    { input: spec.input, output: { name: 'embedding', dim: 5 } },
    {
      providers: ['cpu'],
    },
  );
  try {
    await assert.rejects(
      s.run(new Float32Array(6), 1),
      /output embedding should be float32 \[1,5\], got float32 \[1,4\]/,
    );
  } finally {
    await s.close();
  }
});

test('non-CPU providers are probed once per process in a child; the reason is one line (issue #15)', async () => {
  const { logger, lines } = capture();
  const first = probeProvider('tensorrt', logger);
  assert.equal(probeProvider('tensorrt', logger), first, 'one probe per provider and process');
  const reason = await first;
  assert.match(reason ?? '', /^\S.*TensorRT.*$/, 'a one-line reason');
  assert.ok(!/\n/.test(reason ?? '') && !(reason ?? '').includes('\u001b'));
  // ORT's ANSI-coloured error line about the missing library went to this logger, uncoloured.
  const native = lines.find((l) => l.msg === 'probe of tensorrt: native output');
  assert.ok(native, "the child's native output is logged at debug");
  assert.equal(native.level, 20);
  assert.ok(!String(native.native).includes('\u001b'), 'no ANSI escape codes');
  assert.equal(await probeProvider('cpu'), undefined, 'cpu needs no probe');
});
