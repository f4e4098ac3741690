/**
 * The demo (examples/demo.yaml, models/mini, samples/) reports the scripted scene: every incident
 * in samples/truth.json with the right label, and at most one false event.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { DEMO_CONFIG, evaluateEvents } from '../../src/sim/eval.js';
import { Recording } from '../../src/sim/recording.js';
import pino from 'pino';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

test(
  'demo: every scripted incident is reported with its label, at most one false event',
  { timeout: 90_000 },
  async () => {
    const rec = await Recording.open(`${REPO}samples`);
    assert.ok(rec.truth.events.length >= 4, 'the scripted scene has its incidents');
    const r = await evaluateEvents({
      recordings: [rec],
      pack: `${REPO}models/mini`,
      agentConfig: DEMO_CONFIG,
      logger: pino({ level: 'silent' }),
    });
    assert.equal(r.detected, r.incidents, `missed: ${r.missed.join('; ')}`);
    assert.ok(r.events - r.truePositives <= 1, `false events: ${r.falseEvents.join('; ')}`);
  },
);

test(
  "README's run example (examples/replay.yaml): the scripted incidents with their labels, at most one false event (issue 17 item 7)",
  { timeout: 90_000 },
  async () => {
    const config = await loadConfig(`${REPO}examples/replay.yaml`);
    assert.equal(config.encoders.pack, `${REPO}models/mini`, 'a trained pack, not the random test pack');
    const rec = await Recording.open(`${REPO}samples`);
    const r = await evaluateEvents({
      recordings: [rec],
      pack: config.encoders.pack,
      agentConfig: `${REPO}examples/replay.yaml`,
      logger: pino({ level: 'silent' }),
    });
    assert.equal(r.detected, r.incidents, `missed: ${r.missed.join('; ')}`);
    assert.ok(r.events - r.truePositives <= 1, `false events: ${r.falseEvents.join('; ')}`);
  },
);
