/**
 * Durable, bounded outbox for events: an append-only segment log in `dir`.
 *
 * Why a log and not one file per event: an event is one small `write(2)` appended to `events.log`
 * (no file creation, no directory fsync per event), and one `fdatasync` covers every record
 * appended since the last one.
 *
 * Group commit (issue #19): `append()` only writes; `commitSoon()` starts an fdatasync on libuv's
 * thread pool at most `commitDelayMs` later, off the event loop, and every record appended before
 * it started is committed when it completes (`committedSeq`, then the `onCommit` listeners).
 * Records appended while an fdatasync runs share the next one, so bursts are batched and the
 * encode path never waits for the disk. The publisher sends only committed records: an event is
 * on disk before it is published.
 * A record is removed only once the broker acknowledged it (PUBACK) or it was dropped by a bound;
 * removal advances a watermark (`removed` seq) kept in `events.ack`. When the removed prefix grows,
 * the log is compacted (rewritten atomically, or truncated in place once nothing in it is still
 * pending). After kill -9 the log is read back, a torn last line is cut off, and everything above
 * the watermark is replayed. Sequence numbers are assigned here, so they survive restarts: the next
 * seq is one above the highest seq ever recorded (`events.ack` also records the highest seq given
 * out, so seqs are not reused even for events that never reached the log).
 *
 * A full or failing state disk never throws out of here (issue #14): a record the log refuses
 * (ENOSPC, EDQUOT, EIO, a short write) is kept in memory, within the same bounds, and written once
 * the disk takes writes again (retried at most every `retryMs`); the outbox reports itself
 * degraded meanwhile (`stats().diskError`). Nothing here needs free space to start: start-up
 * compaction is skipped when it fails, a torn tail is cut with ftruncate, and temp files left by
 * an earlier failed compaction are removed. The in-memory queue is what gets published, so events
 * flow to a connected broker whatever the disk does; only a crash while records are held in memory
 * loses those (they are counted in `stats().unwritten` while it lasts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { nodeFiles, writeAll, writeFileAtomic, type FileLayer } from '../util/durable-file.js';

export interface OutboxOptions {
  dir: string;
  /** Most bytes of pending records; beyond that the oldest are dropped and counted. */
  maxBytes: number;
  /** Most pending records; beyond that the oldest are dropped and counted. */
  maxRecords: number;
  /** Records older than this are dropped (0 = no age limit). */
  maxAgeMs: number;
  /** Wall clock in ms (injected in tests). */
  now?: () => number;
  /** Compact once this many bytes of removed records sit in the log. Default 1 MiB. */
  compactBytes?: number;
  /** After a failed write, try the disk again at most this often (ms). Default 1000. */
  retryMs?: number;
  /**
   * Group commit: the longest an appended record waits before the fdatasync that covers it starts
   * (`mqtt.outboxCommitDelayMs`). Default 1; 0 starts it on the next turn of the event loop.
   */
  commitDelayMs?: number;
  /** File calls; default node:fs. Tests inject faults (ENOSPC) through it. */
  files?: FileLayer;
  /** Warnings when the disk fails and recovers; default silent. */
  logger?: Logger;
}

export interface OutboxRecord {
  readonly seq: number;
  /** Wall time the record was appended, ms. */
  readonly t: number;
  /** The serialised message (JSON with `seq`). */
  readonly payload: string;
  readonly bytes: number;
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  /**
   * Events lost: dropped by a bound before they were ever sent (each one is a gap in `seq`).
   * `droppedAge + droppedSize`.
   */
  dropped: number;
  droppedAge: number;
  droppedSize: number;
  /**
   * Events dropped by a bound after they had been sent without a PUBACK yet (e.g. in flight when
   * the connection dropped): the broker most likely has them, so they are not in `dropped`.
   */
  droppedUnconfirmed: number;
  /** Pending events held only in memory because the state disk refused them. */
  unwritten: number;
  /** Why the state disk is failing (e.g. `ENOSPC: no space left on device, write`); undefined when ok. */
  diskError: string | undefined;
}

const LOG = 'events.log';
const ACK = 'events.ack';
/** Compaction that failed is tried again no sooner than this. */
const COMPACT_RETRY_MS = 60_000;

interface PendingRecord extends OutboxRecord {
  /** Handed to the broker at least once (on any connection). */
  sent: boolean;
}

