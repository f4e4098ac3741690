/**
 * The composition root: the only place that wires the stages together, in named steps.
 *
 *   sensors ─frames→ windows ─→ hub (bounded, drop-oldest) ─batches→ encoders ─embeddings→
 *   fusion (scoring, cross-sensor fusion, smoothing) ─observations→ tracker ─events→ MQTT publisher
 *
 * `startAgent` starts every component; `Agent.stop()` stops them in reverse order. Supervision
 * lives in sensors/supervisor.ts, the encode loop in pipeline/encode-loop.ts (issue 16).
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import type { LabelConfig } from './config/schema.js';
import { openEncoders } from './encoders/registry.js';
import type { EncoderSet } from './encoders/types.js';
import { FusionStage, type ScoreInspection } from './fusion/fusion.js';
import { buildLabelSet, type LabelSet } from './fusion/labels.js';
import { scoreInspector } from './fusion/score-log.js';
import { EventTracker, type TrackedEvent } from './fusion/tracker.js';
import type { AgentMetrics, MetricsSummary } from './daemon/metrics.js';
import { startEmbeddedBroker } from './mqtt/embedded-broker.js';
import { openLabelState, startAgentMqtt } from './mqtt/agent-mqtt.js';
import type { EventPayload, SensorHealthPayload } from './mqtt/payloads.js';
import type { MqttPublisher } from './mqtt/publisher.js';
import { systemClock, type Clock } from './pipeline/clock.js';
import { runEncodeLoop } from './pipeline/encode-loop.js';
import { WindowHub } from './pipeline/hub.js';
import { SensorSupervisor } from './sensors/supervisor.js';

export interface AgentDeps {
  config: ResolvedConfig;
  logger: Logger;
  clock?: Clock;
  /** Encoders to use instead of opening the configured pack (tests inject a deterministic one). */
  encoders?: EncoderSet;
  /** Called with every event payload as it is published (the demo prints them). */
  onEvent?: (payload: EventPayload) => void;
  /** Called with the top-k labels of every window (score inspection; e.g. a debug topic). */
  onScores?: (inspection: ScoreInspection) => void;
  /**
   * Lossless, time-ordered window hand-out (evaluation): with several replays at speed 0 the
   * order windows arrive in is otherwise not deterministic.
   */
  deterministic?: boolean;
  /** Prometheus metrics; `edgebind run` passes one when `metrics.enabled`. */
  metrics?: AgentMetrics & { summary?(): MetricsSummary };
}

/** The event message is defined once, by `EventSchema` in mqtt/payloads.ts (issue 16). */
export type { EventPayload };

export interface AgentStats {
  /** Per enabled sensor: state, counters, and whether it counts in fusion (`sensors` on `health`). */
  sensors: Record<string, SensorHealthPayload>;
  windows: Record<string, { pushed: number; dropped: number; depth: number }>;
  events: number;
  mqtt: ReturnType<MqttPublisher['stats']>;
}

