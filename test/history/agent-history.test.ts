/**
 * The agent writes its embedding history (issue #18): the real agent on the bundled recordings
 * with the test pack writes every embedded window of every sensor, `history search` finds them,
 * and with the history on a full disk (a 24 KiB tmpfs, or ENOSPC injected where this machine
 * cannot mount one) detection publishes exactly the same events while history says degraded.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { deviceStateDir, loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import { nodeHistoryFiles, type HistoryFiles } from '../../src/history/writer.js';
import { scanHistory } from '../../src/history/reader.js';
import type { EventPayload } from '../../src/mqtt/payloads.js';
import { sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { enospc } from '../helpers/faulty-files.js';
import { freePort } from '../helpers/free-port.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

const dir = tempDir('agent-history');
const logger = createLogger({ level: 'silent', format: 'json' });
const mounts: Tmpfs[] = [];
after(() => mounts.forEach((m) => m.unmount()));

async function config(name: string) {
  const file = join(dir, `${name}.yaml`);
  const port = await freePort();
  writeFileSync(
    file,
    toYaml(
      sampleConfig({
        stateDir: join(dir, 'state'),
        deviceId: name,
        mqtt: { broker: 'embedded', embeddedPort: port, healthIntervalS: 0 },
      }),
    ),
  );
  return loadConfig(file);
}

async function run(name: string, historyFiles?: HistoryFiles) {
  const cfg = await config(name);
  const events: EventPayload[] = [];
  const agent = await startAgent({
    config: cfg,
    logger,
    deterministic: true,
    onEvent: (e) => events.push(e),
    ...(historyFiles ? { historyFiles } : {}),
  });
  await agent.done;
  // After stop: the history writer has written out what it held.
  await agent.stop();
  const stats = agent.stats();
  return { cfg, events, stats, historyDir: join(deviceStateDir(cfg), 'history') };
}

const strip = (events: EventPayload[]) =>
  events.map((e) => ({ type: e.type, label: e.label, score: e.score }));

test('every embedded window of every sensor goes into the history, and a search finds them', async () => {
  const { stats, historyDir } = await run('hist-ok');
  const h = stats.history!;
  assert.equal(h.state, 'ok');
  assert.equal(h.dropped, 0);
  // Deterministic replay drops no window: every window the hub took was embedded and written.
  const pushed = Object.values(stats.windows).reduce((s, x) => s + x.pushed - x.dropped, 0);
  assert.equal(h.written, pushed);
  const { hits, stats: scan } = scanHistory(historyDir, {
    vector: new Float32Array(1024).fill(1 / 32),
    keep: 100_000,
  });
  assert.equal(scan.windows, h.written);
  assert.deepEqual([...new Set(hits.map((x) => x.sensorId))].sort(), ['depth', 'imu', 'mic', 'thermal']);
});

test('a full history disk: the same events are published, history is degraded with HISTORY_DISK_FULL', async () => {
  const ok = await run('hist-ref');
  const name = 'hist-full';
  const historyDir = join(dir, 'state', 'devices', name, 'history');
  mkdirSync(historyDir, { recursive: true });
  const disk = mountTmpfs(historyDir, 24 * 1024);
  let files: HistoryFiles | undefined;
  if ('refused' in disk) {
    // No tmpfs here: the disk fills after the first 16 KiB, as the tmpfs would.
    let written = 0;
    files = {
      write: async (fd, data, offset, length) => {
        const room = 16 * 1024 - written;
        if (room <= 0) throw enospc('write');
        const n = await nodeHistoryFiles.write(fd, data, offset, Math.min(length, room));
        written += n;
        return n;
      },
      datasync: (fd) => nodeHistoryFiles.datasync(fd),
    };
  } else mounts.push(disk);
  const full = await run(name, files);
  assert.deepEqual(strip(full.events), strip(ok.events));
  assert.ok(full.events.length > 0);
  const h = full.stats.history!;
  assert.equal(h.state, 'degraded');
  assert.equal(h.code, 'HISTORY_DISK_FULL');
  assert.match(h.reason!, /ENOSPC/);
  assert.ok(h.written > 0 && h.written < ok.stats.history!.written, `${h.written} windows written`);
  // What did fit is readable.
  assert.equal(
    scanHistory(full.historyDir, { vector: new Float32Array(1024).fill(1 / 32), keep: 10 }).stats.windows,
    h.written,
  );
});
