/**
 * The history search's recall on simulated scenes (sim/history-recall.ts, issue #18): its ranking
 * figures on constructed lists, and the whole evaluation on a few short scenes with models/mini.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { simulate } from '../../src/cli/commands/simulate.js';
import { SENSOR_MODALITIES } from '../../src/pipeline/types.js';
import type { SimClass } from '../../src/sim/classes.js';
import { RECALL_K, evaluateHistoryRecall, overlaps, rankFigures } from '../../src/sim/history-recall.js';
import { Recording } from '../../src/sim/recording.js';

const PACK = fileURLToPath(new URL('../../models/mini', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'edgebind-history-recall-test-'));
after(() => rm(dir, { recursive: true, force: true }));

const span = (startWallMs: number, endWallMs: number) => ({ startWallMs, endWallMs });

test('overlaps: open intervals widened by the tolerance on both sides', () => {
  const e = span(10_000, 20_000);
  assert.ok(overlaps(span(12_000, 13_000), e, 0), 'inside');
  assert.ok(overlaps(span(5_000, 25_000), e, 0), 'around');
  assert.ok(overlaps(span(19_000, 21_000), e, 0), 'across the end');
  // Touching ends do not overlap: the bounds are strict.
  assert.equal(overlaps(span(5_000, 10_000), e, 0), false);
  assert.equal(overlaps(span(20_000, 25_000), e, 0), false);
  // A gap of g ms before or after is bridged by a tolerance above g, not by g itself.
  const g = 700;
  const before = span(5_000, e.startWallMs - g);
  const afterE = span(e.endWallMs + g, 25_000);
  for (const m of [before, afterE]) {
    assert.equal(overlaps(m, e, g), false, `gap ${g} ms, tolerance ${g}`);
    assert.ok(overlaps(m, e, g + 1), `gap ${g} ms, tolerance ${g + 1}`);
  }
});

test('rankFigures: precision at K, distinct incidents found, first true rank', () => {
  const tol = 1_000;
  const truth = [span(10_000, 20_000), span(50_000, 60_000), span(90_000, 95_000)];
  // Each moment with the incidents it overlaps by construction (within tol or not).
  const ranked: { m: { startWallMs: number; endWallMs: number }; hits: number[] }[] = [
    { m: span(30_000, 32_000), hits: [] },
    { m: span(12_000, 14_000), hits: [0] },
    { m: span(20_500, 22_000), hits: [0] }, // 500 ms after the end: within tol
    { m: span(40_000, 48_500), hits: [] }, // 1.5 s before incident 1: beyond tol
    { m: span(55_000, 56_000), hits: [1] },
    { m: span(70_000, 71_000), hits: [] },
  ];
  for (const { m, hits } of ranked)
    truth.forEach((e, j) => assert.equal(overlaps(m, e, tol), hits.includes(j), `${m.startWallMs} vs ${j}`));
  const moments = ranked.map((r) => r.m);
  const expect = (k: number) => {
    const top = ranked.slice(0, k);
    const firstHit = top.findIndex((r) => r.hits.length > 0);
    return {
      // Fewer than K moments: the missing ones count as misses.
      precisionAtK: top.filter((r) => r.hits.length > 0).length / k,
      incidentsFound: new Set(top.flatMap((r) => r.hits)).size,
      firstTrueRank: firstHit < 0 ? null : firstHit + 1,
    };
  };
  for (const k of [1, 2, 3, 5, 10])
    assert.deepEqual(rankFigures(moments, truth, k, tol), expect(k), `k=${k}`);
  // Spelled out for K = 10: 3 true moments of 6 (over 10), incidents 0 and 1 found, rank 2.
  assert.deepEqual(rankFigures(moments, truth, 10, tol), {
    precisionAtK: 0.3,
    incidentsFound: 2,
    firstTrueRank: 2,
  });
  // Nothing true, or nothing at all.
  assert.deepEqual(rankFigures([ranked[0]!.m, ranked[5]!.m], truth, 10, tol), {
    precisionAtK: 0,
    incidentsFound: 0,
    firstTrueRank: null,
  });
  assert.deepEqual(rankFigures([], truth, 10, tol), {
    precisionAtK: 0,
    incidentsFound: 0,
    firstTrueRank: null,
  });
  // One moment over two incidents: one true moment, two incidents found.
  assert.deepEqual(rankFigures([span(15_000, 55_000)], truth, 4, tol), {
    precisionAtK: 0.25,
    incidentsFound: 2,
    firstTrueRank: 1,
  });
  // The tolerance decides: 1.5 s before incident 1 is true with 2 s of slack.
  assert.equal(rankFigures([ranked[3]!.m], truth, 1, 2_000).firstTrueRank, 1);
});

/**
 * Five 24 s scenes (seed 1): the demo (walking, falling, alarm, dog), a random one (door slam,
 * device tampering), fire, glass breaking and machine vibration, nine classes in all.
 */