export interface Agent {
  readonly brokerUrl: string;
  /** Resolves when every sensor has finished (replays without loop) and the pipeline drained. */
  readonly done: Promise<void>;
  stats(): AgentStats;
  stop(): Promise<void>;
}

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

    // Labels: a set persisted by a remote request (issue #5) overrides the config file's.
    const labelState = openLabelState(config, log('labels'));
    const buildLabels = (labels: readonly LabelConfig[], opts: { persist?: boolean } = {}) =>
      buildLabelSet({
        labels,
        scoring: config.scoring,
        fusionMode: config.fusion.mode,
        modalities,
        text: encoders.text,
        pack: encoders.pack,
        cacheDir: join(config.stateDir, 'label-cache'),
        ...(opts.persist === false ? { persist: false } : {}),
        baseDir: dirname(config.source),
        logger: log('labels'),
      });
    const labelSet = await buildLabels(labelState.initial.labels);
    logLabelSet(log('labels'), labelSet);

    // Fusion and tracker.
    const fusion = new FusionStage(labelSet, {
      temperature: config.scoring.temperature,
      toleranceMs: config.fusion.toleranceMs,
      weights: config.fusion.weights,
      smoothingWindows: config.scoring.smoothingWindows,
      smoothing: config.scoring.smoothing,
      keepEmbeddings: config.events.includeEmbedding,
    });
    const tracker = new EventTracker({
      labels: trackedLabels(labelSet),
      timing: config.events,
      toWallMs: (ms) => clock.toWallMs(ms),
      includeEmbedding: config.events.includeEmbedding,
    });
    let lastDataMs = -Infinity;

    // Connection, durable outbox, request/response API, discovery, health (issue #5).
    const hub = new WindowHub({ deterministic: deps.deterministic ?? false });
    const mqtt = startAgentMqtt({
      config,
      brokerUrl,
      logger,
      labels: labelState,
      initialHash: labelSet.hash,
      build: buildLabels,
      apply: (set) => {
        // Both stages retarget in place rather than being rebuilt: kept labels keep their open
        // events (same id), smoothing and every sensor's latest window, so their fused score does
        // not dip at the swap; removed labels' open events get their end here, so none dangles.
        emit(tracker.retarget(trackedLabels(set), Math.max(clock.nowMs(), lastDataMs)));
        fusion.retarget(set);
      },
      stats: () => ({ sensors: supervisor.status(fusion.freshSensors()), windows: hub.stats(), events }),
      ...(deps.metrics?.summary ? { extraHealth: () => deps.metrics!.summary!() } : {}),
    });
    cleanups.push(() => mqtt.stop());

    let events = 0;
    const emit = (tracked: readonly TrackedEvent[]) => {
      for (const ev of tracked) {
        const payload: EventPayload = mqtt.publishEvent({
          ...ev,
          deviceId: config.deviceId,
          pack: encoders.pack,
        });
        events++;
        deps.metrics?.observeEvent(payload.label, payload.type);
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
      onChange: (id, state, prev) => {
        if (state === 'down') fusion.dropSensor(id);
        if (state === prev) return;
        deps.metrics?.setSensorHealth(id, state !== 'down');
        mqtt.sensorStateChanged();
      },
    });
    const controller = new AbortController();
    const sensorsDone = supervisor.run(controller.signal);

    // Hub → encoders → fusion → tracker → events.
    const inspect = scoreInspector({
      fusion,
      topK: config.scoring.inspectTopK,
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
        const fused = fusion.add(w, vector);
        // A window queued before its sensor went down counts this once, not on and on.
        if (supervisor.health.isDown(w.sensorId)) fusion.dropSensor(w.sensorId);
        mqtt.recent.push(w.sensorId, w.modality, vector);
        inspect(w, fused.window);
        for (const o of fused.observations) emit(tracker.observe(o));
        lastDataMs = Math.max(lastDataMs, w.endMs);
      },
    });

    // Unseen timeouts run on the real monotonic clock: they exist for sensors that go quiet. A
    // faster-than-real-time replay runs ahead of the clock, so they never cut its events short.
    const ticker = setInterval(() => emit(tracker.tick(clock.nowMs())), 1000);
    ticker.unref();

    const done = Promise.all([sensorsDone, pipeline]).then(() => {
      clearInterval(ticker);
      emit(tracker.flush(Math.max(clock.nowMs(), lastDataMs)));
    });
    // A failure inside the pipeline is a bug: surface it loudly rather than idle silently.
    done.catch((err: unknown) => logger.error({ err }, `pipeline stopped: ${(err as Error).message}`));

    let stopping: Promise<void> | undefined;
    return {
      brokerUrl,
      done,
      stats: () => ({
        sensors: supervisor.status(fusion.freshSensors()),
        windows: hub.stats(),
        events,
        mqtt: mqtt.publisher.stats(),
      }),
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

/** The tracker's view of a label set: names, thresholds and timing. */
function trackedLabels(set: LabelSet) {
  return set.labels.map((l) => ({
    name: l.name,
    onThreshold: l.onThreshold,
    offThreshold: l.offThreshold,
    timing: l.timing,
  }));
}

function logLabelSet(log: Logger, set: LabelSet): void {
  const names = set.labels.map((l) => l.name);
  log.info(
    { labels: names, hash: set.hash.slice(0, 12) },
    `labels: ${names.length} active (${names.join(', ') || 'none'})`,
  );
  for (const w of set.warnings ?? []) log.warn({ code: w.code, label: w.label }, w.message);
}
