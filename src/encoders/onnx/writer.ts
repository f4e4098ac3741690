/**
 * Serialises a `GraphDef` into an ONNX ModelProto (IR version 8, opset 17 by default).
 *
 * Small messages (header, nodes, value infos, each initializer's dims/name) go through protobufjs.
 * Initializer payloads are emitted by hand as `raw_data` straight from their typed arrays, so a
 * model is written as a stream of chunks: a 1.4 GB encoder never needs a second copy in memory, and
 * lazily generated weights exist only while their own tensor is being written.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { AttributeType, DataType, FieldNo, onnx } from './proto.js';
import {
  elementCount,
  type AttributeValue,
  type Dim,
  type ElemType,
  type GraphDef,
  type Initializer,
} from './graph.js';

export interface ModelOptions {
  /** Default 8 (ONNX 1.13/1.14), which every onnxruntime ≥ 1.14 reads. */
  irVersion?: number;
  /** Default 17, the opset ImageBind's reference export used. */
  opset?: number;
  /** Default `edgebind`. */
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Stored as `metadata_props`. */
  metadata?: Record<string, string>;
}

const DTYPE_CODE: Record<ElemType, number> = { float32: DataType.FLOAT, int64: DataType.INT64 };
const BYTES_PER_ELEMENT: Record<ElemType, number> = { float32: 4, int64: 8 };

function varint(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}

/** Tag + length prefix of a length-delimited field (wire type 2). */
function lengthPrefix(fieldNo: number, length: number): Uint8Array {
  const tag = varint(fieldNo * 8 + 2);
  const len = varint(length);
  const out = new Uint8Array(tag.length + len.length);
  out.set(tag);
  out.set(len, tag.length);
  return out;
}