export class DurableOutbox {
  private readonly pending: PendingRecord[] = [];
  private readonly acked = new Set<number>();
  private readonly files: FileLayer;
  private readonly logFile: string;
  private readonly ackFile: string;
  private fd: number | undefined;
  private ackFd: number | undefined;
  /** Bytes of complete lines in the log: a failed append is cut back to this. */
  private logBytes = 0;
  /** The log may end in a fragment we could not cut off: the next line starts with a newline. */
  private tornTail = false;
  /** The newest `unwritten` pending records are not in the log (the disk refused them). */
  private unwritten = 0;
  private removed = 0;
  private nextSeq = 1;
  /** Highest seq recorded in `events.ack` (or in the log) so far. */
  private durableMaxSeq = 0;
  /** `events.ack` lags behind `removed` / `nextSeq` (a write failed). */
  private watermarkDirty = false;
  private bytes = 0;
  private deadBytes = 0;
  private unsynced = false;
  private droppedAge = 0;
  private droppedSize = 0;
  private droppedUnconfirmed = 0;
  /** The last disk failure; reported while the outbox is degraded. */
  private lastError: string | undefined;
  /** A warning went out and no recovery line yet. */
  private faultLogged = false;
  private nextRetryMs = 0;
  private nextCompactMs = 0;
  private closed = false;
  private readonly now: () => number;
  /** Highest seq that may be published: covered by a completed fdatasync (see `committedSeq`). */
  private committed = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  /** An fdatasync runs on the thread pool; its fd must stay open until it completes. */
  private syncing = false;
  /** Another commit was asked for while one was running. */
  private commitAgain = false;
  private readonly closeAfterSync: number[] = [];
  private readonly commitListeners: (() => void)[] = [];

  constructor(private readonly opts: OutboxOptions) {
    this.now = opts.now ?? Date.now;
    this.files = opts.files ?? nodeFiles;
    this.logFile = join(opts.dir, LOG);
    this.ackFile = join(opts.dir, ACK);
    if (this.attempt('create the outbox directory', () => this.files.mkdir(opts.dir))) {
      this.removeTemps();
      this.load();
    }
    this.openFiles();
    // Start each run with a compacted log when that is possible; never required.
    if (this.deadBytes > 0) this.compact();
  }

  /** Seq the next appended record gets. */
  get peekSeq(): number {
    return this.nextSeq;
  }

  /**
   * Assigns the next seq, serialises `make(seq)` and appends it to the log (written to the OS
   * before this returns, so it survives the process being killed). When the disk refuses it the
   * record is kept in memory and written later; this never throws for a disk fault.
   */
  append(make: (seq: number) => string): OutboxRecord {
    const seq = this.nextSeq++;
    const payload = make(seq);
    const rec: PendingRecord = {
      seq,
      t: this.now(),
      payload,
      bytes: Buffer.byteLength(payload) + 32,
      sent: false,
    };
    this.pending.push(rec);
    this.bytes += rec.bytes;
    this.unwritten++;
    this.flush();
    this.enforceBounds();
    return rec;
  }

  /**
   * fdatasync once for every record appended since the last call (power-loss durability); also
   * where records held in memory are retried on a failed disk. Never throws for a disk fault.
   */
  sync(): void {
    if (this.closed) return;
    this.flush();
    const target = this.nextSeq - 1;
    if (this.unsynced && this.fd !== undefined && !this.syncing) {
      const fd = this.fd;
      if (this.attempt('sync the log', () => this.files.datasync(fd))) this.unsynced = false;
    }
    if (!this.unsynced && !this.syncing) this.markCommitted(target);
  }

  /**
   * Highest seq whose record may be published: every record up to it was appended and then covered
   * by a completed fdatasync. Records the disk refused (held in memory, `stats().unwritten`) count
   * as committed once a commit ran after them, as they cannot get onto the disk until it recovers.
   */
  get committedSeq(): number {
    return this.committed;
  }

  /** `listener` runs after every commit that moved `committedSeq` (the publisher drains then). */
  onCommit(listener: () => void): void {
    this.commitListeners.push(listener);
  }

  /**
   * Group commit: makes every record appended so far durable with one fdatasync on the thread pool,
   * started at most `commitDelayMs` from now (or after the fdatasync running now). Never throws.
   */
  commitSoon(): void {
    if (this.closed || this.committed >= this.nextSeq - 1) return;
    if (this.syncing) {
      this.commitAgain = true;
      return;
    }
    if (this.commitTimer !== undefined) return;
    this.commitTimer = setTimeout(() => this.startCommit(), this.opts.commitDelayMs ?? 1);
  }

