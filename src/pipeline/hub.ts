/**
 * Where the sensors' window streams meet the encoder: one bounded queue per sensor (a slow or
 * chatty sensor cannot starve the others), drained in batches of one modality at a time.
 *
 * `deterministic` mode (evaluation, tests): producers wait for room instead of dropping
 * (`pushWhenRoom`), and windows leave strictly in time order (end time, then sensor id) — a
 * window is handed out only once every sensor that has not ended has one queued, so the order no
 * longer depends on how fast each replay happened to run.
 */
import { DropOldestQueue, type QueueStats } from './queue.js';
import type { SensorModality, Window } from './types.js';

export interface WindowHubOptions {
  /** Lossless, time-ordered hand-out (see above). Default false. */
  deterministic?: boolean;
}

export class WindowHub {
  private readonly queues = new Map<string, DropOldestQueue<Window>>();
  private readonly ended = new Set<string>();
  private readonly roomWaiters: (() => void)[] = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  readonly deterministic: boolean;

  constructor(opts: WindowHubOptions = {}) {
    this.deterministic = opts.deterministic ?? false;
  }

  /** @param onDrop gets each window dropped for lack of room (to recycle its buffer). */
  addSensor(sensorId: string, capacity: number, onDrop?: (w: Window) => void): void {
    if (this.queues.has(sensorId)) throw new TypeError(`sensor "${sensorId}" added twice`);
    this.queues.set(sensorId, new DropOldestQueue<Window>(capacity, onDrop));
  }

  push(w: Window): void {
    const q = this.queues.get(w.sensorId);
    if (!q) throw new TypeError(`window from unknown sensor "${w.sensorId}"`);
    q.push(w);
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.();
  }

  /** Deterministic mode: waits until the sensor's queue has room, then pushes; else `push`. */
  async pushWhenRoom(w: Window): Promise<void> {
    const q = this.queues.get(w.sensorId);
    if (!q) throw new TypeError(`window from unknown sensor "${w.sensorId}"`);
    while (this.deterministic && !this.closed && q.stats().depth >= q.capacity) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
    if (this.closed) return;
    this.push(w);
  }

  /** The sensor will push no more windows (its stream ended or it was given up). */
  endSensor(sensorId: string): void {
    this.ended.add(sensorId);
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.();
  }

  /**
   * Waits for windows and returns up to `maxBatch` of one modality: the modality of the oldest
   * queued window, taken oldest first from every sensor of that modality. Undefined once closed.
   */
  async next(maxBatch: number): Promise<Window[] | undefined> {
    if (this.deterministic) return this.nextInOrder(maxBatch);
    for (;;) {
      let oldest: Window | undefined;
      for (const q of this.queues.values()) {
        const head = q.peek();
        if (head && (!oldest || head.endMs < oldest.endMs)) oldest = head;
      }
      if (oldest) {
        const modality: SensorModality = oldest.modality;
        const batch: Window[] = [];
        for (const q of this.queues.values()) {
          while (batch.length < maxBatch && q.peek()?.modality === modality) batch.push(q.tryShift()!);
        }
        return batch;
      }
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private async nextInOrder(maxBatch: number): Promise<Window[] | undefined> {
    for (;;) {
      const batch: Window[] = [];
      while (batch.length < maxBatch) {
        let best: DropOldestQueue<Window> | undefined;
        let bestId = '';
        let blocked = false;
        for (const [id, q] of this.queues) {
          const head = q.peek();
          if (!head) {
            if (!this.ended.has(id) && !this.closed) blocked = true;
            continue;
          }
          const b = best?.peek();
          if (!b || head.endMs < b.endMs || (head.endMs === b.endMs && id < bestId)) {
            best = q;
            bestId = id;
          }
        }
        if (blocked || !best) break;
        if (batch.length > 0 && best.peek()!.modality !== batch[0]!.modality) break;
        batch.push(best.tryShift()!);
        for (const wake of this.roomWaiters.splice(0)) wake();
      }
      if (batch.length > 0) return batch;
      if (this.closed && [...this.queues.values()].every((q) => !q.peek())) return undefined;
      if ([...this.queues.keys()].every((id) => this.ended.has(id) && !this.queues.get(id)!.peek()))
        return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  close(): void {
    this.closed = true;
    for (const wake of this.roomWaiters.splice(0)) wake();
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.();
  }

  stats(): Record<string, QueueStats> {
    return Object.fromEntries([...this.queues].map(([id, q]) => [id, q.stats()]));
  }
}
