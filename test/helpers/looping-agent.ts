/**
 * A running agent that writes its embedding history (issue #18): the looping real-time mic replay
 * with the test pack, its config written to `dir/agent.yaml` and loaded as a user's would be.
 * Shared by the history search tests on the CLI and over MQTT.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent, AgentDeps } from '../../src/agent-types.js';
import { deviceStateDir, loadConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import { loopingMicConfig, toYaml } from './agent-config.js';

/** Polls `ok` every 50 ms; throws naming `what` after `timeoutMs`. */
export async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface LoopingAgentOptions extends Pick<ConfigInput, 'deviceId' | 'stateDir' | 'mqtt'> {
  /** More config (labels, events, remote …) over the looping mic's. */
  config?: Partial<ConfigInput>;
  onEvent?: AgentDeps['onEvent'];
}

/** Starts the agent; it and the directory its history is written to. */
export async function startLoopingAgent(
  dir: string,
  { deviceId, stateDir, mqtt, config: extra, onEvent }: LoopingAgentOptions,
): Promise<{ agent: Agent; historyDir: string }> {
  const file = join(dir, 'agent.yaml');
  writeFileSync(
    file,
    toYaml({
      ...loopingMicConfig({ deviceId, stateDir, mqtt }),
      ...extra,
      encoders: { pack: 'test' },
      log: { level: 'silent' },
    }),
  );
  const config = await loadConfig(file);
  const agent = await startAgent({
    config,
    logger: createLogger({ level: 'silent', format: 'json' }),
    ...(onEvent ? { onEvent } : {}),
  });
  return { agent, historyDir: join(deviceStateDir(config), 'history') };
}
