/**
 * The clip store's readers (issue #18): listing newest first with filters, reading a file, and
 * the typed errors for absent clips, absent files and names that try to leave the clips directory.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClipError } from '../../src/errors.js';
import { clipsDir, getClip, listClips, readClipFile, type ClipManifest } from '../../src/clips/store.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { tempDir } from '../helpers/agent-config.js';

function payload(id: string, label: string, type: 'start' | 'end', startTime: string): EventPayload {
  return {
    seq: 1,
    id,
    type,
    label,
    score: 0.5,
    peakScore: 0.6,
    modalities: ['audio'],
    sensors: ['mic'],
    startTime,
    endTime: type === 'end' ? new Date(Date.parse(startTime) + 3000).toISOString() : null,
    endReason: type === 'end' ? 'belowThreshold' : null,
    timestamp: startTime,
    windows: 3,
    contributions: [],
    deviceId: 'dev',
    pack: { id: 'p', version: '1' },
  };
}

/** Writes a finished clip the way the writer lays it out: media files, then event.json. */
function clip(dir: string, id: string, label: string, startTime: string, ended = true): void {
  mkdirSync(join(dir, id), { recursive: true });
  writeFileSync(join(dir, id, 'mic.wav'), Buffer.alloc(100));
  const m: ClipManifest = {
    format: 1,
    eventId: id,
    label,
    clipFrom: startTime,
    clipTo: startTime,
    truncated: false,
    start: payload(id, label, 'start', startTime),
    end: ended ? payload(id, label, 'end', startTime) : null,
    files: [{ name: 'mic.wav', mediaType: 'audio/wav', sensorId: 'mic', modality: 'audio' }],
  };
  writeFileSync(join(dir, id, 'event.json'), JSON.stringify(m));
}

test('clipsDir is <deviceStateDir>/clips', () => {
  assert.equal(clipsDir('/var/lib/edgebind/devices/d1'), '/var/lib/edgebind/devices/d1/clips');
});

test('listClips: newest first, since/until/label/limit, unfinished clips skipped, missing dir empty', async () => {
  const dir = join(tempDir('clips-store'), 'clips');
  assert.deepEqual(await listClips(dir), []);
  clip(dir, 'a1', 'dog_bark', '2026-12-06T10:00:00.000Z');
  clip(dir, 'b2', 'glass_break', '2026-12-06T11:00:00.000Z', false);
  clip(dir, 'c3', 'dog_bark', '2026-12-06T12:00:00.000Z');
  mkdirSync(join(dir, 'd4')); // being written: no event.json yet
  writeFileSync(join(dir, 'stray.txt'), 'x');

  const all = await listClips(dir);
  assert.deepEqual(
    all.map((c) => c.eventId),
    ['c3', 'b2', 'a1'],
  );
  const b = all[1]!;
  assert.equal(b.label, 'glass_break');
  assert.equal(b.end, null);
  assert.equal(all[0]!.end, '2026-12-06T12:00:03.000Z');
  assert.equal(b.files[0]!.name, 'event.json');
  assert.deepEqual(b.files[1], {
    name: 'mic.wav',
    bytes: 100,
    mediaType: 'audio/wav',
    sensorId: 'mic',
    modality: 'audio',
  });
  assert.equal(b.bytes, 100 + b.files[0]!.bytes);
  assert.ok(b.files[0]!.bytes > 100);

  const t = (iso: string) => Date.parse(iso);
  assert.deepEqual(
    (await listClips(dir, { since: t('2026-12-06T10:30:00Z') })).map((c) => c.eventId),
    ['c3', 'b2'],
  );
  assert.deepEqual(
    (await listClips(dir, { until: t('2026-12-06T11:00:00Z') })).map((c) => c.eventId),
    ['b2', 'a1'],
  );
  assert.deepEqual(
    (await listClips(dir, { label: 'dog_bark' })).map((c) => c.eventId),
    ['c3', 'a1'],
  );
  assert.deepEqual(
    (await listClips(dir, { limit: 1 })).map((c) => c.eventId),
    ['c3'],
  );
});

test('readClipFile: bytes of a listed file; typed errors for absent clips, files and bad names', async () => {
  const dir = join(tempDir('clips-read'), 'clips');
  clip(dir, 'a1', 'dog_bark', '2026-12-06T10:00:00.000Z');
  writeFileSync(join(dir, 'a1', 'unlisted.bin'), 'x');
  writeFileSync(join(dir, 'secret'), 'no');

  assert.equal((await readClipFile(dir, 'a1', 'mic.wav')).length, 100);
  const manifest = JSON.parse((await readClipFile(dir, 'a1', 'event.json')).toString()) as ClipManifest;
  assert.equal(manifest.eventId, 'a1');
  assert.equal((await getClip(dir, 'a1')).files.length, 2);

  const rejects = async (p: Promise<unknown>, code: string, message: RegExp) =>
    assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof ClipError);
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    });
  await rejects(readClipFile(dir, 'zz', 'mic.wav'), 'CLIP_NOT_FOUND', /no clip for event zz/);
  await rejects(getClip(dir, 'zz'), 'CLIP_NOT_FOUND', /no clip for event zz/);
  await rejects(
    readClipFile(dir, 'a1', 'thermal.png'),
    'CLIP_FILE_NOT_FOUND',
    /clip a1 has no file thermal.png \(it has event.json, mic.wav\)/,
  );
  // On disk but not part of the clip: not served.
  await rejects(readClipFile(dir, 'a1', 'unlisted.bin'), 'CLIP_FILE_NOT_FOUND', /no file unlisted.bin/);
  await rejects(
    readClipFile(dir, '..', 'secret'),
    'CLIP_NAME_INVALID',
    /event id "\.\." is not a plain name/,
  );
  await rejects(readClipFile(dir, 'a1', '../secret'), 'CLIP_NAME_INVALID', /file name "\.\.\/secret"/);
  await rejects(readClipFile(dir, 'a1/../..', 'x'), 'CLIP_NAME_INVALID', /event id/);
  await rejects(readClipFile(dir, '', 'x'), 'CLIP_NAME_INVALID', /event id ""/);
  await rejects(readClipFile(dir, 'a1', '.hidden'), 'CLIP_NAME_INVALID', /file name/);
});
