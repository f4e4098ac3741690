/**
 * The real-sound data card (train/data/real-audio.json, issue 13) is complete and consistent, its
 * split is held out by package, and the mini pack's manifest lists exactly the card's training
 * files (so anyone can check a test set against it for overlap).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ManifestSchema } from '../../src/encoders/manifest.js';
import { isSimClass } from '../../src/sim/classes.js';
import { loadRealCard, realWindows, REAL_WINDOW_SAMPLES } from '../../src/sim/real-audio.js';

const CARD = fileURLToPath(new URL('../../train/data/real-audio.json', import.meta.url));
const MANIFEST = fileURLToPath(new URL('../../models/mini/manifest.json', import.meta.url));

test('every card entry names its package, version, path, licence, sha256, class and how it was decided', () => {
  const card = loadRealCard(CARD);
  assert.ok(card.files.length > 100);
  const seen = new Set<string>();
  for (const f of card.files) {
    assert.match(f.sha256, /^[0-9a-f]{64}$/, f.path);
    assert.ok(f.package && f.version && f.path && f.licence && f.decidedBy, f.path);
    assert.notEqual(f.licence, 'see copyright', f.path);
    assert.ok(isSimClass(f.class), f.class);
    assert.ok(f.durationS > 0, f.path);
    assert.equal(card.packages[f.package]?.version, f.version, f.path);
    assert.equal(card.packages[f.package]?.split, f.split, f.path);
    assert.ok(!seen.has(`${f.package}:${f.path}`), `duplicate ${f.path}`);
    seen.add(`${f.package}:${f.path}`);
  }
});

test('the split is held out by package and the evaluation split covers most classes with real data', () => {
  const card = loadRealCard(CARD);
  const trainPkgs = new Set(card.files.filter((f) => f.split === 'train').map((f) => f.package));
  const evalPkgs = new Set(card.files.filter((f) => f.split === 'eval').map((f) => f.package));
  for (const p of evalPkgs) assert.ok(!trainPkgs.has(p), `${p} in both splits`);
  assert.deepEqual([...evalPkgs].sort(), [...card.evalPackages].sort());
  const withData = new Set(card.files.map((f) => f.class));
  const inEval = new Set(card.files.filter((f) => f.split === 'eval').map((f) => f.class));
  assert.ok(inEval.size >= withData.size - 1, `eval covers ${inEval.size} of ${withData.size} classes`);
});

test("the mini pack's trainingData is the card's training split, sha256 for sha256", () => {
  const card = loadRealCard(CARD);
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(MANIFEST, 'utf8')));
  const listed = (manifest.trainingData ?? []).flatMap((t) => t.files);
  const expected = card.files.filter((f) => f.split === 'train');
  assert.equal(listed.length, expected.length);
  const bySha = new Map(listed.map((f) => [`${f.package}:${f.path}`, f.sha256]));
  for (const f of expected) assert.equal(bySha.get(`${f.package}:${f.path}`), f.sha256, f.path);
  const evalSha = new Set(card.files.filter((f) => f.split === 'eval').map((f) => f.sha256));
  for (const f of listed)
    assert.ok(!evalSha.has(f.sha256), `${f.path}: an evaluation file is in trainingData`);
  // The provenance states the real-sound count once, and it is this count (re-exports replace it).
  const said = [...manifest.provenance.matchAll(/also trained on (\d+) real recorded sounds/g)];
  assert.deepEqual(
    said.map((m) => Number(m[1])),
    [expected.length],
  );
});

test('realWindows: a short clip is one padded window, a long one is cut in 2 s windows', () => {
  const short = realWindows(new Float32Array(8000).fill(0.5), 8);
  assert.equal(short.length, 1);
  assert.equal(short[0]!.length, REAL_WINDOW_SAMPLES);
  assert.ok(Math.abs(short[0]![REAL_WINDOW_SAMPLES / 2]! - 0.5) < 0.01);
  assert.ok(Math.abs(short[0]![10]!) < 0.01);
  const long = realWindows(new Float32Array(16000 * 5), 8);
  assert.equal(long.length, 4);
  assert.ok(long.every((w) => w.length === REAL_WINDOW_SAMPLES));
  assert.equal(realWindows(new Float32Array(16000 * 60), 8).length, 8);
});
