/**
 * Typed errors with stable codes. Codes are part of the public contract: they appear in logs,
 * MQTT error responses and exit statuses, so never rename one.
 */

export type ErrorCode =
  | 'CONFIG_NOT_FOUND'
  | 'CONFIG_PARSE'
  | 'CONFIG_INVALID'
  | 'PACK_INVALID'
  | 'PACK_FILE_MISSING'
  | 'PACK_CHECKSUM'
  | 'PACK_SIGNATURE'
  | 'ENCODER_FAILED'
  | 'DEVICE_FAILED'
  | 'FORMAT_INVALID'
  | 'TRANSPORT_FAILED'
  | 'STATE_LOCKED'
  | 'HISTORY_DISK_FULL'
  | 'HISTORY_WRITE_FAILED'
  | 'HISTORY_UNREADABLE'
  | 'HISTORY_EVENT_UNKNOWN'
  | 'HISTORY_REPLAY_TOO_LARGE'
  | 'CLIP_NOT_FOUND'
  | 'CLIP_FILE_NOT_FOUND'
  | 'CLIP_NAME_INVALID'
  | 'CLIP_DISK_FULL'
  | 'CLIP_WRITE_FAILED'
  | 'CLIP_EXPORT_EXISTS';

/** One problem at one place, e.g. `{ path: 'sensors[0].hopMs', message: 'must be > 0' }`. */
export interface Problem {
  path: string;
  message: string;
}

