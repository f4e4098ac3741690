/**
 * The whole pipeline — replay sensors, windows, the generated test pack on onnxruntime, scoring,
 * the event tracker and the MQTT publisher — against a real Mosquitto, checked by a separate
 * subscriber.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import { EventSchema, type EventPayload } from '../../src/mqtt/payloads.js';
import { captureLogger } from '../helpers/log-capture.js';
import { sampleConfig, tempDir, toYaml } from '../helpers/agent-config.js';
import { freePort } from '../helpers/free-port.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startCollector, type MqttCollector } from '../helpers/mqtt-collector.js';

const dir = tempDir('pipeline');
const logger = createLogger({ level: 'warn', format: 'json' });
let broker: Mosquitto;

before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

async function configFile(name: string, brokerUrl: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    toYaml(sampleConfig({ stateDir: join(dir, 'state'), deviceId: name, mqtt: { broker: brokerUrl } })),
  );
  return loadConfig(file);
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const LABEL_MODALITIES: Record<string, string[]> = {
  alarm_beeping: ['audio'],
  dog_barking: ['audio'],
  person: ['depth', 'thermal'],
  machine_vibration: ['imu'],
};

function checkLifecycles(events: EventPayload[]) {
  const byId = new Map<string, EventPayload[]>();
  // Strict: a field the agent sends but EventSchema (hence AsyncAPI) does not describe fails here.
  for (const e of events) assert.deepEqual(EventSchema.parse(e), e, `event ${e.seq} matches EventSchema`);
  for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
  for (const [id, evs] of byId) {
    assert.match(id, UUID_V7);
    assert.equal(evs[0]!.type, 'start', `${id} begins with start`);
    assert.equal(evs.at(-1)!.type, 'end', `${id} ends with end`);
    assert.equal(evs.filter((e) => e.type === 'end').length, 1, `${id} has one end`);
    assert.ok(evs.every((e) => e.label === evs[0]!.label));
    const end = evs.at(-1)!;
    assert.ok(Date.parse(end.endTime!) >= Date.parse(end.startTime));
    assert.ok(end.peakScore >= evs[0]!.score - 1e-9);
  }
  return byId;
}

test('events flow from replayed recordings to a separate subscriber through Mosquitto', async () => {
  const config = await configFile('pipeline-a', broker.url);
  const sub: MqttCollector = await startCollector({ url: broker.url, filter: 'edgebind/pipeline-a/#' });
  const local: EventPayload[] = [];
  const agent = await startAgent({ config, logger, onEvent: (e) => local.push(e) });
  await sub.waitFor((m) => m.topic === 'edgebind/pipeline-a/status' && m.text === 'online', 10_000);
  await agent.done;
  await agent.stop();
  await sub.waitFor((m) => m.topic === 'edgebind/pipeline-a/status' && m.text === 'offline', 10_000);
  const received = sub.messages
    .filter((m) => m.topic === 'edgebind/pipeline-a/events')
    .map((m) => m.json as EventPayload);
  await sub.close();

  assert.ok(local.length >= 2, `the samples produce events (got ${local.length})`);
  assert.deepEqual(received, local, 'the subscriber receives every event, in order, exactly as produced');
  for (const e of received) {
    assert.equal(e.deviceId, 'pipeline-a');
    assert.deepEqual(e.pack, { id: 'edgebind-test', version: e.pack.version });
    assert.ok(e.score >= 0 && e.score <= 1 && e.peakScore >= 0 && e.peakScore <= 1);
    assert.ok(
      e.modalities.length > 0 && e.modalities.every((m) => LABEL_MODALITIES[e.label]!.includes(m)),
      `${e.label} from ${e.modalities.join()}`,
    );
    assert.ok(!Number.isNaN(Date.parse(e.startTime)) && !Number.isNaN(Date.parse(e.timestamp)));
  }
  checkLifecycles(received);
  const stats = agent.stats();
  assert.equal(stats.mqtt.outboxDepth, 0);
  assert.equal(stats.mqtt.dropped, 0);
});

test('the same recordings give the same events (deterministic pipeline)', async () => {
  const config = await configFile('pipeline-b', broker.url);
  // Labels observed by one sensor only: their events must not depend on how the fast replay of
  // several sensors happened to interleave.
  const single = new Set(['alarm_beeping', 'dog_barking', 'machine_vibration']);
  const runOnce = async () => {
    const events: EventPayload[] = [];
    const agent = await startAgent({ config, logger, onEvent: (e) => events.push(e) });
    await agent.done;
    await agent.stop();
    return events
      .filter((e) => single.has(e.label))
      .map((e) => [e.type, e.label, e.score, e.peakScore, e.windows].join(' '))
      .sort();
  };
  const first = await runOnce();
  assert.ok(first.length > 0);
  assert.deepEqual(await runOnce(), first);
});

test('events produced while the broker is unreachable are kept and delivered once it is up', async () => {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  // A persistent subscriber session is made first and saved with the broker, so once the broker
  // is back the subscriber gets every event whenever the agent happens to reconnect.
  const late = await startMosquitto({ port, persistence: true });
  const subOpts = { url, filter: 'edgebind/pipeline-c/events', clientId: 'pipeline-c-sub', clean: false };
  await (await startCollector(subOpts)).close();
  await late.stop();

  const config = await configFile('pipeline-c', url);
  const { logger: agentLogger, lines } = captureLogger('warn');
  const local: EventPayload[] = [];
  const agent = await startAgent({
    config: { ...config, mqtt: { ...config.mqtt, reconnectMinMs: 200, reconnectMaxMs: 400 } },
    logger: agentLogger,
    onEvent: (e) => local.push(e),
  });
  let sub: MqttCollector | undefined;
  try {
    await agent.done; // every event is produced while no broker listens
    assert.ok(local.length > 0);
    assert.equal(agent.stats().mqtt.outboxDepth, local.length);
    const warnings = lines.filter((l) => l.includes('cannot reach broker'));
    assert.equal(warnings.length, 1, 'one clear line, not one per retry');
    assert.match(warnings[0]!, /ECONNREFUSED/);

    await late.start();
    const deadline = Date.now() + 10_000;
    while (agent.stats().mqtt.outboxDepth > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(agent.stats().mqtt.outboxDepth, 0, 'outbox drained after the broker came up');
    sub = await startCollector(subOpts);
    const got = sub;
    await got.waitFor(() => got.messages.length >= local.length, 10_000);
    assert.deepEqual(
      got.messages.map((m) => m.json),
      local,
      'every event produced during the outage arrives, in order',
    );
  } finally {
    await sub?.close();
    await agent.stop();
    await late.close();
  }
});
