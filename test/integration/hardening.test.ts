/**
 * Issue 14 against a running agent and a real Mosquitto, asserting what a user sees on the broker:
 * - a poisoned labels/set (NaN / Infinity example) is refused and events keep flowing;
 * - labels/test persists nothing in `<stateDir>/label-cache`;
 * - an encoder that sometimes embeds to NaN: those windows are dropped and counted on health,
 *   events keep flowing;
 * - a replay whose frame shape does not fit its modality, and a WAV cut inside its fmt chunk, fail
 *   once: health says down with the reason (file named), one error each, the other sensor goes on;
 * - garbage bytes on a serial line reach health's `reason` escaped and bounded.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { openEncoders } from '../../src/encoders/registry.js';
import type { EncoderSet } from '../../src/encoders/types.js';
import { startAgent } from '../../src/main.js';
import type { HealthPayload, ResponsePayload } from '../../src/mqtt/payloads.js';
import { MAX_REASON_CHARS } from '../../src/printable.js';
import { encodeFrameFile } from '../../src/sensors/formats/frame-file.js';
import { SAMPLES, tempDir, toYaml } from '../helpers/agent-config.js';
import { captureLogger } from '../helpers/log-capture.js';
import { startCollector, type MqttCollector } from '../helpers/mqtt-collector.js';
import { brokerWithRequester, REPLY_PREFIX } from '../mqtt/fixtures/api-harness.js';
import { requireTool } from '../sensors/fakes.js';
import { SerialBoardEmulator } from '../sensors/serial-board.emulator.js';

const mq = brokerWithRequester();

const dir = tempDir('hardening');
const kettle = {
  name: 'kettle',
  prompts: ['a kettle whistling'],
  modalities: ['audio' as const],
  threshold: 0.01,
};
const mic = {
  id: 'mic',
  driver: 'replay',
  modality: 'audio',
  file: join(SAMPLES, 'room-audio.wav'),
  speed: 4,
  loop: true,
} as const;

async function agentConfig(deviceId: string, extra: Record<string, unknown> = {}) {
  const file = join(dir, `${deviceId}.yaml`);
  writeFileSync(
    file,
    toYaml({
      deviceId,
      stateDir: join(dir, 'state'),
      mqtt: { broker: mq.broker.url, protocolVersion: 5, healthIntervalS: 1 },
      remote: { responseTopicPrefixes: [REPLY_PREFIX] },
      sensors: [mic],
      labels: [kettle],
      events: { minWindows: 1, endWindows: 2, updateIntervalMs: 500 },
      log: { level: 'info' },
      ...extra,
    }),
  );
  return loadConfig(file);
}

const floats = (...xs: number[]) => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b.toString('base64');
};

/** Waits for `n` event messages (each with a numeric seq) after the collector's current count. */
async function moreEvents(sub: MqttCollector, topic: string, n: number): Promise<void> {
  const start = sub.messages.length;
  let seen = 0;
  await sub.waitFor((m) => {
    if (sub.messages.indexOf(m) < start || m.topic !== topic) return false;
    assert.equal(typeof (m.json as { seq?: unknown }).seq, 'number', `event without seq: ${m.text}`);
    return ++seen >= n;
  }, 30_000);
}

test('a poisoned labels/set is refused, labels/test persists nothing, and events keep flowing', async () => {
  const config = await agentConfig('hard-labels');
  const { logger, lines } = captureLogger('info');
  const sub = await startCollector({ url: mq.broker.url, filter: 'edgebind/hard-labels/events' });
  const agent = await startAgent({ config, logger });
  const topic = (op: string) => `edgebind/hard-labels/request/${op}`;
  const events = 'edgebind/hard-labels/events';
  try {
    await moreEvents(sub, events, 2);
    for (const bad of [floats(NaN, NaN, NaN, NaN), floats(Infinity, Infinity), floats(1, NaN)]) {
      const r = await mq.requester.request(topic('labels/set'), {
        labels: [kettle, { name: 'poison', examples: [{ base64: bad, modality: 'audio' }] }],
      });
      assert.equal(r.code, 'REQUEST_INVALID', JSON.stringify(r));
      assert.equal(r.problems?.[0]?.path, '$.labels[1].examples[0].base64');
    }
    const cache = join(config.stateDir, 'label-cache');
    const before = existsSync(cache) ? readdirSync(cache).sort() : [];
    for (let i = 0; i < 5; i++) {
      const r = await mq.requester.request(topic('labels/test'), {
        labels: [{ name: `t${i}`, prompts: [`a new sound number ${i}`] }],
      });
      assert.equal(r.status, 'ok', JSON.stringify(r));
    }
    assert.deepEqual(existsSync(cache) ? readdirSync(cache).sort() : [], before, 'labels/test wrote nothing');
    // The running set still fires: new events, every one with a seq.
    await moreEvents(sub, events, 3);
    const get = (await mq.requester.request(topic('labels/get'), {})) as ResponsePayload & {
      data: { version: number; labels: { name: string }[] };
    };
    assert.equal(get.data.version, 0);
    assert.deepEqual(
      get.data.labels.map((l) => l.name),
      ['kettle'],
    );
  } catch (err) {
    console.error(lines.join(''));
    throw err;
  } finally {
    await agent.stop();
    await sub.close();
  }
});

