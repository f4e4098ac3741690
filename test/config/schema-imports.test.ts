import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** CommonJS packages loaded once `module` (relative to the repository root) is imported. */
async function loadedPackages(module: string): Promise<string[]> {
  const script = [
    "import { createRequire } from 'node:module';",
    `await import(${JSON.stringify(`./${module}`)});`,
    'const require = createRequire(import.meta.url);',
    'const names = Object.keys(require.cache).map((k) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(k)?.[1]);',
    'console.log(JSON.stringify([...new Set(names.filter(Boolean))]));',
  ].join('\n');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: root, timeout: 120_000 },
  );
  return JSON.parse(stdout) as string[];
}

// Issue 16: validating a config opens nothing, so `config check` must not load the native serial
// binding or the microphone library.
test('the config schema and `config check` load neither serialport nor node-record-lpcm16', async () => {
  for (const module of ['src/config/schema.ts', 'src/cli/commands/config.ts']) {
    const loaded = await loadedPackages(module);
    assert.ok(!loaded.includes('serialport'), `${module} loads serialport`);
    assert.ok(!loaded.includes('node-record-lpcm16'), `${module} loads node-record-lpcm16`);
  }
});

test('the check above sees serialport once it is loaded', async () => {
  assert.ok((await loadedPackages('node_modules/serialport/dist/index.js')).includes('serialport'));
});