const SCENES = ['demo', 'random', 'fire', 'glass_breaking', 'machine_vibration'] as const;
/**
 * Classes whose first moment was a true one on every set tried (5 to 14 scenes of 20-30 s, 13
 * seeds). A dog barking and a person walking also come first here, but the dog was second once.
 */
const FIRST_IS_TRUE: readonly SimClass[] = [
  'person_falling',
  'fire',
  'glass_breaking',
  'alarm_beeping',
  'door_slam',
  'machine_vibration',
  'device_tampering',
];

test('models/mini on five simulated scenes: text and audio → thermal search find the true moments', async () => {
  const recordings: Recording[] = [];
  for (const s of SCENES) {
    await simulate({ scenario: s, seed: 1, seconds: 24, out: join(dir, s) });
    recordings.push(await Recording.open(join(dir, s)));
  }
  const incidents = recordings.flatMap((r) => r.truth.events);
  const classes = [...new Set(incidents.map((e) => e.label))];
  for (const c of FIRST_IS_TRUE) assert.ok(classes.includes(c), `the scenes hold ${c}`);

  const r = await evaluateHistoryRecall({ recordings, pack: PACK });
  assert.equal(r.k, RECALL_K);
  assert.equal(r.scenes, SCENES.length);
  for (const m of SENSOR_MODALITIES) assert.ok((r.windows[m] ?? 0) > 0, `${m} windows in the history`);

  assert.deepEqual(Object.keys(r.text).sort(), [...classes].sort());
  for (const c of classes) {
    const t = r.text[c]!;
    assert.equal(t.incidents, incidents.filter((e) => e.label === c).length, `${c} incidents`);
    assert.ok(t.precisionAtK >= 0 && t.precisionAtK <= 1, `${c} p@K ${t.precisionAtK}`);
    // Every incident of every class is among the first K moments (held on every set tried).
    assert.equal(t.incidentsFound, t.incidents, `${c}: ${JSON.stringify(t)}`);
    assert.ok(t.firstTrueRank !== null && t.firstTrueRank <= r.k, `${c}: ${JSON.stringify(t)}`);
  }
  for (const c of FIRST_IS_TRUE)
    assert.equal(r.text[c]!.firstTrueRank, 1, `${c}: ${JSON.stringify(r.text[c])}`);

  // Audio → thermal: one query per incident both observe (each lasts seconds: it has audio windows).
  const cm = r.crossModal;
  const both = incidents.filter((e) => e.observedBy.includes('audio') && e.observedBy.includes('thermal'));
  assert.ok(both.length >= 3);
  assert.equal(cm.queries, both.length);
  assert.deepEqual(Object.keys(cm.perClass).sort(), [...new Set(both.map((e) => e.label))].sort());
  assert.equal(
    Object.values(cm.perClass).reduce((n, p) => n + p.queries, 0),
    cm.queries,
  );
  for (const x of [cm.sameIncidentAt1, cm.sameIncidentAtK, cm.classPrecisionAtK])
    assert.ok(x >= 0 && x <= 1, JSON.stringify(cm));
  assert.ok(cm.sameIncidentAt1 <= cm.sameIncidentAtK, JSON.stringify(cm));
  // Here every query finds its incident in the first K and 3 of 5 first; other seeds of these
  // scenes gave 2-4 of 5 first, 14 scenes 0.8-1 in the first K.
  assert.ok(cm.sameIncidentAtK >= 0.8, JSON.stringify(cm));
  assert.ok(cm.sameIncidentAt1 >= 0.4, JSON.stringify(cm));
});
