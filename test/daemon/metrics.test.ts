/** Prometheus metrics: what a scrape of 127.0.0.1 returns and what summary() reports. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics, type StatsInput } from '../../src/daemon/metrics.js';

const stats = (pushed: number, dropped: number, connected: boolean): StatsInput => ({
  windows: { mic: { pushed, dropped, depth: 2 } },
  mqtt: { connected, outboxDepth: 3, published: pushed, dropped: 0 },
});

test('scrape on loopback: windows, rates, drops, encoder latency, events, outbox, broker state', async () => {
  let now = 0;
  const m = new Metrics({ port: 0, processMetrics: false, nowMs: () => now });
  const url = await m.listen();
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    m.setStats(stats(10, 1, false));
    now = 2000;
    m.setStats(stats(30, 4, true));
    m.observeEncode('audio', 'cuda', 12);
    m.observeEncode('audio', 'cuda', 8);
    m.observeEvent('alarm', 'start');
    m.setSensorHealth('mic', false);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /^edgebind_windows_total\{sensor="mic"\} 30$/m);
    assert.match(body, /^edgebind_windows_dropped_total\{sensor="mic"\} 4$/m);
    assert.match(body, /^edgebind_windows_per_second\{sensor="mic"\} 10$/m);
    assert.match(body, /^edgebind_encode_seconds_count\{modality="audio",provider="cuda"\} 2$/m);
    assert.match(body, /^edgebind_events_total\{label="alarm",type="start"\} 1$/m);
    assert.match(body, /^edgebind_mqtt_outbox_depth 3$/m);
    assert.match(body, /^edgebind_mqtt_connected 1$/m);
    assert.match(body, /^edgebind_sensor_up\{sensor="mic"\} 0$/m);
    assert.equal((await fetch(url.replace('/metrics', '/nope'))).status, 404);
    assert.deepEqual(m.summary(), {
      sensors: {
        mic: { windowsPerSecond: 10, windowsTotal: 30, droppedTotal: 4, queueDepth: 2, healthy: false },
      },
      encoders: { audio: { provider: 'cuda', batches: 2, meanMs: 10, maxMs: 12 } },
      events: { alarm: 1 },
      mqtt: { connected: true, outboxDepth: 3, published: 30, dropped: 0 },
    });
  } finally {
    await m.close();
  }
});

test('two instances do not share a registry', async () => {
  const a = new Metrics({ processMetrics: false });
  const b = new Metrics({ processMetrics: true });
  a.observeEvent('x');
  assert.match(await a.text(), /edgebind_events_total\{label="x",type="start"\} 1/);
  assert.doesNotMatch(await b.text(), /label="x"/);
  assert.match(
    await b.text(),
    /edgebind_process_resident_memory_bytes|edgebind_nodejs_heap_size_total_bytes/,
  );
});

test('per-label active and score gauges follow events and the label set; build_info names version and pack', async () => {
  const m = new Metrics({ processMetrics: false });
  const line = async (re: RegExp) => re.exec(await m.text())?.[1];
  m.setBuildInfo({ version: '1.2.3', packId: 'mini', packVersion: '0.4' });
  assert.equal(
    await line(/^edgebind_build_info\{version="1\.2\.3",pack_id="mini",pack_version="0\.4"\} (\d+)$/m),
    '1',
  );
  m.setLabels(['smoke', 'dog']);
  // Present at 0 before any event, so an alert rule sees the series from the start.
  assert.equal(await line(/^edgebind_label_active\{label="smoke"\} (\S+)$/m), '0');
  assert.equal(await line(/^edgebind_label_score\{label="dog"\} (\S+)$/m), '0');
  m.observeEvent('smoke', 'start', 0.71);
  assert.equal(await line(/^edgebind_label_active\{label="smoke"\} (\S+)$/m), '1');
  assert.equal(await line(/^edgebind_label_score\{label="smoke"\} (\S+)$/m), '0.71');
  m.observeEvent('smoke', 'update', 0.9);
  assert.equal(await line(/^edgebind_label_score\{label="smoke"\} (\S+)$/m), '0.9');
  m.observeEvent('smoke', 'end', 0.2);
  assert.equal(await line(/^edgebind_label_active\{label="smoke"\} (\S+)$/m), '0');
  assert.equal(await line(/^edgebind_label_score\{label="smoke"\} (\S+)$/m), '0');
  // A removed label's series go; the others stay.
  m.setLabels(['smoke']);
  const text = await m.text();
  assert.doesNotMatch(text, /label="dog"/);
  assert.match(text, /^edgebind_label_active\{label="smoke"\} 0$/m);
  // A new pack replaces the build_info series instead of adding one.
  m.setBuildInfo({ version: '1.2.3', packId: 'mini', packVersion: '0.5' });
  assert.equal((await m.text()).match(/^edgebind_build_info\{/gm)?.length, 1);
});

test('history and clips: written and lost counters follow the totals, degraded and bytes gauges', async () => {
  const m = new Metrics({ port: 0, processMetrics: false });
  const url = await m.listen();
  const withStores = (written: number, lost: number, state: 'ok' | 'degraded'): StatsInput => ({
    ...stats(0, 0, true),
    history: { state, written, dropped: lost, bytes: 1000 + written },
    clips: { state: 'ok', written: written / 10, failed: lost, dropped: 1, bytes: 5000 },
  });
  try {
    m.setStats(withStores(100, 0, 'ok'));
    m.setStats(withStores(250, 3, 'degraded'));
    const body = await (await fetch(url)).text();
    assert.match(body, /^edgebind_store_written_total\{store="history"\} 250$/m);
    assert.match(body, /^edgebind_store_lost_total\{store="history"\} 3$/m);
    assert.match(body, /^edgebind_store_degraded\{store="history"\} 1$/m);
    assert.match(body, /^edgebind_store_bytes\{store="history"\} 1250$/m);
    assert.match(body, /^edgebind_store_written_total\{store="clips"\} 25$/m);
    assert.match(body, /^edgebind_store_lost_total\{store="clips"\} 4$/m, 'failed + dropped');
    assert.match(body, /^edgebind_store_degraded\{store="clips"\} 0$/m);
  } finally {
    await m.close();
  }
});

test('requests: answered ok and refused by code, as counters that follow the totals', async () => {
  const m = new Metrics({ port: 0, processMetrics: false });
  const url = await m.listen();
  try {
    m.setStats({ ...stats(0, 0, true), requests: { ok: 2, refused: { REQUEST_BUSY: 1 } } });
    m.setStats({
      ...stats(0, 0, true),
      requests: { ok: 5, refused: { REQUEST_BUSY: 4, SIGNATURE_INVALID: 1 } },
    });
    const body = await (await fetch(url)).text();
    assert.match(body, /^edgebind_requests_total\{result="ok"\} 5$/m);
    assert.match(body, /^edgebind_requests_total\{result="REQUEST_BUSY"\} 4$/m);
    assert.match(body, /^edgebind_requests_total\{result="SIGNATURE_INVALID"\} 1$/m);
  } finally {
    await m.close();
  }
});
