/**
 * Durable, bounded outbox for events: an append-only segment log in `dir`.
 *
 * Why a log and not one file per event: an event is one small `write(2)` appended to `events.log`
 * (no file creation, no directory fsync per event), and one `fdatasync` covers every record
 * appended since the last one (fsync batching: the publisher syncs once before each publish burst).
 * A record is removed only once the broker acknowledged it (PUBACK) or it was dropped by a bound;
 * removal advances a watermark (`removed` seq) kept in `events.ack`. When the removed prefix grows,
 * the log is compacted (rewritten atomically). After kill -9 the log is read back, a torn last line
 * is ignored, and everything above the watermark is replayed. Sequence numbers are assigned here,
 * so they survive restarts: the next seq is one above the highest seq ever seen.
 */
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './durable-file.js';

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
  dropped: number;
  droppedAge: number;
  droppedSize: number;
}

const LOG = 'events.log';
const ACK = 'events.ack';

export class DurableOutbox {
  private readonly pending: OutboxRecord[] = [];
  private readonly acked = new Set<number>();
  private fd: number;
  private ackFd: number;
  private removed = 0;
  private nextSeq = 1;
  private bytes = 0;
  private deadBytes = 0;
  private unsynced = false;
  private droppedAge = 0;
  private droppedSize = 0;
  private readonly now: () => number;

  constructor(private readonly opts: OutboxOptions) {
    this.now = opts.now ?? Date.now;
    mkdirSync(opts.dir, { recursive: true });
    this.load();
    // Start each run with a compacted log: replayed records only.
    this.rewrite();
    this.fd = openSync(join(opts.dir, LOG), 'a', 0o600);
    this.ackFd = openSync(join(opts.dir, ACK), 'r+');
  }

  /** Seq the next appended record gets. */
  get peekSeq(): number {
    return this.nextSeq;
  }

  /**
   * Assigns the next seq, serialises `make(seq)` and appends it to the log (written to the OS
   * before this returns, so it survives the process being killed). Returns the record.
   */
  append(make: (seq: number) => string): OutboxRecord {
    const seq = this.nextSeq++;
    const payload = make(seq);
    const rec: OutboxRecord = { seq, t: this.now(), payload, bytes: Buffer.byteLength(payload) + 32 };
    const line = `${JSON.stringify({ seq, t: rec.t, p: payload })}\n`;
    writeSync(this.fd, line);
    this.unsynced = true;
    this.pending.push(rec);
    this.bytes += rec.bytes;
    this.enforceBounds();
    return rec;
  }

  /** fdatasync once for every record appended since the last call (power-loss durability). */
  sync(): void {
    if (!this.unsynced) return;
    fdatasyncSync(this.fd);
    this.unsynced = false;
  }

  /** Pending records, oldest first (after dropping those past the age bound). */
  records(): readonly OutboxRecord[] {
    this.enforceBounds();
    return this.pending;
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
    };
  }

  close(): void {
    this.sync();
    closeSync(this.fd);
    closeSync(this.ackFd);
  }

  private enforceBounds(): void {
    let n = 0;
    const cutoff = this.opts.maxAgeMs > 0 ? this.now() - this.opts.maxAgeMs : -Infinity;
    let bytes = this.bytes;
    while (n < this.pending.length) {
      const r = this.pending[n]!;
      if (r.t < cutoff) this.droppedAge++;
      else if (
        (bytes > this.opts.maxBytes || this.pending.length - n > this.opts.maxRecords) &&
        n < this.pending.length - 1
      )
        this.droppedSize++;
      else break;
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
    this.removed = gone.at(-1)!.seq;
    // Fixed-width, in place: one small write, no rename per ack.
    writeSync(this.ackFd, this.removed.toString().padStart(20, '0'), 0);
    if (this.deadBytes >= (this.opts.compactBytes ?? 1 << 20)) {
      this.sync();
      closeSync(this.fd);
      this.rewrite();
      this.fd = openSync(join(this.opts.dir, LOG), 'a', 0o600);
    }
  }

  private load(): void {
    const ackFile = join(this.opts.dir, ACK);
    if (existsSync(ackFile)) {
      const n = Number.parseInt(readFileSync(ackFile, 'utf8').trim() || '0', 10);
      if (Number.isSafeInteger(n) && n >= 0) this.removed = n;
    }
    let maxSeq = this.removed;
    const logFile = join(this.opts.dir, LOG);
    if (existsSync(logFile)) {
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line) continue;
        let rec: { seq?: unknown; t?: unknown; p?: unknown };
        try {
          rec = JSON.parse(line) as typeof rec;
        } catch {
          continue; // a line torn by a crash mid-write
        }
        if (typeof rec.seq !== 'number' || typeof rec.t !== 'number' || typeof rec.p !== 'string') continue;
        maxSeq = Math.max(maxSeq, rec.seq);
        if (rec.seq <= this.removed) continue;
        const r: OutboxRecord = {
          seq: rec.seq,
          t: rec.t,
          payload: rec.p,
          bytes: Buffer.byteLength(rec.p) + 32,
        };
        this.pending.push(r);
        this.bytes += r.bytes;
      }
    }
    this.pending.sort((a, b) => a.seq - b.seq);
    this.nextSeq = maxSeq + 1;
  }

  /** Writes the watermark durably, then the pending records as the new log (both atomic). */
  private rewrite(): void {
    const maxSeq = this.nextSeq - 1;
    // The watermark must never fall below a seq that is no longer in the log, or seqs would be
    // reused after a restart: keep `removed` at least at the highest seq not pending.
    const firstPending = this.pending[0]?.seq ?? maxSeq + 1;
    this.removed = Math.max(this.removed, firstPending - 1);
    writeFileAtomic(join(this.opts.dir, ACK), this.removed.toString().padStart(20, '0'));
    const lines = this.pending.map((r) => `${JSON.stringify({ seq: r.seq, t: r.t, p: r.payload })}\n`);
    // Keep the highest seq even when nothing is pending, so the next run continues after it.
    writeFileAtomic(join(this.opts.dir, LOG), lines.join(''));
    this.deadBytes = 0;
  }
}
