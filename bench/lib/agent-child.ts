/**
 * Runs one agent for the benchmark driver: `agent-child.ts CONFIG.json [--hash-encoder]`.
 * Prints `READY` once started, one JSON line per event on stdout when `--events` is given, and
 * stops cleanly on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { startAgent } from '../../src/main.js';
import { hashEncoders } from './hash-encoder.js';

const [file] = process.argv.slice(2);
if (!file) throw new TypeError('usage: agent-child.ts CONFIG.json [--hash-encoder] [--events]');
const config = parseConfig(readFileSync(file, 'utf8'), file);
const logger = createLogger({ level: 'error', format: 'json' });
const printEvents = process.argv.includes('--events');
const agent = await startAgent({
  config,
  logger,
  ...(process.argv.includes('--hash-encoder') ? { encoders: hashEncoders() } : {}),
  ...(printEvents ? { onEvent: (e) => process.stdout.write(`${JSON.stringify(e)}\n`) } : {}),
});
process.stdout.write('READY\n');
process.once('SIGTERM', () => {
  void agent.stop().then(() => process.exit(0));
});
void agent.done.then(async () => {
  await agent.stop();
  process.stdout.write(`DONE ${JSON.stringify(agent.stats().windows)}\n`);
  process.exit(0);
});
