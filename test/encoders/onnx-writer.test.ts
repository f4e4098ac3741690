import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GraphBuilder, float, floats, parameterCount, type GraphDef } from '../../src/encoders/onnx/graph.js';
import { createRng, normalTensor } from '../../src/encoders/onnx/random.js';
import { decodeModel, describeValueInfo, encodeModel, writeModel } from '../../src/encoders/onnx/writer.js';
import { EncoderSession } from '../../src/encoders/session.js';

const dir = await mkdtemp(join(tmpdir(), 'edgebind-onnx-'));
after(() => rm(dir, { recursive: true, force: true }));

/** y = LeakyRelu(x · W + b, alpha 0.5), x `[batch, 4]`, y `[batch, 3]`. */
function smallGraph(): GraphDef {
  const g = new GraphBuilder('small');
  const x = g.input('x', 'float32', ['batch', 4]);
  const w = g.initializer('w', [4, 3], Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]));
  const b = g.initializer('b', [3], () => Float32Array.from([0.5, -0.5, 0]));
  const y = g.op('LeakyRelu', [g.op('Add', [g.op('MatMul', [x, w]), b])], { alpha: float(0.5) });
  g.output('y', 'float32', ['batch', 3], y);
  return g.build();
}

test('a model round-trips through encode and decode', () => {
  const g = new GraphBuilder('roundtrip');
  const x = g.input('x', 'float32', ['batch', 2, 8]);
  const weights = normalTensor(1, 'w', 8 * 5, 1);
  const w = g.initializer('w', [8, 5], weights);
  const lazy = g.initializer('lazy', [5], () => Float32Array.from([1, 2, 3, 4, 5]));
  const shape = g.constInt64([0, -1]);
  const y = g.op('Add', [g.op('MatMul', [x, w]), lazy]);
  const [a, bOut] = g.node('Split', [y, g.constInt64([1, 1])], { axis: 1 }, { outputs: 2 });
  const z = g.op('Reshape', [a!, shape]);
  g.op('Concat', [z, z], { axis: 0 });
  g.node('Pad', [bOut!], { mode: 'constant', pads: [0, 0, 0, 0, 0, 0], value: float(0.25) });
  g.node(
    'Cast',
    [z],
    { to: 1, some_floats: floats([0.5, 1.5]) },
    { name: 'cast_node', outputs: ['cast_out'] },
  );
  g.output('out', 'float32', ['batch', 5], 'cast_out');
  const graph = g.build();

  const bytes = encodeModel(graph, { metadata: { purpose: 'test' } });
  const m = decodeModel(bytes);
  assert.equal(m.irVersion, 8);
  assert.deepEqual(m.opsetImport, [{ domain: '', version: 17 }]);
  assert.equal(m.producerName, 'edgebind');
  assert.deepEqual(m.metadataProps, [{ key: 'purpose', value: 'test' }]);
  assert.equal(m.graph?.name, 'roundtrip');
  assert.deepEqual(m.graph?.input?.map(describeValueInfo), [
    { name: 'x', dtype: 'float32', shape: ['batch', 2, 8] },
  ]);
  assert.deepEqual(m.graph?.output?.map(describeValueInfo), [
    { name: 'out', dtype: 'float32', shape: ['batch', 5] },
  ]);

  const nodes = m.graph?.node ?? [];
  assert.deepEqual(
    nodes.map((n) => n.opType),
    ['MatMul', 'Add', 'Split', 'Reshape', 'Concat', 'Pad', 'Cast', 'Identity'],
  );
  const split = nodes.find((n) => n.opType === 'Split');
  assert.deepEqual(split?.attribute, [{ name: 'axis', type: 2, i: 1 }]);
  // proto2 keeps an explicit zero (proto3 would drop `i: 0` as a default value).
  const concat = nodes.find((n) => n.opType === 'Concat');
  assert.deepEqual(concat?.attribute, [{ name: 'axis', type: 2, i: 0 }]);
  const pad = nodes.find((n) => n.opType === 'Pad');
  const attrs = Object.fromEntries((pad?.attribute ?? []).map((x) => [x.name ?? '', x]));
  assert.equal(new TextDecoder().decode(attrs.mode?.s), 'constant');
  assert.deepEqual(attrs.pads?.ints, [0, 0, 0, 0, 0, 0]);
  assert.equal(attrs.value?.f, 0.25);
  const cast = nodes.find((n) => n.name === 'cast_node');
  assert.deepEqual(cast?.output, ['cast_out']);
  assert.deepEqual(cast?.attribute?.[1], { name: 'some_floats', type: 6, floats: [0.5, 1.5] });

  const inits = Object.fromEntries((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const raw = inits.w?.rawData;
  assert.ok(raw);
  assert.deepEqual(inits.w?.dims, [8, 5]);
  assert.equal(inits.w?.dataType, 1);
  assert.deepEqual(new Float32Array(raw.slice().buffer), weights);
  assert.deepEqual(new Float32Array(inits.lazy!.rawData!.slice().buffer), Float32Array.from([1, 2, 3, 4, 5]));
  assert.equal(inits[shape]?.dataType, 7);
  assert.deepEqual(
    new BigInt64Array(inits[shape]?.rawData?.slice().buffer ?? new ArrayBuffer(0)),
    BigInt64Array.from([0n, -1n]),
  );
  assert.equal(parameterCount(graph), 8 * 5 + 5, 'constants are not parameters');
});

test('writeModel streams the same bytes as encodeModel and hashes them', async () => {
  const graph = smallGraph();
  const file = join(dir, 'small.onnx');
  const { bytes, sha256 } = await writeModel(file, graph);
  const onDisk = await readFile(file);
  assert.deepEqual(new Uint8Array(onDisk), encodeModel(graph));
  assert.equal(bytes, onDisk.length);
  assert.equal(sha256, createHash('sha256').update(onDisk).digest('hex'));
});

test('onnxruntime runs a written model with the expected values', async () => {
  const file = join(dir, 'run.onnx');
  await writeModel(file, smallGraph());
  const s = await EncoderSession.open(
    file,
    { input: { name: 'x', dtype: 'float32', shape: ['batch', 4] }, output: { name: 'y', dim: 3 } },
    { providers: ['cpu'] },
  );
  try {
    assert.deepEqual(s.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]);
    assert.deepEqual(s.outputs, [{ name: 'y', dtype: 'float32', shape: ['batch', 3] }]);
    const y = await s.run(Float32Array.from([1, -2, 3, 4, 0, 0, 0, -1]), 2);
    // row 0: [1+4, -2+4, 3+4] + b = [5.5, 1.5, 7]; row 1: [-1, -1, -1] + b → leaky [-0.25, -0.75, -0.5]
    assert.deepEqual(Array.from(y), [5.5, 1.5, 7, -0.25, -0.75, -0.5]);
  } finally {
    await s.close();
  }
});

test('the builder rejects misuse with TypeError', () => {
  const g = new GraphBuilder('bad');
  const x = g.input('x', 'float32', ['batch', 2]);
  assert.throws(() => g.input('x', 'float32', [1]), TypeError);
  assert.throws(() => g.op('Relu', ['nope']), /input nope is undefined/);
  assert.throws(() => g.op('LeakyRelu', [x], { alpha: 0.5 }), /wrap floats in float\(\)/);
  assert.throws(() => g.initializer('w', [2, 2], new Float32Array(3)), /3 values for dims \[2,2\]/);
  assert.throws(() => g.output('y', 'float32', ['batch', 2]), /never produced/);
  assert.throws(() => new GraphBuilder('empty').build(), /no outputs/);
  const lazyWrong = new GraphBuilder('lazy');
  lazyWrong.output(
    'y',
    'float32',
    [2],
    lazyWrong.initializer('w', [2], () => new Float32Array(5)),
  );
  assert.throws(() => encodeModel(lazyWrong.build()), /5 values for dims \[2\]/);
});

test('the PRNG is deterministic per (seed, stream) and roughly standard normal', () => {
  const a = normalTensor(7, 'x', 20000);
  assert.deepEqual(a, normalTensor(7, 'x', 20000));
  assert.notDeepEqual(a, normalTensor(8, 'x', 20000));
  assert.notDeepEqual(a, normalTensor(7, 'y', 20000));
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  const r = createRng(1);
  for (let i = 0; i < 1000; i++) {
    const u = r();
    assert.ok(u >= 0 && u < 1);
  }
});
