/**
 * `edgebind sensors probe`: what is attached. I2C chips at known addresses by WHO_AM_I / chip id,
 * serial ports, ALSA capture devices (`arecord -l`), V4L2 nodes and their formats (`v4l2-ctl`).
 * A missing tool or bus gives a line saying so, never an exception.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createSerialLink, type SerialPortInfo } from './bus/serial.js';

export interface RunResult {
  /** False when the executable is not on PATH. */
  found: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The small slice of i2c-bus's PromisifiedBus the probe uses. */
export interface ProbeI2cBus {
  scan(): Promise<number[]>;
  readByte(addr: number, cmd: number): Promise<number>;
  close(): Promise<void>;
}

export interface ProbeDeps {
  run?: (cmd: string, args: string[]) => Promise<RunResult>;
  listSerial?: () => Promise<SerialPortInfo[]>;
  /** Bus numbers of /dev/i2c-N. */
  i2cBuses?: () => number[];
  openI2c?: (bus: number) => Promise<ProbeI2cBus>;
}

export function runTool(cmd: string, args: string[], timeoutMs = 5000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number }) | null;
      if (e?.code === 'ENOENT') return resolve({ found: false, code: null, stdout: '', stderr: '' });
      resolve({ found: true, code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Register reads that name a chip at an address: [register, value → name]. */
const I2C_IDS: Record<number, { reg: number; ids: Record<number, string>; otherwise?: string }[]> = {
  0x68: [
    {
      reg: 0x75,
      ids: {
        0x68: 'MPU-6050/6000/9150',
        0x70: 'MPU-6500',
        0x71: 'MPU-9250',
        0x73: 'MPU-9255',
        0x74: 'MPU-6515',
      },
    },
    { reg: 0x00, ids: { 0xea: 'ICM-20948' }, otherwise: 'unidentified (AMG8833 has no id register)' },
  ],
  0x28: [{ reg: 0x00, ids: { 0xa0: 'BNO055' } }],
  0x29: [{ reg: 0x00, ids: { 0xa0: 'BNO055' }, otherwise: 'unidentified (VL53L5CX default address)' }],
  0x33: [{ reg: -1, ids: {}, otherwise: 'MLX90640 address (16-bit registers; not read by the probe)' }],
  0x10: [{ reg: -1, ids: {}, otherwise: 'TFmini/TF-Luna I2C address' }],
};
I2C_IDS[0x69] = I2C_IDS[0x68]!;

async function probeI2c(deps: Required<ProbeDeps>): Promise<string[]> {
  const buses = deps.i2cBuses();
  if (buses.length === 0) return ['i2c: no /dev/i2c-* buses'];
  const lines: string[] = [];
  for (const n of buses) {
    let bus: ProbeI2cBus;
    try {
      bus = await deps.openI2c(n);
    } catch (err) {
      lines.push(`i2c-${n}: cannot open (${(err as Error).message})`);
      continue;
    }
    try {
      const found = await bus.scan();
      const known = found.filter((a) => I2C_IDS[a]);
      if (found.length === 0) lines.push(`i2c-${n}: no devices answer`);
      for (const addr of known) lines.push(`i2c-${n} 0x${hex(addr)}: ${await identify(bus, addr)}`);
      const other = found.filter((a) => !I2C_IDS[a]);
      if (other.length > 0)
        lines.push(`i2c-${n}: other addresses ${other.map((a) => `0x${hex(a)}`).join(' ')}`);
    } catch (err) {
      lines.push(`i2c-${n}: scan failed (${(err as Error).message})`);
    } finally {
      await bus.close().catch(() => {});
    }
  }
  return lines;
}

async function identify(bus: ProbeI2cBus, addr: number): Promise<string> {
  let fallback = 'unidentified';
  for (const probe of I2C_IDS[addr]!) {
    if (probe.otherwise) fallback = probe.otherwise;
    if (probe.reg < 0) continue;
    try {
      const v = await bus.readByte(addr, probe.reg);
      const name = probe.ids[v];
      if (name) return `${name} (reg 0x${hex(probe.reg)} = 0x${hex(v)})`;
    } catch {
      // no answer to this register; try the next candidate
    }
  }
  return fallback;
}

const hex = (v: number) => v.toString(16).padStart(2, '0');

async function probeSerial(deps: Required<ProbeDeps>): Promise<string[]> {
  try {
    const ports = await deps.listSerial();
    if (ports.length === 0) return ['serial: no ports'];
    return ports.map((p) => {
      const id = [
        p.manufacturer,
        p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : undefined,
        p.serialNumber,
      ]
        .filter(Boolean)
        .join(', ');
      return `serial ${p.path}${id ? ` (${id})` : ''}`;
    });
  } catch (err) {
    // serialport's Linux lister needs udevadm; without it, fall back to the usual device names.
    let names: string[] = [];
    try {
      names = readdirSync('/dev').filter((n) => /^tty(USB|ACM|THS|AMA)\d+$/.test(n));
    } catch {
      // no /dev
    }
    const found = names.map((n) => `serial /dev/${n}`);
    return [`serial: cannot list ports (${(err as Error).message})`, ...found];
  }
}

async function probeAlsa(deps: Required<ProbeDeps>): Promise<string[]> {
  const r = await deps.run('arecord', ['-l']);
  if (!r.found) return ['alsa: arecord not found (install alsa-utils)'];
  const cards = r.stdout.split('\n').filter((l) => /^card \d+:/.test(l));
  if (cards.length === 0) return ['alsa: no capture devices'];
  return cards.map((l) => {
    const m = /^card (\d+):.*?device (\d+):\s*(.*)$/.exec(l);
    return m ? `alsa plughw:${m[1]},${m[2]} ${m[3]}` : `alsa ${l.trim()}`;
  });
}

async function probeV4l2(deps: Required<ProbeDeps>): Promise<string[]> {
  const r = await deps.run('v4l2-ctl', ['--list-devices']);
  if (!r.found) return ['v4l2: v4l2-ctl not found (install v4l-utils)'];
  const nodes = [...r.stdout.matchAll(/^\s+(\/dev\/video\d+)\s*$/gm)].map((m) => m[1]!);
  if (nodes.length === 0) return ['v4l2: no video devices'];
  const lines: string[] = [];
  let camera = '';
  for (const l of r.stdout.split('\n')) {
    if (l.trim() === '') continue;
    if (!/^\s/.test(l)) camera = l.replace(/:\s*$/, '');
    else {
      const node = l.trim();
      const f = await deps.run('v4l2-ctl', ['-d', node, '--list-formats-ext']);
      const formats = [...f.stdout.matchAll(/\[\d+\]: '(.{4})'/g)].map((m) => `'${m[1]}'`);
      const sizes = [...new Set([...f.stdout.matchAll(/Size: \w+ (\d+x\d+)/g)].map((m) => m[1]))];
      const hint = formats.includes("'Z16 '")
        ? ' → depth-z16'
        : formats.includes("'Y16 '")
          ? ' → thermal-y16'
          : '';
      lines.push(
        `v4l2 ${node} (${camera}): ${formats.length ? formats.join(' ') : 'no capture formats'}${sizes.length ? ` ${sizes.join(' ')}` : ''}${hint}`,
      );
    }
  }
  return lines;
}

/** i2c-bus (no types shipped), loaded on first use so a machine without the addon can still probe. */
async function openRealI2c(bus: number): Promise<ProbeI2cBus> {
  const require = createRequire(import.meta.url);
  const mod = require('i2c-bus') as { openPromisified(n: number): Promise<ProbeI2cBus> };
  return mod.openPromisified(bus);
}

/** Probes everything; one line per finding. */
export async function probeSensors(deps: ProbeDeps = {}): Promise<string[]> {
  const d: Required<ProbeDeps> = {
    run: deps.run ?? ((c, a) => runTool(c, a)),
    listSerial: deps.listSerial ?? (() => createSerialLink().list()),
    i2cBuses:
      deps.i2cBuses ??
      (() => {
        try {
          return readdirSync('/dev')
            .map((n) => /^i2c-(\d+)$/.exec(n)?.[1])
            .filter((n): n is string => n !== undefined)
            .map(Number)
            .sort((a, b) => a - b);
        } catch {
          return [];
        }
      }),
    openI2c: deps.openI2c ?? openRealI2c,
  };
  const sections = await Promise.all([probeI2c(d), probeSerial(d), probeAlsa(d), probeV4l2(d)]);
  return sections.flat();
}
