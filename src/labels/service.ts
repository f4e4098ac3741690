/**
 * The label service: the typed operations behind labels/get, test, set and patch (issue 16 item 3;
 * the request envelope — size, JSON, target, signature, replay, schema — is mqtt/requests.ts).
 * It applies the label rules (limits, duplicates, patch semantics, versions), computes the new
 * set's embeddings, persists it crash-safely with the next version, and only then swaps it into
 * the running scorer and tracker. A bad request is refused whole (every problem with its JSON
 * path, as a RequestError) and the old set keeps running. The router calls one op at a time.
 */
import type { Logger } from 'pino';
import type { LabelConfig, RemoteConfig } from '../config/schema.js';
import { ConfigError, RequestError, type Problem } from '../errors.js';
import type { LabelWarning } from './coverage.js';
import type { LabelStore, StoredLabels } from './store.js';

export type LabelLimits = Pick<RemoteConfig, 'maxLabels' | 'maxPromptChars'>;

/** The running label set as `labels` (retained) and labels/get carry it. */
export interface LabelsState {
  version: number;
  hash: string;
  /** `config` (the file) or `remote` (set over MQTT and persisted in stateDir). */
  source: 'config' | 'remote';
  updatedAt: string;
  labels: LabelConfig[];
}

/**
 * labels/test: a candidate set scored against the recent windows or, with `since`, replayed over
 * the embedding history (issue #18).
 */
export interface TestLabels {
  labels: LabelConfig[];
  since?: string | undefined;
  until?: string | undefined;
  sensors?: string[] | undefined;
}

/** labels/set: the complete new set, applied only at `ifVersion` when given. */
export interface SetLabels {
  labels: LabelConfig[];
  ifVersion?: number | undefined;
}

/** labels/patch: add new names, replace or remove existing ones. */
export interface PatchLabels {
  add?: LabelConfig[] | undefined;
  replace?: LabelConfig[] | undefined;
  remove?: string[] | undefined;
  ifVersion?: number | undefined;
}

/** What a SIGHUP hands the label service (LabelService.reloadConfig). */
export interface ConfigReload {
  /** The config file's labels, when they changed. */
  labels?: LabelConfig[] | undefined;
  /** Settings that `build` and `apply` read changed: `adopt` makes them current, `revert` undoes it. */
  settings?: { adopt(): void; revert(): void } | undefined;
}

/** What an operation answers: the response's `data` and the coverage warnings of its set. */
export interface LabelOpResult {
  data: unknown;
  warnings: readonly LabelWarning[];
}

/** The operations the request router's op table calls. */
export interface LabelOps {
  current(): LabelsState;
  get(): LabelOpResult;
  test(req: TestLabels): Promise<LabelOpResult>;
  set(req: SetLabels): Promise<LabelOpResult>;
  patch(req: PatchLabels): Promise<LabelOpResult>;
}

export interface LabelServiceDeps<T> {
  store: LabelStore;
  limits: LabelLimits;
  /**
   * Computes embeddings for a label set (may throw ConfigError with problems); `persist: false`
   * (labels/test) keeps them out of the disk cache.
   */
  build(labels: readonly LabelConfig[], opts?: { persist?: boolean }): Promise<T>;
  /** Swaps a built set into the running pipeline; `removed` names labels that are gone. */
  apply(built: T, labels: readonly LabelConfig[], removed: readonly string[]): void;
  /** Scores a built candidate set against recent windows (labels/test). */
  evaluate(built: T, labels: readonly LabelConfig[]): unknown;
  /**
   * Replays a built candidate set over the history (labels/test with since or until or sensors);
   * throws RequestError (HISTORY_DISABLED where the agent keeps none). Absent: HISTORY_DISABLED.
   */
  replay?(built: T, req: Omit<TestLabels, 'labels'>): Promise<unknown>;
  /** The label set the agent started with. */
  initial: { labels: LabelConfig[]; version: number; source: 'config' | 'remote'; hash: string };
  /** Called after each applied change (publish retained labels, discovery). */
  onChange?(current: LabelsState, removed: readonly string[]): void;
  logger: Logger;
  now?: () => Date;
}

