// Replays a config's recordings once through the real agent (eval/harness.ts runEval: manual
// clock, deterministic order, embedded broker) and prints every event message it published as
// one JSON line (issue #21). scripts/arm64/arm64.test.ts runs it on x86-64 and on arm64 Node
// from the same install and compares the two:
//
//   node scripts/arm64/replay.mjs APP_DIR CONFIG
//
// Plain JavaScript: an arm64 production install has no tsx, so it imports APP_DIR/dist.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const [app, configFile] = process.argv.slice(2);
if (!app || !configFile) throw new TypeError('usage: replay.mjs APP_DIR CONFIG');
const dist = (path) => import(pathToFileURL(join(app, 'dist', path)).href);

const t0 = performance.now();
const { loadConfig } = await dist('config/load.js');
const { runEval } = await dist('eval/harness.js');
const config = await loadConfig(configFile);
const report = await runEval({ config, truth: [] });
process.stdout.write(
  `${JSON.stringify({ arch: process.arch, ms: Math.round(performance.now() - t0), events: report.events })}\n`,
);