  private startCommit(): void {
    this.commitTimer = undefined;
    if (this.closed || this.syncing) return;
    this.flush(); // also retries records held in memory on a failed disk
    const target = this.nextSeq - 1;
    const fd = this.fd;
    if (!this.unsynced || fd === undefined) {
      this.markCommitted(target);
      return;
    }
    this.syncing = true;
    this.unsynced = false; // appends from now on set it again, for the next commit
    const done = (err: Error | null) => {
      this.syncing = false;
      for (const f of this.closeAfterSync.splice(0)) this.attempt('close a file', () => this.files.close(f));
      if (err) {
        this.unsynced = true;
        // Logged and reported like any disk fault; the records are published anyway, as they are
        // while the disk refuses them (they cannot wait for a disk that may never recover).
        this.attempt('sync the log', () => {
          throw err;
        });
      }
      this.markCommitted(target);
      if (this.commitAgain) {
        this.commitAgain = false;
        this.commitSoon();
      }
    };
    if (this.files.datasyncAsync) this.files.datasyncAsync(fd, done);
    else
      setImmediate(() => {
        try {
          this.files.datasync(fd);
          done(null);
        } catch (err) {
          done(err as Error);
        }
      });
  }

  private markCommitted(seq: number): void {
    if (seq <= this.committed) return;
    this.committed = seq;
    for (const l of this.commitListeners) l();
  }

  /** Closes `fd` now, or once the fdatasync running on it completes. */
  private closeFd(fd: number): void {
    if (this.syncing) this.closeAfterSync.push(fd);
    else this.attempt('close a file', () => this.files.close(fd));
  }

  /** Pending records, oldest first (after dropping those past the age bound). */
  records(): readonly OutboxRecord[] {
    this.enforceBounds();
    return this.pending;
  }

  /** Notes that `rec` went to the broker; a bound dropping it later counts it as unconfirmed. */
  markSent(rec: OutboxRecord): void {
    (rec as PendingRecord).sent = true;
  }

  /** Marks `seq` acknowledged; removes the acknowledged prefix. */
  ack(seq: number): void {
    if (seq <= this.removed) return;
    this.acked.add(seq);
    let n = 0;
    while (n < this.pending.length && this.acked.has(this.pending[n]!.seq)) {
      this.acked.delete(this.pending[n]!.seq);
      n++;
    }
    if (n > 0) this.removeHead(n);
  }

  stats(): OutboxStats {
    return {
      depth: this.pending.length,
      bytes: this.bytes,
      dropped: this.droppedAge + this.droppedSize,
      droppedAge: this.droppedAge,
      droppedSize: this.droppedSize,
      droppedUnconfirmed: this.droppedUnconfirmed,
      unwritten: this.unwritten,
      diskError: this.degraded ? this.lastError : undefined,
    };
  }

  /**
   * Last try to write what is held in memory, then sync and close. Returns how many pending
   * records could not be written (they are lost with this process).
   */
  close(): number {
    if (this.closed) return this.unwritten;
    this.nextRetryMs = 0;
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    this.sync();
    // An fdatasync still running covers only part of what was written: sync again, here.
    if (this.syncing && this.fd !== undefined) {
      const fd = this.fd;
      this.attempt('sync the log', () => this.files.datasync(fd));
    }
    this.closed = true;
    for (const fd of [this.fd, this.ackFd]) {
      if (fd !== undefined) this.closeFd(fd);
    }
    this.fd = undefined;
    this.ackFd = undefined;
    return this.unwritten;
  }

  /** Records are held in memory only, or the watermark or a file could not be written or opened. */
  private get degraded(): boolean {
    return (
      this.unwritten > 0 ||
      this.watermarkDirty ||
      (!this.closed && (this.fd === undefined || this.ackFd === undefined))
    );
  }

  /** Logs the end of a disk fault once nothing is held in memory any more. */
  private noteRecovery(written: number): void {
    if (!this.faultLogged || this.degraded) return;
    this.faultLogged = false;
    this.lastError = undefined;
    this.opts.logger?.info(
      { dir: this.opts.dir, written },
      written > 0
        ? `outbox: the state disk takes writes again; ${written} events held in memory are now in ${this.logFile}`
        : `outbox: nothing is held in memory any more; the state disk is no longer needed to keep any event`,
    );
  }

