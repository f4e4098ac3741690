/**
 * `edgebind run` as a person at a terminal sees it (issue 17 item 5): the same event lines as
 * `demo` on stdout, pretty log lines that name the component once; piped, JSON logs and a quiet
 * stdout. The terminal is a real pseudo-terminal (util-linux `script`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { REPO, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';

const dir = tempDir('run-tty');
const CLI = join(REPO, 'src/cli/index.ts');
const TSX = import.meta.resolve('tsx');
after(() => rmSync(dir, { recursive: true, force: true }));

/** The bundled audio replayed at full speed through the mini pack: a few events, then exit 0. */
async function config(name: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    toYaml({
      deviceId: name,
      stateDir: join(dir, name),
      mqtt: { broker: 'embedded', embeddedPort: await freePort() },
      encoders: { pack: join(REPO, 'models/mini') },
      sensors: [
        {
          id: 'mic',
          driver: 'replay',
          modality: 'audio',
          file: join(SAMPLES, 'room-audio.wav'),
          speed: 0,
          loop: false,
          window: { lengthMs: 2000, hopMs: 1000 },
        },
      ],
      labels: [
        { name: 'alarm_beeping', prompts: ['an alarm beeping'], modalities: ['audio'] },
        { name: 'dog_barking', prompts: ['a dog barking'], modalities: ['audio'] },
      ],
      scoring: { temperature: 50, threshold: 0.5, backgroundPrompts: ['an empty room', 'nothing happening'] },
      events: { minWindows: 2, endWindows: 3 },
    }),
  );
  return file;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, EDGEBIND_DEBUG: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const edgebind = (args: string[]) => [process.execPath, '--import', TSX, CLI, ...args];
const shellQuote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
/** Runs the command on a pseudo-terminal: stdout and stderr both arrive on `script`'s stdout. */
const onTerminal = (argv: string[]) => run('script', ['-qfec', argv.map(shellQuote).join(' '), '/dev/null']);

const EVENT_LINE =
  /^\d\d:\d\d:\d\d (START |UPDATE|END {3}) (alarm_beeping|dog_barking) +(score|peak) \d\.\d\d/m;

test('run on a terminal: event lines as in demo, pretty logs naming each component once', async () => {
  const r = await onTerminal(edgebind(['run', '--config', await config('tty')]));
  assert.equal(r.code, 0, r.stdout);
  const lines = r.stdout.replace(/\r/g, '').split('\n');
  const events = lines.filter((l) => EVENT_LINE.test(l));
  assert.ok(
    events.some((l) => / START {2}/.test(l)),
    r.stdout,
  );
  assert.ok(
    events.some((l) => / END {4}.* peak \d\.\d\d, lasted \d+\.\d s, /.test(l)),
    r.stdout,
  );
  assert.ok(
    lines.some((l) => /^\d\d:\d\d:\d\d INFO {2}mqtt: connected to /.test(l)),
    r.stdout,
  );
  assert.ok(
    lines.some((l) => /^\d\d:\d\d:\d\d INFO {2}labels: 2 active/.test(l)),
    r.stdout,
  );
  assert.doesNotMatch(r.stdout, /(\w+): \1: /, 'no component said twice');
  assert.doesNotMatch(r.stdout, /^\{"level"/m, 'no JSON lines on a terminal');
});

test('run piped: JSON logs on stderr, nothing on stdout; --log-format pretty and log.format override', async () => {
  const file = await config('piped');
  const piped = await run(process.execPath, edgebind(['run', '--config', file]).slice(1));
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stdout, '', 'events go to MQTT, not to a pipe');
  const json = piped.stderr.trim().split('\n');
  assert.ok(json.length > 3);
  for (const l of json) assert.doesNotThrow(() => JSON.parse(l), l);

  const pretty = await run(
    process.execPath,
    edgebind(['run', '--config', file, '--log-format', 'pretty']).slice(1),
  );
  assert.equal(pretty.code, 0, pretty.stderr);
  assert.match(pretty.stderr, /^\d\d:\d\d:\d\d INFO {2}mqtt: connected to /m);
  assert.doesNotMatch(pretty.stderr, /^\{/m);

  const onTty = await onTerminal(edgebind(['run', '--config', file, '--log-format', 'json']));
  assert.equal(onTty.code, 0, onTty.stdout);
  assert.match(onTty.stdout, /^\{"level":30,.*"component":"mqtt"/m, '--log-format json on a terminal');
  assert.match(onTty.stdout, EVENT_LINE, 'event lines still on a terminal');
});

test('--log-format with an unknown value: exit 2 naming the allowed values', async () => {
  const r = await run(
    process.execPath,
    edgebind(['run', '--config', 'x.yaml', '--log-format', 'xml']).slice(1),
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--log-format.*'xml' is invalid\. Allowed choices are pretty, json/);
});

test('log.format in the config file: json even on a terminal; a bad value is a config error with its path', async () => {
  const file = await config('cfg-json');
  writeFileSync(file, `${readFileSync(file, 'utf8')}log: { format: json }\n`);
  const r = await onTerminal(edgebind(['run', '--config', file]));
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /^\{"level":30,/m);

  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'log: { format: xml }\nsensors: []\nlabels: []\n');
  const b = await run(process.execPath, edgebind(['config', 'check', bad]).slice(1));
  assert.equal(b.code, 2);
  assert.match(b.stderr, /log\.format/);
});
