/**
 * The agent keeps a clip of every event (issue #18): the real agent on the bundled recordings
 * (test pack, deterministic replay) writes, for each event, the sensors' raw data around it —
 * WAV, PNG heat maps, IMU CSV and event.json — and each event message names its clip. With the
 * clips on a full disk, detection publishes exactly the same events while clips say degraded.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode } from 'fast-png';
import { nodeClipFiles, type ClipFiles } from '../../src/clips/recorder.js';
import { clipsDir, listClips, readClipFile, type ClipInfo } from '../../src/clips/store.js';
import { deviceStateDir, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { enospc } from '../helpers/faulty-files.js';
import { freePort } from '../helpers/free-port.js';

const dir = tempDir('agent-clips');
const logger = createLogger({ level: 'silent', format: 'json' });

async function run(name: string, clipFiles?: ClipFiles) {
  const file = join(dir, `${name}.yaml`);
  const port = await freePort();
  writeFileSync(
    file,
    toYaml(
      sampleConfig({
        stateDir: join(dir, 'state'),
        deviceId: name,
        mqtt: { broker: 'embedded', embeddedPort: port, healthIntervalS: 0 },
        history: { enabled: false },
      }),
    ),
  );
  const cfg = await loadConfig(file);
  const events: EventPayload[] = [];
  const written: ClipInfo[] = [];
  const agent = await startAgent({
    config: cfg,
    logger,
    deterministic: true,
    onEvent: (e) => events.push(e),
    onClip: (info) => written.push(info),
    ...(clipFiles ? { clipFiles } : {}),
  });
  await agent.done;
  // Stopping writes the clips still waiting for their post-roll.
  await agent.stop();
  return { events, written, stats: agent.stats(), dir: clipsDir(deviceStateDir(cfg)) };
}

const strip = (events: EventPayload[]) =>
  events.map((e) => ({ type: e.type, label: e.label, score: e.score }));

test('every event gets a clip with every sensor; its messages name it', async () => {
  const { events, written, stats, dir: clips } = await run('clips-ok');
  const ids = [...new Set(events.map((e) => e.id))];
  assert.ok(ids.length >= 2, `${ids.length} events`);
  for (const e of events) assert.equal(e.clip, e.id, `${e.type} message of ${e.label} names its clip`);
  const onDisk = await listClips(clips);
  assert.deepEqual(onDisk.map((c) => c.eventId).sort(), [...ids].sort());
  assert.deepEqual(written.map((c) => c.eventId).sort(), [...ids].sort());
  assert.equal(stats.clips?.state, 'ok');
  assert.equal(stats.clips?.written, ids.length);
  for (const c of onDisk) {
    const kinds = Object.fromEntries(c.files.map((f) => [f.name, f.mediaType]));
    assert.equal(kinds['event.json'], 'application/json');
    assert.equal(kinds['mic.wav'], 'audio/wav');
    assert.equal(kinds['imu.csv'], 'text/csv');
    assert.equal(kinds['thermal.png'], 'image/png');
    assert.equal(kinds['depth.png'], 'image/png');
    const ended = events.find((e) => e.id === c.eventId && e.type === 'end')!;
    assert.equal(c.label, ended.label);
    assert.equal(c.end, ended.endTime);
    // A real 16-bit mono WAV of the replay's 16 kHz microphone, at least the event's length.
    const wav = await readClipFile(clips, c.eventId, 'mic.wav');
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.readUInt32LE(24), 16_000);
    const seconds = wav.readUInt32LE(40) / 2 / 16_000;
    const lasted = (Date.parse(ended.endTime!) - Date.parse(ended.startTime)) / 1000;
    assert.ok(seconds >= Math.min(lasted, 60), `${seconds} s of audio for a ${lasted} s event`);
    const png = decode(await readClipFile(clips, c.eventId, 'thermal.png'));
    assert.ok(png.width > 0 && png.height > 0);
    const csv = (await readClipFile(clips, c.eventId, 'imu.csv')).toString().split('\n');
    assert.equal(csv[0], 't,ax,ay,az,gx,gy,gz');
    assert.ok(csv.length > 10);
  }
});

test('clips on a full disk: the same events are published, clips are degraded and counted', async () => {
  const ok = await run('clips-ref');
  const full: ClipFiles = {
    ...nodeClipFiles,
    writeFile: () => Promise.reject(enospc('write')),
  };
  const r = await run('clips-full', full);
  assert.deepEqual(strip(r.events), strip(ok.events));
  assert.ok(r.events.length > 0);
  const c = r.stats.clips!;
  assert.equal(c.state, 'degraded');
  assert.equal(c.code, 'CLIP_DISK_FULL');
  assert.match(c.reason!, /ENOSPC/);
  assert.equal(c.written, 0);
  assert.equal(c.failed, ok.stats.clips!.written);
  assert.deepEqual(await listClips(r.dir), []);
});
