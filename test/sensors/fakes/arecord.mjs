/* global process, Buffer, setTimeout */
/**
 * Fake `arecord` for tests: put test/sensors/bin first on PATH. It parses the argv that
 * node-record-lpcm16 builds (`[-D dev] -q -r R -c C -t raw|wav -f S16_LE -`) and streams real
 * S16_LE bytes at real-time pace. The "device" (`-D`) is a path to a JSON script:
 *   { freqHz=440, amplitude=0.5, chunkMs=20, speed=1,
 *     exitAfterMs, exitCode=1,   // crash after this much audio
 *     stallAfterMs,              // stop writing but stay alive
 *     garbageHeader,             // wav mode: send junk instead of the RIFF header
 *     splitOdd,                  // write chunks of odd length (a sample straddles writes)
 *     ignoreTerm,                // ignore SIGTERM (the caller must escalate to SIGKILL)
 *     pidFile }                  // write own pid here
 * Unplug: delete the file; the fake then exits 1 like arecord does when the device vanishes.
 * Each start, failed ones included, appends one byte to `<device>.starts`.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv[0] === '-l') {
  process.stdout.write('**** List of CAPTURE Hardware Devices ****\n');
  process.stdout.write('card 1: Fake [Fake USB Mic], device 0: USB Audio [USB Audio]\n');
  process.stdout.write('  Subdevices: 1/1\n  Subdevice #0: subdevice #0\n');
  process.exit(0);
}
const opt = (flag, dflt) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : dflt;
};
const device = opt('-D', undefined);
const rate = Number(opt('-r', '8000'));
const channels = Number(opt('-c', '1'));
const type = opt('-t', 'raw');
if (opt('-f', 'U8') !== 'S16_LE' || argv[argv.length - 1] !== '-') {
  process.stderr.write(`arecord (fake): unsupported argv ${argv.join(' ')}\n`);
  process.exit(1);
}
// Every start is counted beside the device path (which an unplug removes): see starts() in fakes.ts.
if (device) appendFileSync(`${device}.starts`, '.');
if (!device || !existsSync(device)) {
  process.stderr.write(`arecord: main:831: audio open error: No such file or directory\n`);
  process.exit(1);
}
const spec = JSON.parse(readFileSync(device, 'utf8'));
if (spec.pidFile) writeFileSync(spec.pidFile, String(process.pid));
if (spec.ignoreTerm) process.on('SIGTERM', () => {});
const freq = spec.freqHz ?? 440;
const amp = spec.amplitude ?? 0.5;
const chunkMs = spec.chunkMs ?? 20;
const speed = spec.speed ?? 1;
const chunkSamples = Math.round((rate * chunkMs) / 1000);

const out = process.stdout;
out.on('error', () => process.exit(0)); // EPIPE: the reader went away

if (type === 'wav') {
  const h = Buffer.alloc(44);
  if (spec.garbageHeader) {
    for (let i = 0; i < 44; i++) h[i] = (i * 37 + 11) & 0xff;
  } else {
    h.write('RIFF', 0, 'ascii');
    h.writeUInt32LE(0x80000024, 4); // arecord writes bogus maxima to a pipe
    h.write('WAVEfmt ', 8, 'ascii');
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(1, 20);
    h.writeUInt16LE(channels, 22);
    h.writeUInt32LE(rate, 24);
    h.writeUInt32LE(rate * channels * 2, 28);
    h.writeUInt16LE(channels * 2, 32);
    h.writeUInt16LE(16, 34);
    h.write('data', 36, 'ascii');
    h.writeUInt32LE(0x80000000, 40);
  }
  out.write(h);
}

let n = 0; // samples written
let pending = Buffer.alloc(0);
const t0 = Date.now();
function tick() {
  if (!existsSync(device)) {
    process.stderr.write('arecord: pcm_read:2221: read error: No such device\n');
    process.exit(1);
  }
  const doneMs = (n * 1000) / rate;
  if (spec.exitAfterMs !== undefined && doneMs >= spec.exitAfterMs) {
    process.stderr.write('arecord: pcm_read:2221: read error: Input/output error\n');
    process.exit(spec.exitCode ?? 1);
  }
  if (spec.stallAfterMs !== undefined && doneMs >= spec.stallAfterMs) {
    setTimeout(tick, 1000);
    return;
  }
  const buf = Buffer.alloc(chunkSamples * channels * 2);
  for (let i = 0; i < chunkSamples; i++) {
    const v = Math.round(amp * 32767 * Math.sin((2 * Math.PI * freq * (n + i)) / rate));
    for (let c = 0; c < channels; c++) buf.writeInt16LE(v, (i * channels + c) * 2);
  }
  n += chunkSamples;
  let data = Buffer.concat([pending, buf]);
  if (spec.splitOdd) {
    // Hold back a single byte so every write ends mid-sample.
    pending = data.subarray(data.length - 1);
    data = data.subarray(0, data.length - 1);
    out.write(data.subarray(0, 3));
    out.write(data.subarray(3));
  } else out.write(data);
  const due = t0 + (n * 1000) / rate / speed;
  setTimeout(tick, Math.max(0, due - Date.now()));
}
tick();