export class EdgebindError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The configuration (file, flags or a remote request) is wrong; retrying will not help. */
export class ConfigError extends EdgebindError {
  readonly problems: readonly Problem[];
  readonly file: string | undefined;
  constructor(
    code: Extract<ErrorCode, `CONFIG_${string}`>,
    message: string,
    options: { file?: string; problems?: Problem[]; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.file = options.file;
    this.problems = options.problems ?? [];
  }
}

/** A model pack is missing, corrupt or does not match its manifest. */
export class PackError extends EdgebindError {
  readonly file: string;
  constructor(code: Extract<ErrorCode, `PACK_${string}`>, file: string, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.file = file;
  }
}

/** Inference failed at run time. */
export class EncoderError extends EdgebindError {
  readonly modality: string;
  constructor(modality: string, message: string, cause?: unknown) {
    super('ENCODER_FAILED', message, { cause });
    this.modality = modality;
  }
}

/** A sensor failed; `disconnected` tells the supervisor to reopen it after a backoff. */
export class DeviceError extends EdgebindError {
  readonly sensorId: string;
  readonly disconnected: boolean;
  constructor(sensorId: string, message: string, options: { disconnected?: boolean; cause?: unknown } = {}) {
    super('DEVICE_FAILED', message, { cause: options.cause });
    this.sensorId = sensorId;
    this.disconnected = options.disconnected ?? false;
  }
}

/** A recording or frame stream is malformed. `where` names the file and offset or frame. */
export class FormatError extends EdgebindError {
  readonly where: string;
  constructor(where: string, message: string, cause?: unknown) {
    super('FORMAT_INVALID', `${where}: ${message}`, { cause });
    this.where = where;
  }
}

/** The broker connection failed. */
export class TransportError extends EdgebindError {
  constructor(message: string, cause?: unknown) {
    super('TRANSPORT_FAILED', message, { cause });
  }
}

/**
 * Another agent holds the state directory (`<stateDir>/edgebind.lock`, src/daemon/state-lock.ts);
 * two agents on one would corrupt its outbox. `holder` is unset when the lock could not be read in
 * time. Exits 1: a restart succeeds once the other agent has stopped.
 */
/** Who holds a state directory's lock: the content of `<stateDir>/edgebind.lock` (daemon/state-lock.ts). */
export interface LockOwner {
  pid: number;
  /** ISO 8601 time the holder took the lock. */
  startedAt: string;
  host: string;
  /** Linux boot id: a lock from an earlier boot is stale whatever its pid (pids repeat across boots). */
  bootId?: string;
}

export class StateLockedError extends EdgebindError {
  readonly stateDir: string;
  readonly file: string;
  readonly holder: LockOwner | undefined;
  constructor(stateDir: string, file: string, message: string, holder?: LockOwner) {
    super('STATE_LOCKED', message);
    this.stateDir = stateDir;
    this.file = file;
    this.holder = holder;
  }
}

/**
 * The embedding history (src/history/) cannot write or read its store. Writing failures degrade
 * history only, never detection: `HISTORY_DISK_FULL` (ENOSPC, EDQUOT) and `HISTORY_WRITE_FAILED`
 * (any other IO error) show on `health`; `HISTORY_UNREADABLE` is a store a search cannot read (no
 * history directory, a segment with a foreign header); `HISTORY_EVENT_UNKNOWN` an event id that
 * `history search --event` cannot find (the agent keeps events only until they are delivered);
 * `HISTORY_REPLAY_TOO_LARGE` a replay of labels over more windows than its cap allows. `file` names the file concerned.
 */
export class HistoryError extends EdgebindError {
  readonly file: string;
  constructor(code: Extract<ErrorCode, `HISTORY_${string}`>, file: string, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.file = file;
  }
}

/**
 * Event clips (src/clips/, issue #18). Reading: `CLIP_NOT_FOUND` (no clip for that event id),
 * `CLIP_FILE_NOT_FOUND` (the clip has no file of that name), `CLIP_NAME_INVALID` (an event id or
 * file name that is not a plain name, e.g. `../x`: refused before any path is built). Writing
 * degrades clips only, never detection: `CLIP_DISK_FULL` (ENOSPC, EDQUOT), `CLIP_WRITE_FAILED`
 * (any other IO error). `edgebind clips export`: `CLIP_EXPORT_EXISTS` (it never overwrites a file).
 * `file` names the file or directory concerned.
 */
export class ClipError extends EdgebindError {
  readonly file: string;
  constructor(code: Extract<ErrorCode, `CLIP_${string}`>, file: string, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.file = file;
  }
}

/**
 * Why a request on `request/<op>` was refused: the `code` of its error response, part of the MQTT
 * contract (docs/mqtt.md), so never rename one.
 */
export const REQUEST_ERROR_CODES = [
  'REQUEST_TOO_LARGE',
  'REQUEST_PARSE',
  'REQUEST_INVALID',
  'UNKNOWN_OP',
  'SIGNATURE_REQUIRED',
  'SIGNATURE_INVALID',
  'REQUEST_MISDIRECTED',
  'REQUEST_EXPIRED',
  'REQUEST_REPLAYED',
  'REPLAY_CACHE_FULL',
  // More than remote.maxPendingRequests requests waiting or running: answered at once, unread.
  'REQUEST_BUSY',
  'VERSION_CONFLICT',
  'LABELS_BUILD_FAILED',
  'PERSIST_FAILED',
  // A request naming an MQTT 5 response topic it may not use: answered on the default topic only.
  'RESPONSE_TOPIC_INVALID',
  // history/search (issue #18): history.enabled is false; the history cannot be read; the query
  // could not be embedded or the scan failed.
  'HISTORY_DISABLED',
  'HISTORY_UNREADABLE',
  'HISTORY_SEARCH_FAILED',
  // labels/test with since (a replay over the history): more windows in the range than
  // remote.maxReplayWindows; the replay failed otherwise.
  'HISTORY_REPLAY_TOO_LARGE',
  'HISTORY_REPLAY_FAILED',
  // events/clip (issue #18): clips.enabled is false; no clip for the event id; the clip has no
  // such file; an id or file name that is not a plain name (e.g. ../x); an offset past the file's
  // end; a clip that cannot be read (IO error).
  'CLIPS_DISABLED',
  'CLIP_NOT_FOUND',
  'CLIP_FILE_NOT_FOUND',
  'CLIP_NAME_INVALID',
  'CLIP_OFFSET_INVALID',
  'CLIP_UNREADABLE',
] as const;
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];

/**
 * A request is refused whole: the envelope (mqtt/requests.ts) or the label rules
 * (labels/service.ts) found `problems`, each at a JSON path (`$.labels[0].name`).
 */
export class RequestError extends Error {
  readonly code: RequestErrorCode;
  readonly problems: Problem[];
  constructor(code: RequestErrorCode, message: string, problems: Problem[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RequestError';
    this.code = code;
    this.problems = problems;
  }
}

/** Process exit statuses. systemd's unit excludes EXIT_CONFIG from restarts. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

/** Config and pack errors cannot heal by restarting; everything else may. */
export function exitCodeFor(err: unknown): number {
  // An event id or file name that is not a plain name is the caller's mistake, like bad config.
  const badName = err instanceof ClipError && err.code === 'CLIP_NAME_INVALID';
  return err instanceof ConfigError || err instanceof PackError || badName ? EXIT_CONFIG : EXIT_FAILURE;
}
