/**
 * events/clip over MQTT (issue #18) against a real Mosquitto: clips written in the store's layout
 * (clips/store.ts) in a temporary stateDir, the request API of the harness with the clip service:
 *  - a list (newest first, limit and more), one clip by eventId;
 *  - a WAV fetched in chunks (offset/next) and reassembled byte-identical, every answer within
 *    mqtt.maxClipMessageBytes, the SHA-256 matching;
 *  - every error code: CLIPS_DISABLED, CLIP_NOT_FOUND, CLIP_FILE_NOT_FOUND, CLIP_NAME_INVALID,
 *    CLIP_OFFSET_INVALID, REQUEST_INVALID;
 *  - the Home Assistant image entity's config and the retained picture (bytes equal the file).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import pino from 'pino';
import { HomeAssistantSchema } from '../../src/config/schema.js';
import { clipsDir, getClip, MANIFEST_NAME, type ClipManifest } from '../../src/clips/store.js';
import { clipPicture, ClipRequestService } from '../../src/mqtt/clips.js';
import {
  EventsClipChunkSchema,
  EventsClipListSchema,
  type ResponsePayload,
} from '../../src/mqtt/payloads.js';
import { tempDir } from '../helpers/agent-config.js';
import { brokerWithRequester, startHarness, type Harness } from './fixtures/api-harness.js';

const mq = brokerWithRequester();
const MAX = 16 * 1024;
const state = tempDir('clip-mqtt');
const dir = clipsDir(state);
const logger = pino({ level: 'silent' });

/** A clip in the store's layout: media files first, event.json last. */
function writeClip(eventId: string, label: string, startMs: number, files: Record<string, Buffer>) {
  mkdirSync(join(dir, eventId), { recursive: true });
  const media: ClipManifest['files'] = [];
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(join(dir, eventId, name), bytes);
    const png = name.endsWith('.png');
    media.push({
      name,
      mediaType: png ? 'image/png' : 'audio/wav',
      sensorId: png ? 'thermal' : 'mic',
      modality: png ? 'thermal' : 'audio',
    });
  }
  const msg = (type: string) => ({
    id: eventId,
    label,
    type,
    startTime: new Date(startMs).toISOString(),
    endTime: type === 'end' ? new Date(startMs + 2000).toISOString() : null,
  });
  const manifest: ClipManifest = {
    format: 1,
    eventId,
    label,
    clipFrom: new Date(startMs - 5000).toISOString(),
    clipTo: new Date(startMs + 7000).toISOString(),
    truncated: false,
    start: msg('start'),
    end: msg('end'),
    files: media,
  };
  writeFileSync(join(dir, eventId, MANIFEST_NAME), JSON.stringify(manifest));
}

const wav = randomBytes(50_000); // several chunks at MAX
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(600)]);
const now = Date.now();
writeClip('0190a0a0-0000-7000-8000-000000000001', 'glass_breaking', now - 3_600_000, { 'mic.wav': wav });
writeClip('0190a0a0-0000-7000-8000-000000000002', 'person_falling', now - 60_000, {
  'mic.wav': wav.subarray(0, 1000),
  'thermal-sheet.png': Buffer.concat([png, png]),
  'thermal.png': png,
});
const [OLD, NEW] = ['0190a0a0-0000-7000-8000-000000000001', '0190a0a0-0000-7000-8000-000000000002'];

