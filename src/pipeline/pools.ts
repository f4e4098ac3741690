/**
 * One BufferPool per sensor, so that a window's buffer goes back to the pool it came from: the
 * encode loop releases each window once fused (or dropped), the hub each window it drops for room.
 */
import type { Window } from './types.js';
import { BufferPool } from './windows.js';

export class WindowPools {
  private readonly pools = new Map<string, BufferPool>();

  /** The sensor's pool, created on first use. */
  pool(sensorId: string): BufferPool {
    let p = this.pools.get(sensorId);
    if (!p) this.pools.set(sensorId, (p = new BufferPool()));
    return p;
  }

  /** Gives the window's buffer back; the window must not be read after this. */
  release(w: Window): void {
    this.pools.get(w.sensorId)?.release(w.data);
  }
}