  /** Writes the records held in memory (and a lagging watermark) when the disk may take them. */
  private flush(): void {
    if (this.closed) return;
    if (this.unwritten === 0 && !this.watermarkDirty) {
      this.noteRecovery(0);
      return;
    }
    if (this.lastError !== undefined && this.now() < this.nextRetryMs) {
      // Not retrying yet; still record the seqs given out, so none is reused after a crash.
      if (this.nextSeq - 1 > this.durableMaxSeq) this.writeWatermark();
      return;
    }
    if (!this.openFiles()) return;
    const before = this.unwritten;
    const ok = this.attempt('append to the log', () => {
      const fd = this.fd!;
      for (let i = this.pending.length - this.unwritten; i < this.pending.length; i++) {
        this.appendLine(fd, this.pending[i]!);
        this.unwritten--;
        this.unsynced = true;
      }
    });
    if (!ok) {
      if (this.nextSeq - 1 > this.durableMaxSeq) this.writeWatermark();
      return;
    }
    if (this.watermarkDirty && !this.writeWatermark()) return;
    this.durableMaxSeq = Math.max(this.durableMaxSeq, this.nextSeq - 1);
    this.noteRecovery(before);
  }

  /** One record as one line; a failed or short write is cut back so no torn line stays. */
  private appendLine(fd: number, rec: OutboxRecord): void {
    const line = Buffer.from(
      `${this.tornTail ? '\n' : ''}${JSON.stringify({ seq: rec.seq, t: rec.t, p: rec.payload })}\n`,
    );
    try {
      writeAll(this.files, fd, line);
    } catch (err) {
      try {
        this.files.truncate(fd, this.logBytes);
      } catch {
        this.tornTail = true; // the fragment stays; a newline before the next line isolates it
      }
      throw err;
    }
    this.tornTail = false;
    this.logBytes += line.length;
  }

  private enforceBounds(): void {
    let n = 0;
    const cutoff = this.opts.maxAgeMs > 0 ? this.now() - this.opts.maxAgeMs : -Infinity;
    let bytes = this.bytes;
    while (n < this.pending.length) {
      const r = this.pending[n]!;
      let drop = false;
      if (r.t < cutoff) drop = true;
      else if (
        (bytes > this.opts.maxBytes || this.pending.length - n > this.opts.maxRecords) &&
        n < this.pending.length - 1
      )
        drop = true;
      if (!drop) break;
      if (r.sent) this.droppedUnconfirmed++;
      else if (r.t < cutoff) this.droppedAge++;
      else this.droppedSize++;
      bytes -= r.bytes;
      n++;
    }
    if (n > 0) this.removeHead(n);
  }

  private removeHead(n: number): void {
    const gone = this.pending.splice(0, n);
    for (const r of gone) {
      this.bytes -= r.bytes;
      this.deadBytes += r.bytes;
      this.acked.delete(r.seq);
    }
    this.unwritten = Math.min(this.unwritten, this.pending.length);
    this.removed = gone.at(-1)!.seq;
    this.writeWatermark();
    const inLog = this.pending.length - this.unwritten;
    // Records held in memory: free the log's space as soon as nothing in it is needed.
    if (this.logBytes > 0 && inLog === 0 && (this.unwritten > 0 || this.deadBytes >= this.compactBytes))
      this.truncateLog();
    else if (this.deadBytes >= this.compactBytes && this.now() >= this.nextCompactMs) this.compact();
    this.noteRecovery(0);
  }

  private get compactBytes(): number {
    return this.opts.compactBytes ?? 1 << 20;
  }

  /**
   * Nothing in the log is pending any more: empty it in place (ftruncate needs no free space,
   * and frees the space a full disk needs). The watermark goes to disk first, with the highest
   * seq, so a crash right after cannot reuse a seq.
   */
  private truncateLog(): void {
    if (this.fd === undefined || this.ackFd === undefined) return;
    const ackFd = this.ackFd;
    const fd = this.fd;
    if (!this.writeWatermark() || !this.attempt('sync the watermark', () => this.files.datasync(ackFd)))
      return;
    if (this.attempt('truncate the log', () => this.files.truncate(fd, 0))) {
      this.logBytes = 0;
      this.tornTail = false;
      this.deadBytes = 0;
      this.unsynced = false;
      this.nextRetryMs = 0; // space was freed: records held in memory may fit now
    }
  }

