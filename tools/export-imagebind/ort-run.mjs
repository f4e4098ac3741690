// Runs one ONNX model with onnxruntime-node for export_imagebind.py's ONNX-vs-PyTorch check, on a
// machine whose Python has no onnxruntime (Debian ships none). Usage:
//   node tools/export-imagebind/ort-run.mjs JOB.json
// JOB: { model, providers?, inputName, dtype: "float32"|"int64", dims, inputFile, outputName, outputFile }
// The input file holds raw little-endian values; the output (float32 LE) is written to outputFile,
// and one JSON line { dims, provider } is printed.
import { Buffer } from 'node:buffer';
import { readFile, writeFile } from 'node:fs/promises';
import process from 'node:process';
import * as ort from 'onnxruntime-node';

const job = JSON.parse(await readFile(process.argv[2], 'utf8'));
const raw = await readFile(job.inputFile);
const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
const data = job.dtype === 'int64' ? new BigInt64Array(bytes) : new Float32Array(bytes);
const providers = job.providers ?? ['cpu'];
const session = await ort.InferenceSession.create(job.model, { executionProviders: providers });
const result = await session.run({ [job.inputName]: new ort.Tensor(job.dtype, data, job.dims) }, [
  job.outputName,
]);
const out = result[job.outputName];
if (out.type !== 'float32')
  throw new Error(`${job.model}: output ${job.outputName} is ${out.type}, not float32`);
await writeFile(job.outputFile, Buffer.from(out.data.buffer, out.data.byteOffset, out.data.byteLength));
process.stdout.write(`${JSON.stringify({ dims: out.dims, provider: providers[0] })}\n`);
await session.release();