describe('events/clip', () => {
  let h: Harness;
  const ask = (body: Record<string, unknown>, device = 'clip-dev') =>
    mq.requester.request(`edgebind/${device}/request/events/clip`, body);

  before(async () => {
    h = await startHarness({
      url: mq.broker.url,
      deviceId: 'clip-dev',
      stateDir: join(state, 'harness'),
      homeAssistant: HomeAssistantSchema.parse({ enabled: true }),
      clips: new ClipRequestService({ dir, maxMessageBytes: MAX, logger }),
    });
  });
  after(async () => {
    await h?.stop();
  });

  test('lists clips newest first; limit says more; one clip by eventId', async () => {
    const r = await ask({ transaction: 'l1' });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(r.transaction, 'l1');
    const list = EventsClipListSchema.parse(r.data);
    assert.deepEqual(
      list.clips.map((c) => c.eventId),
      [NEW, OLD],
    );
    assert.equal(list.more, false);
    assert.deepEqual(
      list.clips[0]!.files.map((f) => f.name),
      ['event.json', 'mic.wav', 'thermal-sheet.png', 'thermal.png'],
    );
    const one = EventsClipListSchema.parse((await ask({ limit: 1 })).data);
    assert.deepEqual([one.clips.length, one.more], [1, true]);
    const label = EventsClipListSchema.parse((await ask({ label: 'glass_breaking', since: '2h' })).data);
    assert.deepEqual(
      label.clips.map((c) => c.eventId),
      [OLD],
    );
    const byId = EventsClipListSchema.parse((await ask({ eventId: OLD })).data);
    assert.equal(byId.clips[0]!.files[1]!.bytes, wav.length);
  });

  test('a WAV comes in chunks that reassemble byte-identical, each answer within the limit', async () => {
    const sizes: number[] = [];
    mq.requester.client.on('message', (_t, payload) => sizes.push(payload.length));
    const parts: Buffer[] = [];
    let offset: number | null = 0;
    let sha = '';
    let n = 0;
    while (offset !== null) {
      // The longest transaction, escaped to 6 bytes a character: the room must still hold.
      const r: ResponsePayload = await ask({
        eventId: OLD,
        file: 'mic.wav',
        offset,
        transaction: '\u0001'.repeat(256),
      });
      assert.equal(r.status, 'ok', JSON.stringify(r).slice(0, 300));
      const c = EventsClipChunkSchema.parse(r.data);
      assert.equal(c.offset, offset);
      assert.equal(c.total, wav.length);
      parts.push(Buffer.from(c.base64, 'base64'));
      sha = c.sha256;
      offset = c.next;
      n++;
    }
    const whole = Buffer.concat(parts);
    assert.ok(whole.equals(wav), 'reassembled file equals the clip file');
    assert.equal(sha, createHash('sha256').update(wav).digest('hex'));
    assert.ok(n >= 4, `${n} chunks`);
    assert.ok(
      sizes.length >= n && Math.max(...sizes) <= MAX,
      `answers ${Math.max(...sizes)} bytes, limit ${MAX}`,
    );
    // length asks for less.
    const small = EventsClipChunkSchema.parse(
      (await ask({ eventId: OLD, file: 'mic.wav', offset: 10, length: 7 })).data,
    );
    assert.ok(Buffer.from(small.base64, 'base64').equals(wav.subarray(10, 17)));
    assert.equal(small.next, 17);
    const manifest = EventsClipChunkSchema.parse((await ask({ eventId: OLD, file: 'event.json' })).data);
    assert.equal(
      (JSON.parse(Buffer.from(manifest.base64, 'base64').toString()) as ClipManifest).eventId,
      OLD,
    );
  });

  test('every error has its code and the field it is about', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ eventId: '0190a0a0-0000-7000-8000-00000000dead' }, 'CLIP_NOT_FOUND', '$.eventId'],
      [{ eventId: OLD, file: 'nope.wav' }, 'CLIP_FILE_NOT_FOUND', '$.file'],
      [{ eventId: '../etc', file: 'passwd' }, 'CLIP_NAME_INVALID', '$.eventId'],
      [{ eventId: OLD, file: '../../x' }, 'CLIP_NAME_INVALID', '$.file'],
      [{ eventId: OLD, file: 'mic.wav', offset: wav.length + 1 }, 'CLIP_OFFSET_INVALID', '$.offset'],
      [{ file: 'mic.wav' }, 'REQUEST_INVALID', '$.eventId'],
      [{ eventId: OLD, limit: 3 }, 'REQUEST_INVALID', '$.limit'],
      [{ offset: 3 }, 'REQUEST_INVALID', '$.offset'],
      [{ since: 'yesterday-ish' }, 'REQUEST_INVALID', '$.since'],
    ];
    for (const [body, code, path] of cases) {
      const r = await ask(body);
      assert.equal(r.status, 'error', JSON.stringify(body));
      assert.equal(r.code, code, `${JSON.stringify(body)}: ${JSON.stringify(r)}`);
      assert.ok(
        r.problems!.some((p) => p.path === path),
        `${JSON.stringify(body)}: ${JSON.stringify(r.problems)}`,
      );
    }
  });

  test('a device without clips answers CLIPS_DISABLED', async () => {
    const off = await startHarness({
      url: mq.broker.url,
      deviceId: 'clip-off',
      stateDir: join(state, 'off'),
    });
    try {
      const r = await ask({}, 'clip-off');
      assert.equal(r.code, 'CLIPS_DISABLED');
      assert.equal(r.problems![0]!.path, '$');
      const svc = new ClipRequestService({ dir: undefined, maxMessageBytes: MAX, logger });
      await assert.rejects(svc.clip({}), { code: 'CLIPS_DISABLED' });
    } finally {
      await off.stop();
    }
  });

  test('Home Assistant: the image entity, and the retained picture equals the PNG', async () => {
    const info = await getClip(dir, NEW);
    const picked = clipPicture(info, MAX)!;
    assert.equal(picked.name, 'thermal.png', 'the key frame before the contact sheet');
    assert.equal(clipPicture(info, 100), undefined, 'over the cap: none');
    h.api.clipPicture(readFileSync(join(dir, NEW, picked.name)));
    const client = await mqtt.connectAsync(mq.broker.url);
    try {
      const got = new Map<string, Buffer>();
      client.on('message', (t, p) => got.set(t, p));
      await client.subscribeAsync(['homeassistant/image/#', 'edgebind/clip-dev/clips/last/image']);
      const deadline = Date.now() + 5000;
      while (got.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const config = JSON.parse(
        got.get('homeassistant/image/edgebind_clip-dev/_clip_image/config')!.toString(),
      ) as Record<string, unknown>;
      assert.equal(config.image_topic, 'edgebind/clip-dev/clips/last/image');
      assert.equal(config.content_type, 'image/png');
      assert.equal(config.availability_topic, 'edgebind/clip-dev/status');
      assert.ok(got.get('edgebind/clip-dev/clips/last/image')!.equals(png), 'retained picture = file');
    } finally {
      await client.endAsync();
    }
  });
});
