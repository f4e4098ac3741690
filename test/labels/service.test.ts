/**
 * LabelService.reloadConfig: the config file's labels on SIGHUP (issue 16 item 7), and the
 * settings the set is built with (scoring, fusion, events; issue 17 item 1).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { LabelConfig } from '../../src/config/schema.js';
import { LabelService, type LabelsState } from '../../src/labels/service.js';
import type { LabelStore } from '../../src/labels/store.js';

const label = (name: string): LabelConfig => ({ name, prompts: [`a ${name}`] }) as LabelConfig;

function service(source: 'config' | 'remote', setting: { value: string } = { value: '' }) {
  const applied: { names: string[]; removed: readonly string[] }[] = [];
  const changes: LabelsState[] = [];
  const saved: unknown[] = [];
  let releaseBuild: () => void = () => undefined;
  let slow = false;
  const svc = new LabelService<{ hash: string }>({
    store: { save: (s: unknown) => saved.push(s) } as unknown as LabelStore,
    limits: { maxLabels: 10, maxPromptChars: 200 },
    build: async (labels) => {
      if (slow) await new Promise<void>((r) => (releaseBuild = r));
      if (setting.value === 'broken') throw new Error('cannot build');
      return { hash: labels.map((l) => l.name).join('+') + setting.value };
    },
    apply: (_built, labels, removed) => applied.push({ names: labels.map((l) => l.name), removed }),
    evaluate: () => ({}),
    initial: { labels: [label('alarm')], version: source === 'remote' ? 3 : 0, source, hash: 'h' },
    onChange: (current) => changes.push(current),
    logger: pino({ level: 'silent' }),
  });
  return { svc, applied, changes, saved, slowBuilds: () => (slow = true), release: () => releaseBuild() };
}

test("the config file's labels replace a config-sourced set: applied, version moves, nothing persisted", async () => {
  const s = service('config');
  assert.deepEqual(await s.svc.reloadConfig({ labels: [label('dog')] }), { labels: { applied: true } });
  assert.deepEqual(s.applied, [{ names: ['dog'], removed: ['alarm'] }]);
  const now = s.svc.current();
  assert.equal(now.source, 'config');
  assert.equal(now.version, 1);
  assert.equal(now.hash, 'dog');
  assert.equal(s.changes.length, 1);
  assert.equal(s.saved.length, 0, 'the file is the source; labels.json is for remote sets');
});

test('a set persisted by requests overrides the file, as at start: not applied, with the reason', async () => {
  const s = service('remote');
  const r = (await s.svc.reloadConfig({ labels: [label('dog')] })).labels;
  assert.equal(r?.applied, false);
  assert.match(r?.reason ?? '', /persisted by labels\/\* requests \(version 3\) overrides/);
  assert.deepEqual(s.applied, []);
  assert.deepEqual(s.svc.current().labels, [label('alarm')]);
});

test(
  'a reload and a labels/set take turns: the set started first lands first',
  { timeout: 10_000 },
  async () => {
    const s = service('config');
    s.slowBuilds();
    const set = s.svc.set({ labels: [label('cat')] });
    const reload = s.svc.reloadConfig({ labels: [label('dog')] });
    await new Promise((r) => setImmediate(r));
    s.release();
    await set;
    // The set is now persisted (remote), so the file's labels no longer apply.
    const r = await reload;
    assert.equal(r.labels?.applied, false);
    assert.deepEqual(
      s.applied.map((a) => a.names),
      [['cat']],
    );
  },
);

/** Settings the build reads, as main.ts hands them: adopted in the turn, reverted on failure. */
function settingsChange(setting: { value: string }, next: string) {
  const prev = setting.value;
  return { adopt: () => void (setting.value = next), revert: () => void (setting.value = prev) };
}

test('new settings rebuild a set persisted by requests: its labels and version stay', async () => {
  const setting = { value: '' };
  const s = service('remote', setting);
  const r = await s.svc.reloadConfig({ labels: [label('dog')], settings: settingsChange(setting, '@t40') });
  assert.equal(r.labels?.applied, false, "the persisted set still overrides the file's labels");
  assert.deepEqual(s.applied, [{ names: ['alarm'], removed: [] }], 'swapped in, nothing removed');
  const now = s.svc.current();
  assert.equal(now.hash, 'alarm@t40', 'built with the new settings');
  assert.equal(now.version, 3, 'the label list did not change');
  assert.equal(now.source, 'remote');
  assert.equal(s.changes.length, 1, 'the new hash is published');
  assert.equal(s.saved.length, 0);
});

test("new settings and the file's labels: one build, one swap, the version moves on", async () => {
  const setting = { value: '' };
  const s = service('config', setting);
  const r = await s.svc.reloadConfig({ labels: [label('dog')], settings: settingsChange(setting, '@m3') });
  assert.deepEqual(r, { labels: { applied: true } });
  assert.deepEqual(s.applied, [{ names: ['dog'], removed: ['alarm'] }]);
  assert.equal(s.svc.current().hash, 'dog@m3');
  assert.equal(s.svc.current().version, 1);
});

test('a failed build reverts the settings and leaves the running set', async () => {
  const setting = { value: '' };
  const s = service('config', setting);
  await assert.rejects(s.svc.reloadConfig({ settings: settingsChange(setting, 'broken') }), /cannot build/);
  assert.equal(setting.value, '', 'reverted');
  assert.deepEqual(s.applied, []);
  assert.equal(s.svc.current().hash, 'h');
});