/** Turns a persisted or configured label list into the first state, logging which one won. */
export function initialLabels(
  store: LabelStore,
  configLabels: LabelConfig[],
  logger: Logger,
): { labels: LabelConfig[]; version: number; source: 'config' | 'remote'; hash: string } {
  let stored: StoredLabels | undefined;
  try {
    stored = store.load();
  } catch (err) {
    logger.error(
      { file: store.file, err: (err as Error).message },
      `labels: cannot use ${store.file} (${(err as Error).message}); using the config file's labels`,
    );
  }
  if (stored) {
    logger.info(
      { file: store.file, version: stored.version, labels: stored.labels.map((l) => l.name) },
      `labels: using ${stored.labels.length} labels set remotely (version ${stored.version}, ${store.file}); they override the config file's labels`,
    );
    return { labels: stored.labels, version: stored.version, source: 'remote', hash: stored.hash };
  }
  return { labels: configLabels, version: 0, source: 'config', hash: '' };
}

export class LabelService<
  T extends { hash: string; warnings?: readonly LabelWarning[] },
> implements LabelOps {
  private state: LabelsState;
  private readonly now: () => Date;
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: LabelServiceDeps<T>) {
    this.now = deps.now ?? (() => new Date());
    const { initial } = deps;
    this.state = {
      version: initial.version,
      hash: initial.hash,
      source: initial.source,
      updatedAt: this.now().toISOString(),
      labels: initial.labels,
    };
  }

  /** Records the hash of the running set (known once it is built). */
  setInitialHash(hash: string): void {
    this.state = { ...this.state, hash };
  }

  current(): LabelsState {
    return this.state;
  }

  get(): LabelOpResult {
    return { data: this.state, warnings: [] };
  }

  /**
   * Scores a candidate set against recent windows, or replays it over the history when the request
   * names a range; never applied, nothing written (issue 14, issue #18).
   */
  async test(req: TestLabels): Promise<LabelOpResult> {
    const { labels, ...range } = req;
    refuse('labels/test', this.labelProblems(labels, '$.labels', labels));
    const history = range.since !== undefined || range.until !== undefined || range.sensors !== undefined;
    if (history && !this.deps.replay)
      throw new RequestError('HISTORY_DISABLED', 'this device keeps no history (history.enabled is false)', [
        { path: '$.since', message: 'history.enabled is false in the agent config' },
      ]);
    const built = await this.buildAt(labels, { persist: false });
    const result = history ? await this.deps.replay!(built, range) : this.deps.evaluate(built, labels);
    return { data: { hash: built.hash, result }, warnings: built.warnings ?? [] };
  }

  set(req: SetLabels): Promise<LabelOpResult> {
    return this.inTurn(async () => {
      this.checkVersion(req.ifVersion);
      const { labels } = req;
      refuse('labels/set', this.labelProblems(labels, '$.labels', labels));
      return this.commit(labels);
    });
  }

  patch(req: PatchLabels): Promise<LabelOpResult> {
    return this.inTurn(() => this.patchNow(req));
  }

  /**
   * SIGHUP (issue 16 item 7, issue 17 item 1), in one turn with the requests. `settings` the set
   * is built and fused with changed (scoring, fusion, events): they are adopted, then the running
   * set is rebuilt and swapped in through `apply` as a request's would be, and reverted if that
   * build fails. The config file's `labels` replace the running set as at start: only while no
   * set persisted by labels/* requests overrides the file's (that set is then rebuilt with the
   * new settings, keeping its labels). Nothing is persisted; a new label list moves the version
   * on so that an `ifVersion` taken before sees the change, new settings alone do not.
   */
  reloadConfig(change: ConfigReload): Promise<{ labels?: { applied: boolean; reason?: string } }> {
    return this.inTurn(async () => {
      const remote = this.state.source === 'remote';
      const labels = change.labels === undefined ? undefined : remote ? undefined : change.labels;
      const outcome =
        change.labels === undefined
          ? {}
          : remote
            ? {
                labels: {
                  applied: false,
                  reason: `the label set persisted by labels/* requests (version ${this.state.version}) overrides the config file's labels`,
                },
              }
            : { labels: { applied: true } };
      if (labels === undefined && !change.settings) return outcome;
      change.settings?.adopt();
      let built: T;
      try {
        built = await this.deps.build(labels ?? this.state.labels);
      } catch (err) {
        change.settings?.revert();
        throw err;
      }
      if (labels !== undefined) this.swap(built, labels, 'config');
      else this.rebuilt(built);
      return outcome;
    });
  }

  /** Set, patch and a config reload change the set one at a time (a SIGHUP is no request). */
  private inTurn<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async patchNow(req: PatchLabels): Promise<LabelOpResult> {
    this.checkVersion(req.ifVersion);
    const { add, replace, remove } = req;
    if (!add?.length && !replace?.length && !remove?.length) {
      // Nothing to change: answered ok with the current version, which does not move (issue 14).
      const names = this.state.labels.map((l) => l.name);
      return {
        data: { version: this.state.version, hash: this.state.hash, labels: names, added: [], removed: [] },
        warnings: [],
      };
    }
    const { labels, origin } = this.patched(req);
    return this.commit(labels, origin);
  }

  private checkVersion(ifVersion: unknown): void {
    if (typeof ifVersion === 'number' && ifVersion !== this.state.version) {
      throw new RequestError(
        'VERSION_CONFLICT',
        `label set is at version ${this.state.version}, not ${ifVersion}`,
        [{ path: '$.ifVersion', message: `current version is ${this.state.version}` }],
      );
    }
  }

  /**
   * The patched set, and where each of its labels came from in the request (`$.add[0]`), so that a
   * problem found later, when the set is built, is reported there (issue 17 item 10).
   */
  private patched(req: PatchLabels): { labels: LabelConfig[]; origin: (index: number) => string } {
    const problems: Problem[] = [];
    const byName = new Map(this.state.labels.map((l) => [l.name, l]));
    const from = new Map<string, string>();
    (req.remove ?? []).forEach((name, i) => {
      if (!byName.delete(name)) problems.push({ path: `$.remove[${i}]`, message: `no label "${name}"` });
    });
    (req.replace ?? []).forEach((l, i) => {
      if (!byName.has(l.name))
        problems.push({ path: `$.replace[${i}].name`, message: `no label "${l.name}"` });
      else {
        byName.set(l.name, l);
        from.set(l.name, `$.replace[${i}]`);
      }
    });
    (req.add ?? []).forEach((l, i) => {
      if (byName.has(l.name))
        problems.push({ path: `$.add[${i}].name`, message: `label "${l.name}" exists` });
      else {
        byName.set(l.name, l);
        from.set(l.name, `$.add[${i}]`);
      }
    });
    const labels = [...byName.values()];
    // Every problem at once, the names' and the labels' own (docs/mqtt.md promises all).
    problems.push(
      ...this.labelProblems(req.add ?? [], '$.add', labels, false),
      ...this.labelProblems(req.replace ?? [], '$.replace', labels, false),
    );
    if (labels.length > this.deps.limits.maxLabels)
      problems.push({
        path: '$',
        message: `${labels.length} labels after the patch, more than remote.maxLabels (${this.deps.limits.maxLabels})`,
      });
    refuse('labels/patch', problems);
    return { labels, origin: (k) => from.get(labels[k]!.name) ?? `$.labels[${k}]` };
  }

  /**
   * Limits and cross-field rules on `given` (reported under `at`); with `count`, the number of
   * labels in `result` too.
   */
  private labelProblems(
    given: readonly LabelConfig[],
    at: string,
    result: readonly LabelConfig[],
    count = true,
  ): Problem[] {
    const { maxLabels, maxPromptChars } = this.deps.limits;
    const problems: Problem[] = [];
    if (count && result.length > maxLabels)
      problems.push({
        path: at,
        message: `${result.length} labels, more than remote.maxLabels (${maxLabels})`,
      });
    const seen = new Set<string>();
    given.forEach((l, i) => {
      if (seen.has(l.name))
        problems.push({ path: `${at}[${i}].name`, message: `duplicate label "${l.name}"` });
      seen.add(l.name);
      l.prompts.forEach((p, j) => {
        if (p.length > maxPromptChars)
          problems.push({
            path: `${at}[${i}].prompts[${j}]`,
            message: `longer than remote.maxPromptChars (${maxPromptChars})`,
          });
      });
      if (l.offThreshold !== undefined && l.threshold !== undefined && l.offThreshold > l.threshold)
        problems.push({ path: `${at}[${i}].offThreshold`, message: 'must not exceed threshold' });
      const examples = (l as { examples?: { file?: string }[] }).examples ?? [];
      examples.forEach((ex, j) => {
        // A remote request must not make the agent read local files.
        if (ex.file !== undefined)
          problems.push({
            path: `${at}[${i}].examples[${j}].file`,
            message:
              "not allowed remotely (the agent reads no local files); send the prototype file's content as `prototype`, or `base64` with `modality`",
          });
      });
    });
    return problems;
  }

  /**
   * Builds a set; a ConfigError of the build (its paths `labels[k]…` into the set) becomes
   * LABELS_BUILD_FAILED with each path where that label came from in the request.
   */
  private async buildAt(
    labels: readonly LabelConfig[],
    opts: { persist?: boolean } = {},
    origin: (index: number) => string = (k) => `$.labels[${k}]`,
  ): Promise<T> {
    try {
      return await this.deps.build(labels, opts);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const problems = err.problems.map((p) => {
        const m = /^labels\[(\d+)\](.*)$/.exec(p.path);
        return {
          path: m ? `${origin(Number(m[1]))}${m[2]}` : p.path ? `$.${p.path}` : '$',
          message: p.message,
        };
      });
      throw new RequestError('LABELS_BUILD_FAILED', err.message, problems, { cause: err });
    }
  }

  /** Embeddings first, then persist (next version), then swap. Any failure leaves all as it was. */
  private async commit(labels: LabelConfig[], origin?: (index: number) => string): Promise<LabelOpResult> {
    const built = await this.buildAt(labels, {}, origin);
    const version = this.state.version + 1;
    const next: LabelsState = {
      version,
      hash: built.hash,
      source: 'remote',
      updatedAt: this.now().toISOString(),
      labels,
    };
    try {
      this.deps.store.save({ version, hash: built.hash, updatedAt: next.updatedAt, labels });
    } catch (err) {
      throw new RequestError('PERSIST_FAILED', `cannot persist labels: ${(err as Error).message}`, [
        { path: '$', message: (err as Error).message },
      ]);
    }
    const { added, removed } = this.swap(built, labels, 'remote', next);
    return {
      data: { version, hash: built.hash, labels: labels.map((l) => l.name), added, removed },
      warnings: built.warnings ?? [],
    };
  }

  /** The running labels, rebuilt with new settings: swapped in at the same version. */
  private rebuilt(built: T): void {
    this.deps.apply(built, this.state.labels, []);
    const changed = built.hash !== this.state.hash;
    this.state = { ...this.state, hash: built.hash };
    this.deps.logger.info(
      { version: this.state.version, hash: built.hash.slice(0, 12) },
      `labels: version ${this.state.version} rebuilt with the new settings (${this.state.labels.length} labels)`,
    );
    if (changed) this.deps.onChange?.(this.state, []);
  }

  /** Swaps a built set into the pipeline, then tells onChange and the log. */
  private swap(
    built: T,
    labels: LabelConfig[],
    source: LabelsState['source'],
    next: LabelsState = {
      version: this.state.version + 1,
      hash: built.hash,
      source,
      updatedAt: this.now().toISOString(),
      labels,
    },
  ): { added: string[]; removed: string[] } {
    const newNames = new Set(labels.map((l) => l.name));
    const removed = this.state.labels.map((l) => l.name).filter((n) => !newNames.has(n));
    const added = labels.map((l) => l.name).filter((n) => !this.state.labels.some((l) => l.name === n));
    this.deps.apply(built, labels, removed);
    this.state = next;
    const { version } = next;
    this.deps.logger.info(
      { version, hash: built.hash.slice(0, 12), added, removed, source },
      `labels: version ${version} applied (${labels.length} labels; +${added.length} -${removed.length})`,
    );
    this.deps.onChange?.(next, removed);
    for (const w of built.warnings ?? []) this.deps.logger.warn({ code: w.code, label: w.label }, w.message);
    return { added, removed };
  }
}

/** Refuses a request with all its problems, worded alike for every op. */
function refuse(op: string, problems: readonly Problem[]): void {
  if (problems.length > 0)
    throw new RequestError('REQUEST_INVALID', `invalid ${op} request: ${problems.length} problem(s)`, [
      ...problems,
    ]);
}