  /**
   * Rewrites the watermark and the log atomically with the pending records only (those held in
   * memory included). Needs free space for the new log: when the disk refuses, the old files stay
   * in use and compaction is tried again later.
   */
  private compact(): void {
    if (this.pending.length === this.unwritten && this.fd !== undefined && this.ackFd !== undefined) {
      this.truncateLog();
      return;
    }
    const maxSeq = this.nextSeq - 1;
    // The watermark must never fall below a seq that is no longer in the log, or seqs would be
    // reused after a restart: keep `removed` at least at the highest seq not pending.
    const firstPending = this.pending[0]?.seq ?? maxSeq + 1;
    this.removed = Math.max(this.removed, firstPending - 1);
    const lines = this.pending.map((r) => `${JSON.stringify({ seq: r.seq, t: r.t, p: r.payload })}\n`);
    let step = 'write the watermark';
    try {
      writeFileAtomic(this.ackFile, this.watermarkText(), this.files);
      this.durableMaxSeq = maxSeq;
      this.watermarkDirty = false;
      step = 'compact the log';
      writeFileAtomic(this.logFile, lines.join(''), this.files);
    } catch (err) {
      this.nextCompactMs = this.now() + COMPACT_RETRY_MS;
      this.opts.logger?.warn(
        { err, dir: this.opts.dir },
        `outbox: cannot ${step} in ${this.opts.dir} (${describe(err)}); going on with the current log, trying again later`,
      );
      // `events.ack` may have been replaced: write through a descriptor of the current file.
      if (step !== 'write the watermark') this.reopen(false);
      return;
    }
    this.reopen(true);
    this.deadBytes = 0;
    this.unwritten = 0;
    this.unsynced = false;
    this.tornTail = false;
  }

  /** Closes and reopens the watermark (and, with `log`, the log) after files were replaced. */
  private reopen(log: boolean): void {
    const fds = log ? [this.ackFd, this.fd] : [this.ackFd];
    for (const fd of fds) {
      if (fd !== undefined) this.closeFd(fd);
    }
    this.ackFd = undefined;
    if (log) this.fd = undefined;
    this.openFiles();
  }

  /** Opens the log and the watermark if not yet open; false when the disk refuses. */
  private openFiles(): boolean {
    if (this.closed) return false;
    if (this.fd === undefined) {
      this.attempt('open the log', () => {
        const fd = this.files.open(this.logFile, 'a');
        this.logBytes = this.files.size(fd);
        this.fd = fd;
      });
    }
    if (this.ackFd === undefined) {
      let created = false;
      this.attempt('open the watermark', () => {
        try {
          this.ackFd = this.files.open(this.ackFile, 'r+');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          this.ackFd = this.files.open(this.ackFile, 'w');
          created = true;
        }
      });
      if (created) this.writeWatermark();
    }
    return this.fd !== undefined && this.ackFd !== undefined;
  }

  /** `removed maxSeq`, fixed width, so it is rewritten in place (no new space needed). */
  private watermarkText(): string {
    return `${this.removed.toString().padStart(20, '0')} ${(this.nextSeq - 1).toString().padStart(20, '0')}\n`;
  }

  /** One small in-place write of the watermark; false (and marked dirty) when it failed. */
  private writeWatermark(): boolean {
    const maxSeq = this.nextSeq - 1;
    if (this.ackFd === undefined && !this.openFiles() && this.ackFd === undefined) {
      this.watermarkDirty = true;
      return false;
    }
    const fd = this.ackFd!;
    const text = Buffer.from(this.watermarkText());
    const ok = this.attempt('write the watermark', () => {
      let off = 0;
      while (off < text.length) off += this.files.write(fd, text, off, off);
    });
    this.watermarkDirty = !ok;
    if (ok) this.durableMaxSeq = Math.max(this.durableMaxSeq, maxSeq);
    return ok;
  }

  /** Runs a disk operation; a failure marks the disk degraded (logged once per kind) and returns false. */
  private attempt(what: string, op: () => void): boolean {
    try {
      op();
      return true;
    } catch (err) {
      const reason = `cannot ${what} in ${this.opts.dir}: ${describe(err)}`;
      const changed = reason !== this.lastError;
      this.lastError = reason;
      this.nextRetryMs = this.now() + (this.opts.retryMs ?? 1000);
      if (!this.faultLogged || changed) {
        this.faultLogged = true;
        this.opts.logger?.warn(
          { err, dir: this.opts.dir, code: (err as NodeJS.ErrnoException).code },
          `outbox: ${reason}; events are kept in memory (within mqtt.outboxMax and mqtt.outboxMaxBytes, ` +
            `oldest dropped and counted) and written when the disk takes writes again`,
        );
      }
      return false;
    }
  }

