/**
 * The composition root: the only place that wires the stages together, in named steps.
 *
 *   sensors ─frames→ windows ─→ hub (bounded, drop-oldest) ─batches→ encoders ─embeddings→
 *   fusion (scoring, cross-sensor fusion, smoothing) ─observations→ tracker ─events→ MQTT publisher
 *
 * `startAgent` starts every component; `Agent.stop()` stops them in reverse order. Each stage owns
 * its state (issue 16): labels/runtime.ts the labels, sensors/supervisor.ts sensor health and
 * restarts, pipeline/encode-loop.ts the encoders' loop, fusion/event-stage.ts fusion and tracking,
 * mqtt/agent-mqtt.ts the connection and API.
 */
import type { Agent, AgentDeps, AgentStats } from './agent-types.js';
import { isSettingsKey, type LiveOutcome, type LiveSettings } from './config/live.js';
import { ClipRecorder } from './clips/recorder.js';
import { clipsDir } from './clips/store.js';
import { deviceStateDir } from './config/load.js';
import { openEncoders, TEST_PACK_NAME } from './encoders/registry.js';
import { EventStage } from './fusion/event-stage.js';
import { scoreInspector } from './fusion/score-log.js';
import { HistorySearchService } from './history/service.js';
import { HistoryWriter } from './history/writer.js';
import type { TrackedEvent } from './fusion/tracker.js';
import { startEmbeddedBroker } from './mqtt/embedded-broker.js';
import { startAgentMqtt } from './mqtt/agent-mqtt.js';
import type { EventPayload } from './mqtt/payloads.js';
import { systemClock } from './pipeline/clock.js';
import type { Frame } from './pipeline/types.js';
import { runEncodeLoop } from './pipeline/encode-loop.js';
import { WindowHub } from './pipeline/hub.js';
import { openAgentLabels } from './labels/runtime.js';
import { SensorSupervisor } from './sensors/supervisor.js';
import { packageVersion } from './util/package-version.js';
import { join } from 'node:path';

