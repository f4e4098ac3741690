/* global process, Buffer, setTimeout */
/**
 * Fake `v4l2-ctl` for tests: put test/sensors/bin first on PATH. Streaming mode checks the exact
 * flags of hardware reference §3.4 (`-d DEV --set-fmt-video=width=W,height=H,pixelformat=XXXX
 * [--set-parm=F] --stream-mmap --stream-count=0 --stream-to=-`), rejects a pixelformat that is not
 * exactly 4 characters as the real tool does, and writes raw little-endian uint16 images to stdout
 * at the requested rate. The "device" is a path to a JSON script:
 *   { pixelFormat: 'Z16 ' | 'Y16 ',
 *     pattern: 'depth' | 'thermal',  // depth: 500 + (x + y + k) % 1000 raw units;
 *                                    // thermal: (20 + ((x + y + k) % 100) / 10) °C in centikelvin
 *     garbageEvery,                  // every Nth image is random bytes
 *     exitAfterFrames, exitCode=1,   // crash after N images (mid-image when midFrame)
 *     midFrame,
 *     chunkBytes=4093,               // write size: images straddle writes at odd offsets
 *     pidFile }
 * Unplug: delete the file; the fake exits 1 like v4l2-ctl when the node disappears.
 * Each start, failed ones included, appends one byte to `<device>.starts`.
 * `--list-devices` and `-d DEV --list-formats-ext` print canned output for `sensors probe`.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const value = (prefix) => argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
const di = argv.indexOf('-d');
const device = di >= 0 ? argv[di + 1] : '/dev/video0';

if (argv.includes('--list-devices')) {
  process.stdout.write('Fake Depth Camera (usb-0000:00:14.0-1):\n\t/dev/video0\n\t/dev/video1\n\n');
  process.exit(0);
}
if (argv.includes('--list-formats-ext')) {
  process.stdout.write(
    "ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture\n\n\t[0]: 'Z16 ' (16-bit Depth)\n\t\tSize: Discrete 848x480\n\t\t\tInterval: Discrete 0.033s (30.000 fps)\n",
  );
  process.exit(0);
}

const fmt = value('--set-fmt-video=');
const m = fmt && /^width=(\d+),height=(\d+),pixelformat=(.*)$/s.exec(fmt);
const wanted = ['--stream-mmap', '--stream-count=0', '--stream-to=-'];
if (!m || wanted.some((w) => !argv.includes(w))) {
  process.stderr.write(`v4l2-ctl (fake): unsupported argv ${JSON.stringify(argv)}\n`);
  process.exit(1);
}
const [, ws, hs, pixfmt] = m;
if (pixfmt.length !== 4) {
  process.stderr.write(`The pixelformat '${pixfmt}' is invalid\n`);
  process.exit(1);
}
// Every start is counted beside the device path (which an unplug removes): see starts() in fakes.ts.
appendFileSync(`${device}.starts`, '.');
if (!existsSync(device)) {
  process.stderr.write(`Cannot open device ${device}, exiting.\n`);
  process.exit(1);
}
const spec = JSON.parse(readFileSync(device, 'utf8'));
if (spec.pidFile) writeFileSync(spec.pidFile, String(process.pid));
if (spec.pixelFormat && spec.pixelFormat !== pixfmt) {
  process.stderr.write(`VIDIOC_S_FMT: failed: Invalid argument (wants '${spec.pixelFormat}')\n`);
  process.exit(1);
}
const width = Number(ws);
const height = Number(hs);
const fps = Number(value('--set-parm=') ?? '30');
const chunkBytes = spec.chunkBytes ?? 4093;
const out = process.stdout;
out.on('error', () => process.exit(0));

let seed = 12345;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return (seed >>> 16) & 0xff;
};
function image(k) {
  const buf = Buffer.alloc(width * height * 2);
  if (spec.garbageEvery && k % spec.garbageEvery === spec.garbageEvery - 1) {
    for (let i = 0; i < buf.length; i++) buf[i] = rand();
    return buf;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v =
        spec.pattern === 'thermal'
          ? Math.round((20 + ((x + y + k) % 100) / 10 + 273.15) * 100)
          : 500 + ((x + y + k) % 1000);
      buf.writeUInt16LE(v, (y * width + x) * 2);
    }
  }
  return buf;
}

let k = 0;
const t0 = Date.now();
function write(buf) {
  for (let o = 0; o < buf.length; o += chunkBytes) out.write(buf.subarray(o, o + chunkBytes));
}
function tick() {
  if (!existsSync(device)) {
    process.stderr.write('VIDIOC_DQBUF: failed: No such device\n');
    process.exit(1);
  }
  const img = image(k);
  if (spec.exitAfterFrames !== undefined && k >= spec.exitAfterFrames) {
    if (spec.midFrame) write(img.subarray(0, Math.floor(img.length / 3)));
    process.stderr.write('VIDIOC_DQBUF: failed: Input/output error\n');
    out.end(() => process.exit(spec.exitCode ?? 1));
    return;
  }
  write(img);
  k++;
  setTimeout(tick, Math.max(0, t0 + (k * 1000) / fps - Date.now()));
}
tick();
