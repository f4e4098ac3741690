/**
 * SIGHUP's scoring, events and fusion (issue 17 item 1) on the whole agent: a looping replay, the
 * test pack, the embedded broker. The new settings go through the label swap: an open event keeps
 * its id, a raised threshold ends it, and events.minWindows decides the next start; a key no
 * running agent can apply (mqtt.baseTopic) is still reported as needing a restart.
 *
 * The label's prompt is also the one background prompt, so whatever the random-weight pack embeds
 * both get the same cosine: the label's score is 0.5 on every window and it ties the runner-up
 * (margin 0 passes). A threshold of 0.4 always matches, one of 0.6 never does.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { adopt, diffConfig } from '../../src/daemon/reload.js';
import { startAgent } from '../../src/main.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { loopingMicConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { captureLogger } from '../helpers/log-capture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test(
  'SIGHUP applies scoring, events and fusion live; an open event keeps its id',
  { timeout: 120_000 },
  async () => {
    const dir = tempDir('live-settings');
    const file = join(dir, 'agent.yaml');
    const base = loopingMicConfig({
      deviceId: 'live-settings',
      stateDir: join(dir, 'state'),
      mqtt: { broker: 'embedded', embeddedPort: await freePort() },
    });
    base.sensors[0] = { ...base.sensors[0]!, speed: 4 } as ConfigInput['sensors'][number];
    base.log = { level: 'info' };
    base.labels = [{ name: 'quiet', prompts: ['a quiet room'] }];
    const background = { backgroundPrompts: ['a quiet room'] };
    const write = (over: Pick<ConfigInput, 'scoring' | 'events' | 'fusion'> & { baseTopic?: string }) => {
      const { baseTopic, ...rest } = over;
      writeFileSync(
        file,
        toYaml({ ...base, ...rest, mqtt: { ...base.mqtt, ...(baseTopic ? { baseTopic } : {}) } }),
      );
      return loadConfig(file);
    };
    const events0 = { minWindows: 1, endWindows: 2, updateIntervalMs: 500, cooldownMs: 0 };
    const config = await write({ scoring: { ...background, threshold: 0.4 }, events: events0 });
    const { logger, lines } = captureLogger('info');
    const events: EventPayload[] = [];
    const agent = await startAgent({ config, logger, onEvent: (e) => events.push(e) });
    let running = config;
    /** What `edgebind run` does on SIGHUP (cli/commands/run.ts), returning the diff. */
    const reload = async (next: Awaited<ReturnType<typeof loadConfig>>) => {
      const changes = diffConfig(running, next);
      const outcomes = await agent.reconfigure(next, changes.liveKeys);
      for (const o of outcomes) {
        assert.ok(o.applied, `${o.key} applied: ${o.reason}`);
        running = adopt(running, next, o.key);
      }
      return { changes, outcomes };
    };
    try {
      const first = await waitFor('the first start', () => events.find((e) => e.type === 'start'));
      assert.equal(first.windows, 1, 'events.minWindows 1 at start');

      // New scoring, events and fusion settings (and one restart-only key) while it is open.
      const at = events.length;
      const { changes, outcomes } = await reload(
        await write({
          scoring: { ...background, temperature: 20, threshold: 0.45, smoothingWindows: 2 },
          events: { ...events0, minWindows: 3, updateIntervalMs: 400 },
          fusion: { toleranceMs: 1000, weights: { audio: 2 } },
          baseTopic: 'elsewhere',
        }),
      );
      assert.deepEqual(changes.restartRequired, ['mqtt.baseTopic']);
      assert.deepEqual(changes.liveKeys.sort(), ['events', 'fusion', 'scoring']);
      assert.deepEqual(outcomes.map((o) => o.key).sort(), ['events', 'fusion', 'scoring']);
      assert.deepEqual(diffConfig(running, await loadConfig(file)).restartRequired, ['mqtt.baseTopic']);
      const update = await waitFor('an update of the open event', () =>
        events.slice(at).find((e) => e.id === first.id && e.type === 'update'),
      );
      assert.equal(update.label, 'quiet');
      assert.equal(update.score, 0.5);
      assert.ok(
        events.slice(at).every((e) => e.id === first.id && e.type === 'update'),
        `the open event goes on under its id: ${events
          .slice(at)
          .map((e) => `${e.type} ${e.id.slice(-4)}`)
          .join(', ')}`,
      );
      assert.ok(lines.some((l) => l.includes('rebuilt with the new settings')));

      // A threshold no score reaches ends it: the new threshold applies to the open event.
      const at2 = events.length;
      await reload(
        await write({
          scoring: { ...background, temperature: 20, threshold: 0.6, smoothingWindows: 2 },
          events: { ...events0, minWindows: 3, updateIntervalMs: 400 },
          fusion: { toleranceMs: 1000, weights: { audio: 2 } },
        }),
      );
      const end = await waitFor('the end of the open event', () =>
        events.slice(at2).find((e) => e.id === first.id && e.type === 'end'),
      );
      assert.equal(end.endReason, 'belowThreshold');

      // Back to an always-met threshold: the next start waits for events.minWindows (3) windows.
      const at3 = events.length;
      await reload(
        await write({
          scoring: { ...background, temperature: 20, threshold: 0.4, smoothingWindows: 2 },
          events: { ...events0, minWindows: 3, updateIntervalMs: 400 },
          fusion: { toleranceMs: 1000, weights: { audio: 2 } },
        }),
      );
      const next = await waitFor('a new start', () => events.slice(at3).find((e) => e.type === 'start'));
      assert.notEqual(next.id, first.id);
      assert.equal(next.windows, 3, 'events.minWindows 3 applied');
      assert.ok(
        events.slice(at2).filter((e) => e.type === 'start').length === 1,
        'nothing started under the 0.6 threshold',
      );
    } catch (err) {
      console.error(lines.join(''));
      throw err;
    } finally {
      await agent.stop();
    }
  },
);
