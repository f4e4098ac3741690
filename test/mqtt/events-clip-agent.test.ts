/**
 * events/clip end to end (issue #18): the real agent on the bundled recordings (test pack,
 * deterministic replay) and Mosquitto, Home Assistant discovery on. An event's clip is listed and
 * its WAV fetched over MQTT in chunks, byte-identical to the file on disk; the retained picture of
 * the last clip is that clip's thermal key frame.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import type { Agent } from '../../src/agent-types.js';
import { clipsDir, readClipFile, type ClipInfo } from '../../src/clips/store.js';
import { deviceStateDir, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import { EventsClipChunkSchema, EventsClipListSchema, type EventPayload } from '../../src/mqtt/payloads.js';
import { sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { until } from '../helpers/looping-agent.js';
import { brokerWithRequester, REPLY_PREFIX } from './fixtures/api-harness.js';

const mq = brokerWithRequester();
const DEVICE = 'clip-e2e';
const MAX = 32 * 1024;
const dir = tempDir('clip-e2e');

describe('events/clip on a running agent', () => {
  let agent: Agent;
  let clips: string;
  const events: EventPayload[] = [];
  const written: ClipInfo[] = [];
  const ask = (body: Record<string, unknown>) =>
    mq.requester.request(`edgebind/${DEVICE}/request/events/clip`, body, 15_000);

  before(async () => {
    const file = join(dir, 'agent.yaml');
    writeFileSync(
      file,
      toYaml(
        sampleConfig({
          stateDir: join(dir, 'state'),
          deviceId: DEVICE,
          mqtt: { broker: mq.broker.url, protocolVersion: 5, healthIntervalS: 0, maxClipMessageBytes: MAX },
          remote: { responseTopicPrefixes: [REPLY_PREFIX] },
          homeAssistant: { enabled: true },
          history: { enabled: false },
        }),
      ),
    );
    const cfg = await loadConfig(file);
    clips = clipsDir(deviceStateDir(cfg));
    agent = await startAgent({
      config: cfg,
      logger: createLogger({ level: 'silent', format: 'json' }),
      deterministic: true,
      onEvent: (e) => events.push(e),
      onClip: (info) => written.push(info),
    });
    await agent.done;
    await until('a clip written', () => written.length > 0);
    await until('connected', () => agent.stats().mqtt.connected);
  });
  after(async () => {
    await agent?.stop();
  });

  test("an event's clip is listed and its WAV fetched in chunks, byte-identical", async () => {
    const first = written[0]!;
    assert.ok(
      events.some((e) => e.id === first.eventId),
      'the clip is of a published event',
    );
    const list = await ask({ label: first.label, transaction: 'e2e' });
    assert.equal(list.status, 'ok', JSON.stringify(list));
    const listed = EventsClipListSchema.parse(list.data);
    const entry = listed.clips.find((c) => c.eventId === first.eventId);
    assert.ok(entry, `${first.eventId} listed`);
    const wav = entry.files.find((f) => f.name === 'mic.wav')!;
    assert.equal(wav.mediaType, 'audio/wav');

    const parts: Buffer[] = [];
    let offset: number | null = 0;
    let chunks = 0;
    while (offset !== null) {
      const r = await ask({ eventId: first.eventId, file: 'mic.wav', offset });
      assert.equal(r.status, 'ok', JSON.stringify(r).slice(0, 300));
      const c = EventsClipChunkSchema.parse(r.data);
      parts.push(Buffer.from(c.base64, 'base64'));
      offset = c.next;
      chunks++;
    }
    const onDisk = await readClipFile(clips, first.eventId, 'mic.wav');
    assert.ok(Buffer.concat(parts).equals(onDisk), 'fetched WAV equals the clip file');
    assert.equal(onDisk.length, wav.bytes);
    assert.ok(chunks >= 2 || onDisk.length <= MAX / 2, `${chunks} chunks of ${onDisk.length} bytes`);
  });

  test("the retained Home Assistant picture is the last clip's thermal key frame", async () => {
    const client = await mqtt.connectAsync(mq.broker.url);
    try {
      let picture: Buffer | undefined;
      client.on('message', (_t, p) => (picture = p));
      await client.subscribeAsync(`edgebind/${DEVICE}/clips/last/image`);
      await until('the retained picture', () => picture !== undefined && picture.length > 0);
      const candidates = await Promise.all(
        written.map((c) => readClipFile(clips, c.eventId, 'thermal.png').catch(() => undefined)),
      );
      assert.ok(
        candidates.some((png) => png?.equals(picture!)),
        'the picture is the thermal.png of a written clip',
      );
    } finally {
      await client.endAsync();
    }
  });
});
