/**
 * A bounded FIFO between pipeline stages. When the consumer falls behind, the OLDEST item is
 * dropped and counted: a live sensor's newest window is worth more than a stale one, and memory
 * never grows without bound.
 */

export interface QueueStats {
  pushed: number;
  dropped: number;
  depth: number;
}

export class DropOldestQueue<T> implements AsyncIterable<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;
  private closed = false;
  private waiter: (() => void) | undefined;
  private pushedCount = 0;
  private droppedCount = 0;

  /** @param onDrop called with each item dropped for lack of room (e.g. to recycle its buffer). */
  constructor(
    readonly capacity: number,
    private readonly onDrop?: (item: T) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TypeError(`queue capacity must be a positive integer, got ${capacity}`);
    }
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    if (this.closed) throw new TypeError('push on a closed queue');
    this.pushedCount++;
    if (this.size === this.capacity) {
      const old = this.items[this.head] as T;
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
      this.droppedCount++;
      this.onDrop?.(old);
    }
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size++;
    this.wake();
  }

  /** The oldest item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  /** Takes the oldest item without waiting, or undefined when empty. */
  tryShift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }

  /** Resolves when an item is available or the queue is closed. */
  async ready(): Promise<void> {
    if (this.size > 0 || this.closed) return;
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get length(): number {
    return this.size;
  }

  stats(): QueueStats {
    return { pushed: this.pushedCount, dropped: this.droppedCount, depth: this.size };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.tryShift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.closed) return;
      await this.ready();
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
