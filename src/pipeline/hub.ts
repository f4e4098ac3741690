/**
 * Where the sensors' window streams meet the encoder: one bounded queue per sensor (a slow or
 * chatty sensor cannot starve the others), drained in batches of one modality at a time.
 */
import { DropOldestQueue, type QueueStats } from './queue.js';
import type { SensorModality, Window } from './types.js';

export class WindowHub {
  private readonly queues = new Map<string, DropOldestQueue<Window>>();
  private waiter: (() => void) | undefined;
  private closed = false;

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

  /**
   * Waits for windows and returns up to `maxBatch` of one modality: the modality of the oldest
   * queued window, taken oldest first from every sensor of that modality. Undefined once closed.
   */
  async next(maxBatch: number): Promise<Window[] | undefined> {
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

  close(): void {
    this.closed = true;
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.();
  }

  stats(): Record<string, QueueStats> {
    return Object.fromEntries([...this.queues].map(([id, q]) => [id, q.stats()]));
  }
}
