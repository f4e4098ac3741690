import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../src/log.js';

function pretty(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
  return { lines, logger: createLogger({ level: 'info', format: 'pretty', stream }) };
}

test('pretty: time, level, component and message; the component is said once (issue 17 item 5)', () => {
  const { lines, logger } = pretty();
  logger.child({ component: 'mqtt' }).info('mqtt: connected to mqtt://127.0.0.1:1883');
  logger.child({ component: 'labels' }).info('labels: 11 active');
  logger.child({ component: 'encoder' }).info('encoder text: loaded text.onnx on cpu');
  logger.child({ component: 'sensors' }).warn('sensor mic down');
  logger.info('stopping (SIGINT)');
  const text = lines.map((l) => l.replace(/^\d\d:\d\d:\d\d /, ''));
  assert.deepEqual(text, [
    'INFO  mqtt: connected to mqtt://127.0.0.1:1883\n',
    'INFO  labels: 11 active\n',
    'INFO  encoder text: loaded text.onnx on cpu\n',
    'WARN  sensors: sensor mic down\n',
    'INFO  stopping (SIGINT)\n',
  ]);
  assert.ok(lines.every((l) => /^\d\d:\d\d:\d\d /.test(l)));
});

test('json: one object per line with the component as a field', () => {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
  createLogger({ level: 'info', format: 'json', stream })
    .child({ component: 'mqtt' })
    .info('mqtt: connected');
  const o = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(o.component, 'mqtt');
  assert.equal(o.msg, 'mqtt: connected');
});
