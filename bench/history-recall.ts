/**
 * `node --import tsx bench/history-recall.ts --data DIR [--pack models/mini] [--top 10]`: does a
 * text search of the embedding history find the true moments first (issue #18)?
 *
 * DIR holds simulated scenes (`edgebind simulate --scenario all --seed S --seconds N --out DIR`).
 * Each scene is replayed once through the real agent (deterministic, all four sensors, history on)
 * as its own device (replays at speed 0 stamp windows from the process's time origin, so scenes
 * would overlap in one history); every class's canonical prompt (sim/prompts.ts) is searched in
 * every scene's history and the moments of all scenes are ranked together by score. A moment is a hit when it overlaps (±1 s) a truth event of that class.
 * Prints one JSON line per class (precision at K, the rank of the first hit) and a summary line.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { deviceStateDir, loadConfig } from '../src/config/load.js';
import { openEncoders } from '../src/encoders/registry.js';
import { scanHistory } from '../src/history/reader.js';
import { searchHistory, type Moment } from '../src/history/search.js';
import { createLogger } from '../src/log.js';
import { startAgent } from '../src/main.js';
import { CANONICAL } from '../src/sim/prompts.js';
import type { SimClass } from '../src/sim/classes.js';
import { freePort } from '../test/helpers/free-port.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    pack: { type: 'string', default: 'models/mini' },
    top: { type: 'string', default: '10' },
  },
});
if (!values.data) throw new Error('--data DIR (simulated scenes) is required');
const data = resolve(values.data);
const pack = resolve(values.pack);
const TOP = Number(values.top);
const work = mkdtempSync(join(tmpdir(), 'edgebind-history-recall-'));
const logger = createLogger({ level: 'silent', format: 'json' });

interface Truth {
  events: { label: string; startS: number; endS: number }[];
}
interface Scene {
  name: string;
  truth: Truth;
  historyDir: string;
  /** Wall time of the recording's start: its first window's start. */
  startMs: number;
}

const scenes: Scene[] = [];
for (const name of readdirSync(data).sort()) {
  const dir = join(data, name);
  let truth: Truth;
  try {
    truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as Truth;
  } catch {
    continue;
  }
  const file = join(work, `${name}.yaml`);
  const replay = { driver: 'replay' as const, speed: 0, loop: false, queueSize: 64 };
  writeFileSync(
    file,
    stringify({
      deviceId: `recall-${name}`,
      stateDir: join(work, 'state'),
      encoders: { pack },
      mqtt: { broker: 'embedded', embeddedPort: await freePort(), healthIntervalS: 0 },
      sensors: [
        { id: 'mic', modality: 'audio', file: join(dir, 'audio.wav'), ...replay },
        { id: 'thermal', modality: 'thermal', file: join(dir, 'thermal.ebf'), ...replay },
        { id: 'depth', modality: 'depth', file: join(dir, 'depth.ebf'), ...replay },
        { id: 'imu', modality: 'imu', file: join(dir, 'imu.ebf'), ...replay },
      ],
      labels: [],
      log: { level: 'silent' },
    }),
  );
  const config = await loadConfig(file);
  const agent = await startAgent({ config, logger, deterministic: true });
  await agent.done;
  await agent.stop();
  const historyDir = join(deviceStateDir(config), 'history');
  const all = scanHistory(historyDir, { vector: new Float32Array(128).fill(0.01), keep: 1_000_000 }).hits;
  scenes.push({ name, truth, historyDir, startMs: Math.min(...all.map((h) => h.startWallMs)) });
}

const encoders = await openEncoders({
  config: {
    encoders: { pack, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1, maxBatch: 8 },
    stateDir: work,
  },
  modalities: [],
  logger,
});
const summary: Record<string, number> = {};
for (const [cls, prompt] of Object.entries(CANONICAL) as [SimClass, string][]) {
  const truthCount = scenes.reduce((n, s) => n + s.truth.events.filter((e) => e.label === cls).length, 0);
  if (truthCount === 0) continue;
  const ranked: { scene: Scene; moment: Moment; hit: boolean }[] = [];
  let ms = 0;
  for (const scene of scenes) {
    const { moments, stats } = await searchHistory({
      dir: scene.historyDir,
      query: { text: prompt },
      encoders,
      top: TOP,
    });
    ms += stats.ms;
    for (const moment of moments) {
      const fromS = (moment.startWallMs - scene.startMs) / 1000;
      const toS = (moment.endWallMs - scene.startMs) / 1000;
      const hit = scene.truth.events.some((e) => e.label === cls && fromS < e.endS + 1 && toS > e.startS - 1);
      ranked.push({ scene, moment, hit });
    }
  }
  ranked.sort((a, b) => b.moment.score - a.moment.score);
  const top = ranked.slice(0, TOP);
  const precision = top.filter((r) => r.hit).length / Math.max(1, top.length);
  summary[cls] = +precision.toFixed(2);
  console.log(
    JSON.stringify({
      class: cls,
      prompt,
      truthMoments: truthCount,
      precisionAtK: summary[cls],
      firstHitRank: top.findIndex((r) => r.hit) + 1 || null,
      top3: top.slice(0, 3).map((r) => ({
        scene: r.scene.name,
        fromS: +((r.moment.startWallMs - r.scene.startMs) / 1000).toFixed(1),
        toS: +((r.moment.endWallMs - r.scene.startMs) / 1000).toFixed(1),
        score: +r.moment.score.toFixed(3),
        z: r.moment.z === null ? null : +r.moment.z.toFixed(2),
        modalities: r.moment.modalities,
        hit: r.hit,
      })),
      searchMsAllScenes: ms,
    }),
  );
}
await encoders.close();
const vals = Object.values(summary);
console.log(
  JSON.stringify({
    scenes: scenes.length,
    k: TOP,
    meanPrecisionAtK: +(vals.reduce((a, b) => a + b, 0) / vals.length).toFixed(3),
    perClass: summary,
  }),
);
