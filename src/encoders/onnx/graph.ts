/**
 * A small builder for ONNX graphs: typed inputs/outputs (fixed or symbolic dims), initializers
 * (given or generated lazily when the model is written) and nodes with typed attributes.
 * `writer.ts` turns the result into a ModelProto.
 */

export type ElemType = 'float32' | 'int64';
/** A fixed size, or a symbolic name such as `batch` that ONNX Runtime lets vary per run. */
export type Dim = number | string;
export type TensorValues = Float32Array | BigInt64Array;

export interface ValueInfo {
  name: string;
  dtype: ElemType;
  shape: Dim[];
}

export interface Initializer {
  name: string;
  dtype: ElemType;
  dims: number[];
  /** The values, or a function producing them; called once, when the model is written. */
  data: TensorValues | (() => TensorValues);
  /** A learned weight (counted by `parameterCount`), as opposed to a constant such as a shape or mask. */
  parameter: boolean;
}

export type AttributeValue =
  | { type: 'int'; value: number }
  | { type: 'ints'; value: number[] }
  | { type: 'float'; value: number }
  | { type: 'floats'; value: number[] }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Initializer };

/** Plain integers and integer arrays are INT/INTS, strings are STRING; floats must be wrapped. */
export type AttributeInput = number | number[] | string | AttributeValue;

export interface NodeDef {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

export interface GraphDef {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Initializer[];
  nodes: NodeDef[];
}

/** A FLOAT attribute (e.g. `epsilon: float(1e-6)`). */
export function float(value: number): AttributeValue {
  return { type: 'float', value };
}

/** A FLOATS attribute. */
export function floats(value: number[]): AttributeValue {
  return { type: 'floats', value };
}

function toAttribute(key: string, v: AttributeInput): AttributeValue {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v))
      throw new TypeError(`attribute ${key}: ${v} is not an integer; wrap floats in float()`);
    return { type: 'int', value: v };
  }
  if (Array.isArray(v)) {
    if (!v.every((x) => Number.isInteger(x))) {
      throw new TypeError(`attribute ${key}: [${v.join(',')}] has non-integers; wrap floats in floats()`);
    }
    return { type: 'ints', value: v };
  }
  return v;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Number of learned weights in a graph (initializers not marked `parameter: false`). */
export function parameterCount(graph: Pick<GraphDef, 'initializers'>): number {
  let n = 0;
  for (const i of graph.initializers) if (i.parameter) n += elementCount(i.dims);
  return n;
}

export class GraphBuilder {
  readonly name: string;
  readonly #inputs: ValueInfo[] = [];
  readonly #outputs: ValueInfo[] = [];
  readonly #initializers: Initializer[] = [];
  readonly #nodes: NodeDef[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  constructor(name: string) {
    this.name = name;
  }

  #claim(name: string): string {
    if (this.#names.has(name)) throw new TypeError(`graph ${this.name}: duplicate value name ${name}`);
    this.#names.add(name);
    return name;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, dtype: ElemType, shape: Dim[]): string {
    this.#inputs.push({ name: this.#claim(name), dtype, shape: [...shape] });
    return name;
  }

  /**
   * Declares a graph output. `value` is the node output to expose; when it differs from `name`
   * an Identity node renames it.
   */
  output(name: string, dtype: ElemType, shape: Dim[], value: string = name): void {
    if (value !== name) this.node('Identity', [value], {}, { outputs: [name] });
    else if (!this.#names.has(name))
      throw new TypeError(`graph ${this.name}: output ${name} is never produced`);
    this.#outputs.push({ name, dtype, shape: [...shape] });
  }

  /**
   * Adds a weight tensor. `data` may be a generator so that big weights exist only while being
   * written. `parameter: false` marks a constant (shape, mask) that `parameterCount` skips.
   */
  initializer(
    name: string,
    dims: number[],
    data: Initializer['data'],
    opts: { dtype?: ElemType; parameter?: boolean } = {},
  ): string {
    if (typeof data !== 'function' && data.length !== elementCount(dims)) {
      throw new TypeError(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    }
    const dtype =
      opts.dtype ?? (typeof data !== 'function' && data instanceof BigInt64Array ? 'int64' : 'float32');
    const parameter = opts.parameter ?? true;
    this.#initializers.push({ name: this.#claim(name), dtype, dims: [...dims], data, parameter });
    return name;
  }

  /** A float32 constant (`dims` defaults to a 1-D tensor; `[]` makes a scalar). */
  constFloat(values: number[] | Float32Array, dims: number[] = [values.length]): string {
    return this.initializer(this.#fresh('const_f'), dims, Float32Array.from(values), { parameter: false });
  }

  /** An int64 constant, e.g. a Reshape target shape. */
  constInt64(values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.initializer(this.#fresh('const_i'), dims, data, { dtype: 'int64', parameter: false });
  }

  #fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.#counter++}`;
    while (this.#names.has(name));
    return name;
  }

  /**
   * Adds a node and returns its output names. Outputs are named after the node unless given;
   * an empty string in `inputs` marks an omitted optional input.
   */
  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeInput> = {},
    opts: { outputs?: number | string[]; name?: string; domain?: string } = {},
  ): string[] {
    for (const i of inputs) {
      if (i !== '' && !this.#names.has(i))
        throw new TypeError(`graph ${this.name}: ${opType} input ${i} is undefined`);
    }
    const name = this.#claim(opts.name ?? this.#fresh(opType));
    const outs = opts.outputs ?? 1;
    const outputs =
      typeof outs === 'number' ? Array.from({ length: outs }, (_, k) => `${name}_out${k}`) : outs;
    for (const o of outputs) this.#claim(o);
    const attrs: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(attributes)) attrs[k] = toAttribute(k, v);
    this.#nodes.push({
      name,
      opType,
      domain: opts.domain ?? '',
      inputs: [...inputs],
      outputs,
      attributes: attrs,
    });
    return outputs;
  }

  /** `node()` for the common single-output case. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeInput> = {}): string {
    const [out] = this.node(opType, inputs, attributes);
    return out as string;
  }

  /** Number of learned weights so far (initializers not marked `parameter: false`). */
  get parameterCount(): number {
    return parameterCount({ initializers: this.#initializers });
  }

  build(): GraphDef {
    if (this.#outputs.length === 0) throw new TypeError(`graph ${this.name}: no outputs`);
    return {
      name: this.name,
      inputs: [...this.#inputs],
      outputs: [...this.#outputs],
      initializers: [...this.#initializers],
      nodes: [...this.#nodes],
    };
  }
}
