/**
 * Sensor health end to end: a custom serial board (socat pty pair, real serialport binding, the
 * serial-lines driver) and a looping thermal replay feed the whole agent (test pack, fusion,
 * real Mosquitto, real Prometheus metrics). Unplugging the board must show on `health` at once
 * (`down` with a reason), in `edgebind_sensor_up`, in the log, and in fusion: its last window
 * stops counting although `fusion.toleranceMs` would keep it for a minute. Replugging brings all
 * of it back.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { Metrics } from '../../src/daemon/metrics.js';
import { startAgent } from '../../src/main.js';
import type { HealthPayload, SensorHealthPayload } from '../../src/mqtt/payloads.js';
import { captureLogger } from '../helpers/log-capture.js';
import { sampleConfig, SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector, type CollectedMessage } from '../helpers/mqtt-collector.js';
import { requireTool } from '../sensors/fakes.js';
import { SerialBoardEmulator } from '../sensors/serial-board.emulator.js';

requireTool('socat');
const dir = tempDir('sensor-health');
let broker: Mosquitto;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

test('an unplugged sensor is down on health, metrics and log, and leaves fusion at once; replug restores it', async () => {
  const deviceId = 'sensor-health';
  const healthTopic = `edgebind/${deviceId}/health`;
  const board = new SerialBoardEmulator({
    dir,
    name: 'board',
    line: (k) => [(k % 100) / 10, 0.5, 9.81, -0.01, 0.02, 0].join(','),
    rateHz: 100,
    batch: 5,
  });
  await board.plug();

  const cfg = sampleConfig({
    stateDir: join(dir, 'state'),
    deviceId,
    // Health only when something changes: the periodic one would come an hour later.
    mqtt: { broker: broker.url, healthIntervalS: 3600 },
    homeAssistant: { enabled: true },
    // Without dropSensor the board's last window would keep counting for a minute.
    fusion: { toleranceMs: 60_000 },
    labels: [{ name: 'person', prompts: ['a person walking in a room'], modalities: ['thermal', 'imu'] }],
    log: { level: 'info' },
  });
  cfg.sensors = [
    {
      id: 'thermal',
      modality: 'thermal',
      driver: 'replay',
      file: join(SAMPLES, 'room-thermal.ebf'),
      speed: 1,
      loop: true,
    },
    {
      id: 'board',
      modality: 'imu',
      driver: 'serial-lines',
      path: board.hostPath,
      sampleShape: [6],
      rateHz: 100,
      samplesPerFrame: 10,
      window: { lengthMs: 1000, hopMs: 500 },
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
    },
  ];
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, toYaml(cfg));
  const config = await loadConfig(file);

  const { logger, lines } = captureLogger('info');
  const logged = () =>
    lines.map((l) => JSON.parse(l) as { level: number; msg: string; sensor?: string; reason?: string });
  const metrics = new Metrics({ port: 0, processMetrics: false });
  const metricsUrl = await metrics.listen();
  const sensorUp = async () => {
    const text = await (await fetch(metricsUrl)).text();
    return /^edgebind_sensor_up\{sensor="board"\} (\d)$/m.exec(text)?.[1];
  };
  const boardStateTopic = `edgebind/${deviceId}/sensors/board/state`;
  const sub = await startCollector({
    url: broker.url,
    filter: [healthTopic, boardStateTopic, `homeassistant/binary_sensor/edgebind_${deviceId}/+/config`],
  });
  const boardOn = (m: CollectedMessage): SensorHealthPayload | undefined =>
    m.topic === healthTopic ? (m.json as HealthPayload).sensors.board : undefined;

  const agent = await startAgent({ config, logger, metrics });
  try {
    // Up: a health message says so without waiting for the interval; HA gets a connectivity entity.
    const up = await sub.waitFor((m) => boardOn(m)?.state === 'ok', 20_000);
    const health = up.json as HealthPayload;
    assert.deepEqual(Object.keys(health.sensors).sort(), ['board', 'thermal']);
    assert.equal(health.sensors.board!.modality, 'imu');
    const entity = await sub.waitFor((m) => m.topic.endsWith('/_sensor_board/config'));
    const ha = entity.json as Record<string, unknown>;
    assert.equal(ha.device_class, 'connectivity');
    // It reads the board's retained state (issue 17 item 12), which says ok by now.
    assert.equal(ha.state_topic, boardStateTopic);
    await sub.waitFor((m) => m.topic === boardStateTopic && m.text === 'ok');

    // Both sensors' windows count toward the fused `person` score.
    await until(
      'both sensors in fusion',
      () => agent.stats().sensors.board?.fused === true && agent.stats().sensors.thermal?.fused === true,
      30_000,
    );
    assert.equal(await sensorUp(), '1');
    // What a Prometheus alert needs: the build and pack, and a series per label from the start.
    const scrape = await (await fetch(metricsUrl)).text();
    assert.match(scrape, /^edgebind_build_info\{version="[^"]+",pack_id="[^"]+",pack_version="[^"]+"\} 1$/m);
    assert.match(scrape, /^edgebind_label_active\{label="person"\} [01]$/m);
    assert.match(scrape, /^edgebind_label_score\{label="person"\} /m);
    const framesBefore = agent.stats().sensors.board!.frames;
    assert.ok(framesBefore > 0);

    // Unplug: socat dies, both pty ends vanish; the driver reports down and keeps retrying.
    sub.clear();
    const unpluggedAt = Date.now();
    await board.unplug();
    const downMsg = await sub.waitFor((m) => boardOn(m)?.state === 'down', 5000);
    assert.ok(Date.now() - unpluggedAt < 5000, 'health follows the state change, not the hourly interval');
    const down = boardOn(downMsg)!;
    assert.ok(down.reason && down.reason.length > 0, 'down carries a reason');
    assert.ok(down.restarts >= 1, `restarts counted (${down.restarts})`);
    assert.ok(down.frames >= framesBefore);
    assert.equal(down.fused, false, "the board's last window no longer counts toward fused scores");
    assert.equal((downMsg.json as HealthPayload).sensors.thermal!.state, 'ok');
    const downState = await sub.waitFor((m) => m.topic === boardStateTopic && m.text === 'down');
    assert.equal(downState.retain, false, 'sent live, and retained for later subscribers');
    assert.equal(await sensorUp(), '0', 'edgebind_sensor_up is 0 while unplugged');
    assert.ok(
      logged().some((l) => l.level === 40 && l.sensor === 'board' && /sensor board down: ./.test(l.msg)),
      'a warning names the sensor and the reason',
    );

    // Fusion goes on with the thermal camera alone; the stale board window stays out.
    const pushed = agent.stats().windows.thermal!.pushed;
    await until(
      'two more thermal windows',
      () => agent.stats().windows.thermal!.pushed >= pushed + 2,
      10_000,
    );
    await until('the encoder to take them', () => agent.stats().sensors.thermal!.fused, 20_000);
    const during = agent.stats().sensors;
    assert.equal(during.board!.state, 'down');
    assert.equal(during.board!.fused, false);
    assert.equal(during.thermal!.fused, true);

    // Replug: back within the reconnect backoff, on health, in metrics and in fusion.
    sub.clear();
    await board.replug();
    const backMsg = await sub.waitFor((m) => boardOn(m)?.state === 'ok', 10_000);
    await sub.waitFor((m) => m.topic === boardStateTopic && m.text === 'ok');
    const back = boardOn(backMsg)!;
    assert.equal(back.reason, undefined);
    assert.ok(back.restarts >= down.restarts);
    assert.equal(await sensorUp(), '1');
    await until('the board back in fusion', () => agent.stats().sensors.board?.fused === true, 10_000);
    assert.ok(agent.stats().sensors.board!.frames > down.frames, 'frames flow again');
    assert.ok(
      logged().some((l) => l.level === 30 && l.sensor === 'board' && /sensor board back/.test(l.msg)),
      'the recovery is logged',
    );
  } finally {
    await agent.stop();
    await board.close();
    await sub.close();
    await metrics.close();
  }
});
