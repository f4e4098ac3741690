/**
 * The composition root: the only place that wires the stages together.
 *
 *   sensors ─frames→ windows ─→ hub (bounded, drop-oldest) ─batches→ encoders ─embeddings→
 *   fusion (scoring, cross-sensor fusion, smoothing) ─observations→ tracker ─events→ MQTT publisher
 *
 * `startAgent` starts every component; `Agent.stop()` stops them in reverse order.
 */
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import type { LabelConfig } from './config/schema.js';
import { openEncoders } from './encoders/registry.js';
import type { EncoderSet } from './encoders/types.js';
import { FusionStage, type ScoreInspection } from './fusion/fusion.js';
import { buildLabelSet, type LabelSet } from './fusion/labels.js';
import { formatRanking } from './fusion/scoring.js';
import { allFinite } from './util/vectors.js';
import { EventTracker, type TrackedEvent } from './fusion/tracker.js';
import type { AgentMetrics, MetricsSummary } from './daemon/metrics.js';
import { FormatError } from './errors.js';
import { printable } from './printable.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './mqtt/embedded-broker.js';
import { openLabelState, startAgentMqtt } from './mqtt/agent-mqtt.js';
import type { EventPayload, SensorHealthPayload } from './mqtt/payloads.js';
import type { MqttPublisher } from './mqtt/publisher.js';
import { systemClock, sleep, type Clock } from './pipeline/clock.js';
import { WindowHub } from './pipeline/hub.js';
import type { SensorModality, Window } from './pipeline/types.js';
import { BufferPool, windows } from './pipeline/windows.js';
import { Backoff } from './sensors/reconnect.js';
import { sensorFrames } from './sensors/registry.js';
import type { HealthState, SensorHealth } from './sensors/types.js';

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
      const broker: EmbeddedBroker = await startEmbeddedBroker({
        port: config.mqtt.embeddedPort,
        logger: log('broker'),
      });
      cleanups.push(() => broker.close());
      brokerUrl = broker.url;
    }

    const sensors = config.sensors.filter((s) => s.enabled);
    const modalities = [...new Set(sensors.map((s) => s.modality))];
    const encoders = deps.encoders ?? (await openEncoders({ config, modalities, logger }));
    if (!deps.encoders) cleanups.push(() => encoders.close());

    // MQTT/remote labels (issue #5): a label set persisted by a remote request overrides the file's.
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
    log('labels').info(
      { labels: labelSet.labels.map((l) => l.name), hash: labelSet.hash.slice(0, 12) },
      `labels: ${labelSet.labels.length} active (${labelSet.labels.map((l) => l.name).join(', ') || 'none'})`,
    );
    for (const w of labelSet.warnings ?? []) log('labels').warn({ code: w.code, label: w.label }, w.message);
    const fusion = new FusionStage(labelSet, {
      temperature: config.scoring.temperature,
      toleranceMs: config.fusion.toleranceMs,
      weights: config.fusion.weights,
      smoothingWindows: config.scoring.smoothingWindows,
      smoothing: config.scoring.smoothing,
      keepEmbeddings: config.events.includeEmbedding,
    });
    const trackedLabels = (set: LabelSet) =>
      set.labels.map((l) => ({
        name: l.name,
        onThreshold: l.onThreshold,
        offThreshold: l.offThreshold,
        timing: l.timing,
      }));
    const tracker = new EventTracker({
      labels: trackedLabels(labelSet),
      timing: config.events,
      toWallMs: (ms) => clock.toWallMs(ms),
      includeEmbedding: config.events.includeEmbedding,
    });
    const scoresLog = log('scores');
    const inspectK = config.scoring.inspectTopK;

    // Connection, durable outbox, request/response API, discovery, health (issue #5).
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
      stats: () => ({ sensors: sensorStatus(), windows: hub.stats(), events: eventCount }),
      ...(deps.metrics?.summary ? { extraHealth: () => deps.metrics!.summary!() } : {}),
    });
    cleanups.push(() => mqtt.stop());

    let eventCount = 0;
    const emit = (events: readonly TrackedEvent[]) => {
      for (const ev of events) {
        const payload: EventPayload = mqtt.publishEvent({
          ...ev,
          deviceId: config.deviceId,
          pack: encoders.pack,
        });
        eventCount++;
        deps.metrics?.observeEvent(payload.label, payload.type);
        deps.onEvent?.(payload);
      }
    };

    // Sensor health. Drivers report state changes through onHealth (an unplugged device is reported
    // `down` and retried forever, it does not throw); replays report nothing and count as ok once
    // frames flow. A sensor that goes down is dropped from fusion at once: its last window must not
    // hold an event open or fuse into matches while it delivers nothing.
    const sensorLog = log('sensors');
    const books = new Map<string, SensorBook>(
      sensors.map((s) => [
        s.id,
        {
          modality: s.modality,
          state: 'down',
          reason: 'starting',
          frames: 0,
          rejected: 0,
          restarts: 0,
          pastRejected: 0,
          pastRestarts: 0,
          nonFinite: 0,
        },
      ]),
    );
    for (const s of sensors) deps.metrics?.setSensorHealth(s.id, false);
    const setState = (id: string, state: HealthState, rawReason: string | undefined, logIt = true) => {
      const b = books.get(id)!;
      // Reasons may quote device bytes: escaped and bounded before they reach health or the log.
      const reason = rawReason === undefined ? undefined : printable(rawReason);
      const prev = b.state;
      const prevReason = b.reason;
      if (state === prev && reason === prevReason) return;
      b.state = state;
      b.reason = reason;
      if (state === 'down') fusion.dropSensor(id);
      if (logIt) {
        const fields = { sensor: id, state, reason, restarts: b.pastRestarts + b.restarts };
        if (state === 'down' && (prev !== 'down' || prevReason === 'starting'))
          sensorLog.warn(fields, `sensor ${id} down: ${reason ?? 'no reason given'}`);
        else if (prev === 'down' && state !== 'down')
          sensorLog.info(
            fields,
            prevReason === 'starting' ? `sensor ${id} up` : `sensor ${id} back (was down: ${prevReason})`,
          );
        else if (state === 'degraded' && prev === 'ok')
          sensorLog.info(fields, `sensor ${id} degraded: ${reason ?? 'frames rejected'}`);
        else sensorLog.debug(fields, `sensor ${id} ${state}${reason ? `: ${reason}` : ''}`);
      }
      if (state !== prev) {
        deps.metrics?.setSensorHealth(id, state !== 'down');
        mqtt.sensorStateChanged();
      }
    };
    const sensorStatus = (): Record<string, SensorHealthPayload> => {
      const fresh = new Set(fusion.freshSensors());
      return Object.fromEntries(
        [...books].map(([id, b]) => [
          id,
          {
            state: b.state,
            ...(b.reason !== undefined ? { reason: b.reason } : {}),
            modality: b.modality,
            frames: b.frames,
            rejected: b.pastRejected + b.rejected,
            restarts: b.pastRestarts + b.restarts,
            ...(b.nonFinite > 0 ? { nonFinite: b.nonFinite } : {}),
            fused: fresh.has(id),
          },
        ]),
      );
    };

    // Sensors → windows → hub.
    const controller = new AbortController();
    const hub = new WindowHub({ deterministic: deps.deterministic ?? false });
    const pools = new Map<string, BufferPool>();
    for (const s of sensors) {
      const pool = new BufferPool();
      pools.set(s.id, pool);
      hub.addSensor(s.id, s.queueSize, (w) => pool.release(w.data));
    }
    const release = (w: Window) => pools.get(w.sensorId)?.release(w.data);
    const sensorTasks = sensors.map(async (s) => {
      const book = books.get(s.id)!;
      const onHealth = (h: SensorHealth) => {
        // Reports come on state or reason changes only: their counters are as of the change.
        book.rejected = h.rejected;
        book.restarts = h.restarts;
        setState(s.id, h.state, h.reason);
      };
      const onFrame = () => {
        book.frames++;
        if (book.state === 'down') setState(s.id, 'ok', undefined); // a replay, or a restarted source
      };
      const backoff = new Backoff(1000, 30_000);
      while (!controller.signal.aborted) {
        try {
          const frames = sensorFrames(s, { clock, signal: controller.signal, onHealth });
          for await (const w of windows(frames, { ...s.window, clock, pool: pools.get(s.id)!, onFrame })) {
            if (hub.deterministic) await hub.pushWhenRoom(w);
            else hub.push(w);
          }
          hub.endSensor(s.id);
          return; // the stream ended (a replay without loop)
        } catch (err) {
          if (controller.signal.aborted) return;
          // The next source starts its counters at zero: keep this one's, plus this restart.
          book.pastRejected += book.rejected;
          book.pastRestarts += book.restarts + 1;
          book.rejected = 0;
          book.restarts = 0;
          setState(s.id, 'down', (err as Error).message, false); // logged just below
          if (hub.deterministic) {
            // Evaluation: a broken recording fails the run instead of being retried forever.
            hub.endSensor(s.id);
            throw err;
          }
          if (s.driver === 'replay' && err instanceof FormatError) {
            // A malformed recording stays malformed: report it once and stop, health says down
            // with the reason, rather than reopening it (or failing every window) forever (issue 14).
            sensorLog.error(
              { sensor: s.id, file: s.file, err: err.message },
              `sensor ${s.id} stopped: ${err.message}`,
            );
            hub.endSensor(s.id);
            return;
          }
          const delayMs = backoff.next();
          sensorLog.warn(
            { sensor: s.id, err: (err as Error).message },
            `sensor ${s.id}: ${(err as Error).message}; restarting in ${delayMs} ms`,
          );
          await sleep(delayMs, controller.signal).catch(() => undefined);
        }
      }
    });
    const sensorsDone = Promise.all(sensorTasks).then(() => hub.close());

    // Hub → encoders → scores → events.
    let lastDataMs = -Infinity;
    const encoderLog = log('encoders');
    const encoderFailures = new Map<SensorModality, number>();
    const pipeline = (async () => {
      for (;;) {
        const batch = await hub.next(config.encoders.maxBatch);
        if (!batch) break;
        const modality: SensorModality = batch[0]!.modality;
        const encoder = encoders.windows.get(modality);
        if (!encoder) throw new TypeError(`no encoder for modality ${modality}`);
        let vectors: Float32Array[];
        try {
          const t0 = performance.now();
          vectors = await encoder.embed(batch);
          deps.metrics?.observeEncode(modality, encoder.provider, performance.now() - t0);
        } catch (err) {
          // Logged on the first failure and every 100th after it (a failure per batch would flood
          // the log); the batch's sensors are degraded with the reason until windows embed again.
          const failures = (encoderFailures.get(modality) ?? 0) + 1;
          encoderFailures.set(modality, failures);
          if (failures % 100 === 1)
            encoderLog.error(
              { err, modality, failures },
              `encoder ${modality} failed: ${(err as Error).message}${failures > 1 ? ` (${failures} failures so far)` : ''}`,
            );
          for (const w of batch)
            if (books.get(w.sensorId)?.state !== 'down')
              setState(
                w.sensorId,
                'degraded',
                `encoder failed: ${(err as Error).message}`.slice(0, 200),
                false,
              );
          batch.forEach(release);
          continue;
        }
        for (let i = 0; i < batch.length; i++) {
          const w = batch[i]!;
          if (!allFinite(vectors[i]!)) {
            // An encoder gave NaN or ±Infinity: drop the window and count it, so it can neither
            // score nor reach labels/test's recent windows (issue 14). Logged on the first and
            // then every 1000th, health says degraded.
            const b = books.get(w.sensorId);
            if (b) {
              b.nonFinite++;
              if (b.nonFinite % 1000 === 1)
                encoderLog.warn(
                  { sensor: w.sensorId, modality, nonFinite: b.nonFinite },
                  `encoder ${modality}: embedding of a ${w.sensorId} window has NaN or infinite values; dropped (${b.nonFinite} so far)`,
                );
              if (b.state !== 'down')
                setState(
                  w.sensorId,
                  'degraded',
                  `encoder output not finite (${b.nonFinite} windows dropped)`,
                  false,
                );
            }
            release(w);
            continue;
          }
          const book = books.get(w.sensorId);
          if (book?.state === 'degraded' && book.reason?.startsWith('encoder '))
            setState(w.sensorId, 'ok', undefined); // its windows embed again
          const fused = fusion.add(w, vectors[i]!);
          // A window queued before its sensor went down counts this once, not on and on.
          if (books.get(w.sensorId)?.state === 'down') fusion.dropSensor(w.sensorId);
          mqtt.recent.push(w.sensorId, w.modality, vectors[i]!);
          if (deps.onScores || (inspectK > 0 && scoresLog.isLevelEnabled('debug'))) {
            const inspection = fusion.inspect(w, fused.window, inspectK > 0 ? inspectK : 5);
            deps.onScores?.(inspection);
            if (inspectK > 0)
              scoresLog.debug(
                { sensor: w.sensorId, startMs: w.startMs, endMs: w.endMs, top: inspection.top },
                `${w.sensorId} ${w.startMs.toFixed(0)}-${w.endMs.toFixed(0)} ms\n${formatRanking(inspection.top)}`,
              );
          }
          for (const o of fused.observations) emit(tracker.observe(o));
          lastDataMs = Math.max(lastDataMs, w.endMs);
          release(w);
        }
      }
    })();

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
        sensors: sensorStatus(),
        windows: hub.stats(),
        events: eventCount,
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

/** What the agent knows about one sensor's health. */
interface SensorBook {
  modality: SensorModality;
  state: HealthState;
  reason: string | undefined;
  /** Frames delivered since start, counted here (a report's count is as of its state change). */
  frames: number;
  /** The running source's counters, from its last report. */
  rejected: number;
  restarts: number;
  /** Counters of sources the supervisor replaced after they threw, plus one restart per throw. */
  pastRejected: number;
  pastRestarts: number;
  /** Windows dropped because their embedding had NaN or ±Infinity. */
  nonFinite: number;
}