export async function startAgent(deps: AgentDeps): Promise<Agent> {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const log = (component: string) => logger.child({ component });
  const cleanups: (() => Promise<void>)[] = [];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };

  try {
    // Broker first: everything later may publish.
    let brokerUrl = config.mqtt.broker;
    if (brokerUrl === 'embedded') {
      const broker = await startEmbeddedBroker({ port: config.mqtt.embeddedPort, logger: log('broker') });
      cleanups.push(() => broker.close());
      brokerUrl = broker.url;
    }

    const sensors = config.sensors.filter((s) => s.enabled);
    const modalities = [...new Set(sensors.map((s) => s.modality))];
    const encoders = deps.encoders ?? (await openEncoders({ config, modalities, logger }));
    if (!deps.encoders) cleanups.push(() => encoders.close());

    // Scoring, fusion and events settings in effect: SIGHUP replaces them in the label service's
    // turn, and each label swap hands them to fusion and the tracker (issue 17 item 1).
    let settings: LiveSettings = { scoring: config.scoring, events: config.events, fusion: config.fusion };

    // Labels: a set persisted by a remote request (issue #5) overrides the config file's.
    const labels = await openAgentLabels({
      config,
      encoders,
      modalities,
      logger: log('labels'),
      clock,
      settings: () => settings,
      apply: (set) => emit(stage.retarget(set, settings)),
      // Both run on requests only, so after everything below exists.
      onChange: (current, removed) => {
        mqtt.labelsChanged(current, removed);
        deps.metrics?.setLabels?.(current.labels.map((l) => l.name));
      },
    });

    deps.metrics?.setBuildInfo?.({
      version: packageVersion(),
      packId: encoders.pack.id,
      packVersion: encoders.pack.version,
    });
    deps.metrics?.setLabels?.(labels.service.current().labels.map((l) => l.name));

    // Fusion and tracker.
    const stage = new EventStage({ config, labels: labels.set, clock });

    // Embedding history (issue #18): every window's embedding, written off the encode path.
    const history = openHistory();
    if (history) cleanups.push(() => history.close());

    // Connection, durable outbox, request/response API, discovery, health (issue #5).
    const hub = new WindowHub({ deterministic: deps.deterministic ?? false });
    const mqtt = startAgentMqtt({
      config,
      brokerUrl,
      logger,
      labels: labels.service,
      // history/search reads the files the writer appends to, off the event path (issue #18).
      ...(history
        ? {
            history: new HistorySearchService({
              dir: join(deviceStateDir(config), 'history'),
              encoders,
              limits: config.remote,
              logger: log('history'),
            }),
          }
        : {}),
      // events/clip reads the clip store, off the event path (issue #18).
      ...(config.clips.enabled ? { clips: { dir: clipsDir(deviceStateDir(config)) } } : {}),
      stats: () => counters(),
      ...(deps.metrics?.summary ? { extraHealth: () => deps.metrics!.summary!() } : {}),
    });
    cleanups.push(() => mqtt.stop());

    // Event clips (issue #18): raw data around each event, written off the event path. Closed
    // before the connection, so a clip finished at stop still reaches onClip.
    const clips = openClips();
    if (clips) cleanups.push(() => clips.close());

    let eventCount = 0;
    const counters = (): Omit<AgentStats, 'mqtt'> => ({
      sensors: supervisor.status(stage.freshSensors()),
      windows: hub.stats(),
      events: eventCount,
      ...(history ? { history: history.stats() } : {}),
      ...(clips ? { clips: clips.stats() } : {}),
    });
    const emit = (tracked: readonly TrackedEvent[]) => {
      for (const ev of tracked) {
        const payload: EventPayload = mqtt.publishEvent({
          ...ev,
          deviceId: config.deviceId,
          // id and version only: EventSchema's pack is strict (the logit scales are the scorer's).
          pack: { id: encoders.pack.id, version: encoders.pack.version },
          // The clip is stored under the event's id; fetchable once written (EventSchema).
          ...(clips ? { clip: ev.id } : {}),
        });
        clips?.event(payload);
        eventCount++;
        deps.metrics?.observeEvent(payload.label, payload.type, payload.score);
        deps.onEvent?.(payload);
      }
    };

    // Sensors → windows → hub. A sensor that goes down leaves fusion at once: its last window must
    // not hold an event open or fuse into matches while it delivers nothing.
    for (const s of sensors) deps.metrics?.setSensorHealth(s.id, false);
    const supervisor = new SensorSupervisor({
      sensors,
      hub,
      clock,
      logger: log('sensors'),
      ...(clips ? { onFrame: (f: Frame) => clips.frame(f) } : {}),
      onChange: (id, state, prev) => {
        if (state === 'down') stage.dropSensor(id);
        if (state === prev) return;
        deps.metrics?.setSensorHealth(id, state !== 'down');
        mqtt.sensorStateChanged();
      },
    });
    const controller = new AbortController();
    const sensorsDone = supervisor.run(controller.signal);

    // Hub → encoders → fusion → tracker → events.
    const inspect = scoreInspector({
      fusion: stage,
      topK: () => settings.scoring.inspectTopK,
      logger: log('scores'),
      ...(deps.onScores ? { onScores: deps.onScores } : {}),
    });
    const pipeline = runEncodeLoop({
      hub,
      encoders: encoders.windows,
      maxBatch: config.encoders.maxBatch,
      health: supervisor.health,
      release: (w) => supervisor.release(w),
      ...(deps.metrics ? { observeEncode: deps.metrics.observeEncode.bind(deps.metrics) } : {}),
      logger: log('encoders'),
      onEmbedding: (w, vector) => {
        const { events, window } = stage.add(w, vector);
        // A window queued before its sensor went down counts this once, not on and on.
        if (supervisor.health.isDown(w.sensorId)) stage.dropSensor(w.sensorId);
        labels.recent.push(w.sensorId, w.modality, vector);
        history?.push(w, vector);
        inspect(w, window);
        emit(events);
      },
    });

    // Unseen timeouts run on the real monotonic clock: they exist for sensors that go quiet. A
    // faster-than-real-time replay runs ahead of the clock, so they never cut its events short.
    const ticker = setInterval(() => emit(stage.tick()), 1000);
    ticker.unref();

    const done = Promise.all([sensorsDone, pipeline]).then(() => {
      clearInterval(ticker);
      emit(stage.flush());
    });
    // A failure inside the pipeline is a bug: surface it loudly rather than idle silently.
    done.catch((err: unknown) => logger.error({ err }, `pipeline stopped: ${(err as Error).message}`));

    function openHistory(): HistoryWriter | undefined {
      if (!config.history.enabled) return undefined;
      const writer = new HistoryWriter({
        dir: join(deviceStateDir(config), 'history'),
        deviceId: config.deviceId,
        pack: {
          id: encoders.pack.id,
          version: encoders.pack.version,
          dir:
            config.encoders.pack === 'test'
              ? join(config.stateDir, 'packs', TEST_PACK_NAME)
              : config.encoders.pack,
        },
        sensors: sensors.map((s) => ({ id: s.id, modality: s.modality })),
        maxAgeS: config.history.maxAgeS,
        maxBytes: config.history.maxBytes,
        ...(deps.historyFiles ? { files: deps.historyFiles } : {}),
        logger: log('history'),
      });
      writer.start();
      return writer;
    }

    function openClips(): ClipRecorder | undefined {
      if (!config.clips.enabled) return undefined;
      const recorder = new ClipRecorder({
        dir: clipsDir(deviceStateDir(config)),
        sensors: sensors.map((s) => ({ id: s.id, modality: s.modality })),
        ...config.clips,
        clock,
        logger: log('clips'),
        ...(deps.clipFiles ? { files: deps.clipFiles } : {}),
        // Home Assistant's picture of the last event, then the caller's hook.
        onClip: (info, dir) => {
          mqtt.clipWritten(info, dir);
          deps.onClip?.(info, dir);
        },
      });
      // Not awaited: nothing here may wait between the connection and the counters health reads
      // (an await let health run into them). A clips directory that cannot be made degrades
      // clips, never the agent.
      void recorder
        .start()
        .catch((err: unknown) => logger.warn({ err }, `clips: cannot start: ${(err as Error).message}`));
      return recorder;
    }

    let stopping: Promise<void> | undefined;
    return {
      brokerUrl,
      done,
      stats: () => {
        const requests = mqtt.requestCounts();
        return { ...counters(), mqtt: mqtt.publisher.stats(), ...(requests ? { requests } : {}) };
      },
      // SIGHUP (config/live.ts): the config file's labels and the settings they are built and
      // fused with, through the same swap as a labels/* request; log.level is the daemon's own.
      reconfigure: async (next, keys) => {
        const changed = keys.filter(isSettingsKey);
        const prev = settings;
        const adopted: LiveSettings = { ...prev };
        for (const key of changed) Object.assign(adopted, { [key]: next[key] });
        const result = await labels.service.reloadConfig({
          ...(keys.includes('labels') ? { labels: next.labels } : {}),
          ...(changed.length > 0
            ? { settings: { adopt: () => void (settings = adopted), revert: () => void (settings = prev) } }
            : {}),
        });
        const outcomes: LiveOutcome[] = changed.map((key) => ({ key, applied: true }));
        if (result.labels) outcomes.unshift({ key: 'labels', ...result.labels });
        return outcomes;
      },
      stop: () =>
        (stopping ??= (async () => {
          controller.abort(new Error('agent stopping'));
          hub.close();
          await done.catch(() => undefined);
          await undo();
        })()),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
