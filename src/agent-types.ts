/**
 * What the composition root (main.ts) takes and hands back: its dependencies, the running agent
 * and its counters. Kept apart so that the CLI's lifecycle and the evaluation know an Agent
 * without reading the wiring.
 */
import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import type { LiveReconfigurable } from './config/live.js';
import type { AgentMetrics, MetricsSummary } from './daemon/metrics.js';
import type { EncoderSet } from './encoders/types.js';
import type { ClipFiles, ClipStats } from './clips/recorder.js';
import type { ClipInfo } from './clips/store.js';
import type { HistoryFiles, HistoryStats } from './history/writer.js';
import type { ScoreInspection } from './fusion/fusion.js';
import type { EventPayload, RequestCounts, SensorHealthPayload } from './mqtt/payloads.js';
import type { MqttPublisher } from './mqtt/publisher.js';
import type { Clock } from './pipeline/clock.js';

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
  /** The history writer's file calls (tests inject a full disk where no tmpfs can be mounted). */
  historyFiles?: HistoryFiles;
  /** The clip recorder's file calls (tests inject a full disk, as for the history). */
  clipFiles?: ClipFiles;
  /**
   * Called once an event's clip is on disk (issue #18), with its info and the clips directory
   * (`clipsDir`): e.g. the MQTT layer publishes its picture. Runs off the event path; what it
   * throws is logged and ignored.
   */
  onClip?: (info: ClipInfo, dir: string) => void;
  /** Prometheus metrics; `edgebind run` passes one when `metrics.enabled`. */
  metrics?: AgentMetrics & { summary?(): MetricsSummary };
}

export interface AgentStats {
  /** Per enabled sensor: state, counters, and whether it counts in fusion (`sensors` on `health`). */
  sensors: Record<string, SensorHealthPayload>;
  windows: Record<string, { pushed: number; dropped: number; depth: number }>;
  events: number;
  /** The embedding history's writer; absent when `history.enabled` is false. */
  history?: HistoryStats;
  /** Event clips' recorder; absent when `clips.enabled` is false. */
  clips?: ClipStats;
  mqtt: ReturnType<MqttPublisher['stats']>;
  /** Requests answered since start; absent when `remote.enabled` is false. */
  requests?: RequestCounts;
}

/** A running agent; SIGHUP's live keys it owns (config/live.ts) go through `reconfigure`. */
export interface Agent extends LiveReconfigurable {
  readonly brokerUrl: string;
  /** Resolves when every sensor has finished (replays without loop) and the pipeline drained. */
  readonly done: Promise<void>;
  stats(): AgentStats;
  stop(): Promise<void>;
}