function valueInfo(v: { name: string; dtype: ElemType; shape: Dim[] }): object {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DTYPE_CODE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function materialise(init: Initializer): Float32Array | BigInt64Array {
  const data = typeof init.data === 'function' ? init.data() : init.data;
  const expected = elementCount(init.dims);
  if (data.length !== expected) {
    throw new TypeError(`initializer ${init.name}: ${data.length} values for dims [${init.dims.join(',')}]`);
  }
  if ((init.dtype === 'int64') !== data instanceof BigInt64Array) {
    throw new TypeError(`initializer ${init.name}: data does not match dtype ${init.dtype}`);
  }
  return data;
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorObject(init: Initializer, withData: boolean): object {
  const obj: Record<string, unknown> = { name: init.name, dims: init.dims, dataType: DTYPE_CODE[init.dtype] };
  if (withData) obj.rawData = bytesOf(materialise(init));
  return obj;
}

function attributeObject(name: string, a: AttributeValue): object {
  switch (a.type) {
    case 'int':
      return { name, type: AttributeType.INT, i: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: tensorObject(a.value, true) };
  }
}

function encode(type: (typeof onnx)[keyof typeof onnx], obj: object): Uint8Array {
  const err = type.verify(obj);
  if (err) throw new TypeError(`${type.name}: ${err}`);
  return type.encode(type.fromObject(obj)).finish();
}

/** One planned piece of output: bytes now, or an initializer whose payload is produced when written. */
type Piece = Uint8Array | { init: Initializer; prefix: Uint8Array };

interface Plan {
  pieces: Piece[];
  totalBytes: number;
}

function plan(graph: GraphDef, opts: ModelOptions): Plan {
  if (endianness() !== 'LE') {
    // raw_data is little-endian by definition, and typed arrays use the host's order.
    throw new Error('the ONNX writer supports little-endian hosts only');
  }
  const header = encode(onnx.ModelProto, {
    irVersion: opts.irVersion ?? 8,
    opsetImport: [{ domain: '', version: opts.opset ?? 17 }],
    producerName: opts.producerName ?? 'edgebind',
    producerVersion: opts.producerVersion ?? '',
    docString: opts.docString ?? '',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  const graphHead = encode(onnx.GraphProto, {
    name: graph.name,
    node: graph.nodes.map((n) => ({
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      input: n.inputs,
      output: n.outputs,
      attribute: Object.entries(n.attributes).map(([k, v]) => attributeObject(k, v)),
    })),
    input: graph.inputs.map(valueInfo),
    output: graph.outputs.map(valueInfo),
  });

  const inits: Piece[] = [];
  let graphBytes = graphHead.length;
  for (const init of graph.initializers) {
    const head = encode(onnx.TensorProto, tensorObject(init, false));
    const rawLen = elementCount(init.dims) * BYTES_PER_ELEMENT[init.dtype];
    const rawPrefix = lengthPrefix(FieldNo.TensorProto.rawData, rawLen);
    const tensorLen = head.length + rawPrefix.length + rawLen;
    const outer = lengthPrefix(FieldNo.GraphProto.initializer, tensorLen);
    const prefix = new Uint8Array(outer.length + head.length + rawPrefix.length);
    prefix.set(outer);
    prefix.set(head, outer.length);
    prefix.set(rawPrefix, outer.length + head.length);
    inits.push({ init, prefix });
    graphBytes += outer.length + tensorLen;
  }
  const graphPrefix = lengthPrefix(FieldNo.ModelProto.graph, graphBytes);
  return {
    pieces: [header, graphPrefix, graphHead, ...inits],
    totalBytes: header.length + graphPrefix.length + graphBytes,
  };
}

function* chunks(p: Plan): Generator<Uint8Array> {
  for (const piece of p.pieces) {
    if (piece instanceof Uint8Array) {
      yield piece;
    } else {
      yield piece.prefix;
      yield bytesOf(materialise(piece.init));
    }
  }
}

/** Encodes the whole model in memory (fine for small models and tests). */
export function encodeModel(graph: GraphDef, opts: ModelOptions = {}): Uint8Array {
  const p = plan(graph, opts);
  const out = new Uint8Array(p.totalBytes);
  let at = 0;
  for (const c of chunks(p)) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Streams the model to `file` and returns its size and sha256 (hashed while writing, so a big
 * model is not read back). Protobuf caps a message at 2 GiB, hence so does this.
 */
export async function writeModel(
  file: string,
  graph: GraphDef,
  opts: ModelOptions = {},
): Promise<{ bytes: number; sha256: string }> {
  const p = plan(graph, opts);
  if (p.totalBytes >= 2 ** 31) {
    throw new RangeError(`${file}: model is ${p.totalBytes} bytes, over protobuf's 2 GiB limit`);
  }
  const hash = createHash('sha256');
  const fh = await open(file, 'w');
  try {
    for (const c of chunks(p)) {
      hash.update(c);
      let off = 0;
      while (off < c.length) {
        const { bytesWritten } = await fh.write(c, off, c.length - off);
        off += bytesWritten;
      }
    }
  } finally {
    await fh.close();
  }
  return { bytes: p.totalBytes, sha256: hash.digest('hex') };
}

/** A decoded model as plain objects: camelCase field names, int64 as numbers, bytes as Uint8Array. */
export interface DecodedModel {
  irVersion?: number;
  opsetImport?: { domain?: string; version?: number }[];
  producerName?: string;
  metadataProps?: { key?: string; value?: string }[];
  graph?: {
    name?: string;
    node?: {
      name?: string;
      opType?: string;
      input?: string[];
      output?: string[];
      attribute?: {
        name?: string;
        type?: number;
        i?: number;
        f?: number;
        ints?: number[];
        floats?: number[];
        s?: Uint8Array;
      }[];
    }[];
    initializer?: { name?: string; dims?: number[]; dataType?: number; rawData?: Uint8Array }[];
    input?: DecodedValueInfo[];
    output?: DecodedValueInfo[];
  };
}

export interface DecodedValueInfo {
  name?: string;
  type?: {
    tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: number; dimParam?: string }[] } };
  };
}

/** Decodes ONNX bytes. Throws protobufjs's error on malformed input. */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const msg = onnx.ModelProto.decode(bytes);
  return onnx.ModelProto.toObject(msg, { longs: Number, bytes: Uint8Array, defaults: false });
}

const ELEM_NAMES: Record<number, string> = { 1: 'float32', 7: 'int64', 10: 'float16' };

/** A graph input/output as `{ name, dtype, shape }`, dims fixed or symbolic (`?` when neither). */
export function describeValueInfo(v: DecodedValueInfo): { name: string; dtype: string; shape: Dim[] } {
  const t = v.type?.tensorType;
  const code = t?.elemType ?? 0;
  return {
    name: v.name ?? '',
    dtype: ELEM_NAMES[code] ?? `type${code}`,
    shape: (t?.shape?.dim ?? []).map((d) => d.dimValue ?? d.dimParam ?? '?'),
  };
}