  /** Temp files of a compaction that failed or was killed (one agent per stateDir: all are stale). */
  private removeTemps(): void {
    let names: string[] = [];
    this.attempt('list the outbox directory', () => (names = this.files.list(this.opts.dir)));
    for (const name of names) {
      if (/^\.events\.(log|ack)\..+\.tmp$/.test(name)) {
        const file = join(this.opts.dir, name);
        if (this.attempt(`remove ${name}`, () => this.files.unlink(file)))
          this.opts.logger?.info({ file }, `outbox: removed ${file}, left by an earlier run`);
      }
    }
  }

  private load(): void {
    let ackText: Buffer | undefined;
    let log: Buffer | undefined;
    if (!this.attempt('read the watermark', () => (ackText = this.files.read(this.ackFile)))) return;
    if (!this.attempt('read the log', () => (log = this.files.read(this.logFile)))) return;
    let maxSeq = 0;
    if (ackText) {
      const [removed, given] = ackText.toString('utf8').trim().split(/\s+/);
      const n = Number.parseInt(removed || '0', 10);
      if (Number.isSafeInteger(n) && n >= 0) this.removed = n;
      const m = Number.parseInt(given ?? '0', 10);
      if (Number.isSafeInteger(m) && m >= 0) maxSeq = m;
    }
    maxSeq = Math.max(maxSeq, this.removed);
    if (log && log.length > 0) {
      // Complete lines end with '\n'; anything after the last one was torn by a crash mid-write.
      const end = log.lastIndexOf(0x0a) + 1;
      if (end < log.length) this.cutTornTail(end);
      let start = 0;
      while (start < end) {
        const nl = log.indexOf(0x0a, start);
        const line = log.toString('utf8', start, nl);
        const lineBytes = nl + 1 - start;
        start = nl + 1;
        const rec = parseLine(line);
        if (!rec) {
          this.deadBytes += lineBytes; // a line torn by a crash, or isolated garbage
          continue;
        }
        maxSeq = Math.max(maxSeq, rec.seq);
        if (rec.seq <= this.removed) {
          this.deadBytes += lineBytes;
          continue;
        }
        const r: PendingRecord = {
          seq: rec.seq,
          t: rec.t,
          payload: rec.p,
          bytes: Buffer.byteLength(rec.p) + 32,
          sent: false,
        };
        this.pending.push(r);
        this.bytes += r.bytes;
      }
    }
    this.pending.sort((a, b) => a.seq - b.seq);
    this.nextSeq = maxSeq + 1;
    this.durableMaxSeq = maxSeq;
    // Read back after a crash, they may sit in the page cache only: the first commit syncs them.
    this.committed = this.pending.length > 0 ? this.pending[0]!.seq - 1 : maxSeq;
    this.unsynced = this.pending.length > 0;
  }

  /** Cuts a torn last line off in place (ftruncate: no free space needed). */
  private cutTornTail(length: number): void {
    this.attempt('cut a torn line off the log', () => {
      const fd = this.files.open(this.logFile, 'r+');
      try {
        this.files.truncate(fd, length);
      } finally {
        this.files.close(fd);
      }
    });
  }
}

/**
 * The messages in an outbox's log, oldest first, read without writing or locking (the CLI, while
 * the agent runs; issue #18 `history search --event`). The log keeps a message until it is
 * acknowledged and then only until the next compaction (1 MiB of acknowledged records, and every
 * start), so it holds the recent and undelivered events only. A torn last line is left out;
 * undefined when there is no log.
 */
export function readOutboxMessages(dir: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, LOG), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return text
    .split('\n')
    .map(parseLine)
    .filter((r) => r !== undefined)
    .map((r) => r.p);
}

function parseLine(line: string): { seq: number; t: number; p: string } | undefined {
  if (!line) return undefined;
  let rec: { seq?: unknown; t?: unknown; p?: unknown };
  try {
    rec = JSON.parse(line) as typeof rec;
  } catch {
    return undefined;
  }
  if (typeof rec.seq !== 'number' || typeof rec.t !== 'number' || typeof rec.p !== 'string') return undefined;
  return { seq: rec.seq, t: rec.t, p: rec.p };
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && !e.message.startsWith(e.code)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(err);
}
