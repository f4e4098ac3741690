/** Score inspection: the `onScores` hook of startAgent and the opt-in debug log line. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import type { ScoreInspection } from '../../src/fusion/fusion.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import { encodeWav16 } from '../../src/sensors/formats/wav.js';
import { tempDir } from '../helpers/agent-config.js';
import { renderSound, spectralEncoders } from './helpers/spectral-encoder.js';

const dir = tempDir('inspect');

test('onScores gets the top-k labels of every window; inspectTopK also logs them at debug', async () => {
  const wav = join(dir, 'whistle.wav');
  const x = renderSound({ seconds: 5, sound: { kind: 'whistle' } });
  writeFileSync(wav, encodeWav16({ sampleRateHz: 16000, channels: [x] }));
  const cfg: ConfigInput = {
    deviceId: 'inspect',
    stateDir: join(dir, 'state'),
    sensors: [{ id: 'mic', modality: 'audio', driver: 'replay', file: wav, speed: 0, loop: false }],
    labels: ['a', 'b', 'c'].map((n) => ({ name: n, prompts: [`sound ${n}`] })),
    scoring: { inspectTopK: 2 },
    log: { level: 'debug' },
  };
  const file = join(dir, 'inspect.yaml');
  writeFileSync(file, JSON.stringify(cfg));
  const loaded = await loadConfig(file);
  const config = { ...loaded, mqtt: { ...loaded.mqtt, embeddedPort: 0 } };
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
  const seen: ScoreInspection[] = [];
  const agent = await startAgent({
    config,
    logger: createLogger({ level: 'debug', format: 'json', stream }),
    encoders: spectralEncoders(),
    onScores: (s) => seen.push(s),
  });
  await agent.done;
  await agent.stop();
  assert.equal(seen.length, 4, 'one per 2 s window of a 5 s recording at 1 s hop');
  for (const s of seen) {
    assert.equal(s.sensorId, 'mic');
    assert.equal(s.top.length, 2);
    assert.ok(s.top[0]!.score >= s.top[1]!.score);
  }
  const logged = lines
    .map((l) => JSON.parse(l) as { component?: string; top?: unknown[]; msg: string })
    .filter((l) => l.component === 'scores');
  assert.equal(logged.length, 4);
  assert.equal(logged[0]!.top!.length, 2);
  assert.match(logged[0]!.msg, /#\s+label\s+score\s+cosine/);
});