test('windows an encoder embeds to NaN are dropped and counted on health; events keep flowing', async () => {
  const config = await agentConfig('hard-nan');
  const { logger, lines } = captureLogger('info');
  const real = await openEncoders({ config, modalities: ['audio'], logger });
  const audio = real.windows.get('audio')!;
  let batches = 0;
  // A faulty encoder: every other batch comes back as NaN.
  const encoders: EncoderSet = {
    pack: real.pack,
    text: real.text,
    windows: new Map([
      [
        'audio',
        {
          modality: 'audio',
          provider: audio.provider,
          embed: async (ws) => {
            const out = await audio.embed(ws);
            return batches++ % 2 === 1 ? out.map((v) => new Float32Array(v.length).fill(NaN)) : out;
          },
        },
      ],
    ]),
    close: () => real.close(),
  };
  const sub = await startCollector({
    url: mq.broker.url,
    filter: ['edgebind/hard-nan/events', 'edgebind/hard-nan/health'],
  });
  const agent = await startAgent({ config, logger, encoders });
  try {
    await moreEvents(sub, 'edgebind/hard-nan/events', 4);
    const health = await sub.waitFor(
      (m) =>
        m.topic === 'edgebind/hard-nan/health' && ((m.json as HealthPayload).sensors.mic?.nonFinite ?? 0) > 0,
      15_000,
    );
    assert.ok((health.json as HealthPayload).sensors.mic!.nonFinite! > 0);
    assert.ok(
      lines.some((l) => /embedding of a mic window has NaN or infinite values; dropped/.test(l)),
      'logged',
    );
  } catch (err) {
    console.error(lines.join(''));
    throw err;
  } finally {
    await agent.stop();
    await encoders.close();
    await sub.close();
  }
});

test('a replay of the wrong shape and a truncated WAV fail once; health says why; the mic goes on', async () => {
  const imuFile = join(dir, 'three-axis.ebf');
  writeFileSync(
    imuFile,
    encodeFrameFile(
      {
        version: 1,
        modality: 'imu',
        unit: 'm/s2',
        dtype: 'float32',
        scale: 1,
        sampleShape: [3],
        rateHz: 100,
      },
      Array.from({ length: 200 }, (_, i) => ({ tMs: i * 10, data: new Float32Array([0, 0, 9.8]) })),
    ),
  );
  const cutWav = join(dir, 'cut.wav');
  writeFileSync(cutWav, readFileSync(join(SAMPLES, 'room-audio.wav')).subarray(0, 26));
  const config = await agentConfig('hard-shape', {
    sensors: [
      mic,
      { id: 'imu', driver: 'replay', modality: 'imu', file: imuFile, speed: 1, loop: true },
      { id: 'cut', driver: 'replay', modality: 'audio', file: cutWav, speed: 1, loop: true },
    ],
  });
  const { logger, lines } = captureLogger('info');
  const sub = await startCollector({
    url: mq.broker.url,
    filter: ['edgebind/hard-shape/events', 'edgebind/hard-shape/health'],
  });
  const agent = await startAgent({ config, logger });
  try {
    const health = await sub.waitFor((m) => {
      if (m.topic !== 'edgebind/hard-shape/health') return false;
      const s = (m.json as HealthPayload).sensors;
      return s.imu?.state === 'down' && s.cut?.state === 'down' && s.mic?.state === 'ok';
    }, 15_000);
    const s = (health.json as HealthPayload).sensors;
    assert.match(s.imu!.reason!, /three-axis\.ebf: samples of shape \[3\] do not fit an imu sensor/);
    assert.match(s.cut!.reason!, /cut\.wav: file ends inside the fmt chunk/);
    // Events keep flowing from the mic, then: still one error per broken sensor, no retries.
    await moreEvents(sub, 'edgebind/hard-shape/events', 3);
    const errors = lines.filter((l) => /"level":50/.test(l));
    assert.equal(errors.filter((l) => /three-axis\.ebf/.test(l)).length, 1, errors.join(''));
    assert.equal(errors.filter((l) => /cut\.wav/.test(l)).length, 1, errors.join(''));
    assert.ok(!lines.some((l) => /restarting in/.test(l) && /three-axis|cut\.wav/.test(l)));
  } catch (err) {
    console.error(lines.join(''));
    throw err;
  } finally {
    await agent.stop();
    await sub.close();
  }
});

test('a serial line of garbage bytes: health reason is escaped and bounded, never raw control characters', async () => {
  requireTool('socat');
  const board = new SerialBoardEmulator({
    dir,
    name: 'garbage-board',
    // Every 5th line carries terminal escapes, a bell and replacement characters.
    line: (k) =>
      k % 5 === 4 ? `1,2,\u001b[2J\u0007\ufffd\ufffd${'\u0001'.repeat(300)},4,5,6` : '0.1,0.5,9.81,0,0,0',
    rateHz: 100,
    batch: 5,
  });
  await board.plug();
  const config = await agentConfig('hard-serial', {
    sensors: [
      mic,
      {
        id: 'board',
        modality: 'imu',
        driver: 'serial-lines',
        path: board.hostPath,
        sampleShape: [6],
        rateHz: 100,
        samplesPerFrame: 10,
        window: { lengthMs: 1000, hopMs: 500 },
      },
    ],
  });
  const { logger, lines } = captureLogger('info');
  const sub = await startCollector({ url: mq.broker.url, filter: 'edgebind/hard-serial/health' });
  const agent = await startAgent({ config, logger });
  try {
    const m = await sub.waitFor((x) => (x.json as HealthPayload).sensors.board?.state === 'degraded', 15_000);
    const reason = (m.json as HealthPayload).sensors.board!.reason!;
    assert.match(reason, /\\x1b\[2J\\x07\\ufffd\\ufffd/, reason);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(reason, /[\u0000-\u001f\u007f-\u009f\ufffd]/);
    assert.ok(reason.length <= MAX_REASON_CHARS + 1, `${reason.length} characters`);
  } catch (err) {
    console.error(lines.join(''));
    throw err;
  } finally {
    await agent.stop();
    await sub.close();
    await board.close();
  }
});
