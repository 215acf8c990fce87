import type { Clock } from '../../core/index.ts';
import type { ConsumerHandle, PartitionBounds } from '../event-store.ts';
import type { StoredEvent } from '../event.ts';
import type { Topic } from '../topic.ts';
import type { GroupLeases } from './group-leases.ts';

export interface SqlConsumerDeps {
  readonly topic: Topic;
  readonly clock: Clock;
  readonly ackWaitMs: number;
  readonly leases: GroupLeases;
  loadCommitted(): Promise<Map<number, number>>;
  saveCommitted(offsets: Map<number, number>): Promise<void>;
  bounds(): Promise<PartitionBounds[]>;
  read(partition: number, from: number, limit: number): Promise<StoredEvent[]>;
  /** Resolves when an append to the topic may have happened, or after `ms`. */
  waitForAppend(ms: number): Promise<void>;
}

/**
 * A consumer-group member over the SQL log. Its read position runs ahead of the committed
 * offsets (Kafka's position vs committed offset); when nothing is committed for `ackWaitMs`
 * after a fetch, the position falls back to the committed offsets and the events are delivered
 * again: at-least-once, as with a JetStream ack wait.
 *
 * Members of a group, in this process or others, split the partitions through leases
 * (group-leases.ts), renewed by fetching; the lease lasts `ackWaitMs`, so a member that stops
 * fetching for longer hands its partitions to the others.
 */
export class SqlConsumer implements ConsumerHandle {
  readonly #d: SqlConsumerDeps;
  #position: Map<number, number> | undefined;
  #uncommittedSince: number | null = null;
  #nextPartition = 0;
  #closed = false;
  #owned = new Set<number>();
  #rebalancedAt = -Infinity;

  constructor(deps: SqlConsumerDeps) {
    this.#d = deps;
  }

  async #positions(): Promise<Map<number, number>> {
    const now = this.#d.clock.now();
    let rewind = false;
    if (this.#position && this.#uncommittedSince !== null && now - this.#uncommittedSince >= this.#d.ackWaitMs) {
      rewind = true;
      this.#uncommittedSince = null;
    }
    if (this.#position && !rewind && now - this.#rebalancedAt < this.#d.ackWaitMs / 3) return this.#position;
    const bounds = await this.#d.bounds();
    this.#owned = await this.#d.leases.rebalance(bounds.map((b) => b.partition), now);
    this.#rebalancedAt = now;
    const committed = await this.#d.loadCommitted();
    const pos = new Map<number, number>();
    for (const b of bounds) {
      if (!this.#owned.has(b.partition)) continue;
      const kept = rewind ? undefined : this.#position?.get(b.partition);
      pos.set(b.partition, Math.max(kept ?? committed.get(b.partition) ?? b.first, b.first));
    }
    this.#position = pos;
    return pos;
  }

  async fetch(opts: { max?: number; waitMs?: number } = {}): Promise<StoredEvent[]> {
    if (this.#closed) throw new Error('consumer is closed');
    const max = Math.max(1, Math.min(opts.max ?? 100, 10_000));
    const deadline = this.#d.clock.now() + (opts.waitMs ?? 0);
    for (;;) {
      const pos = await this.#positions();
      const parts = [...pos.keys()].sort((a, b) => a - b);
      const out: StoredEvent[] = [];
      // Round-robin over partitions so that a busy partition does not starve the others.
      for (let i = 0; i < parts.length && out.length < max; i++) {
        const p = parts[(this.#nextPartition + i) % parts.length];
        const events = await this.#d.read(p, pos.get(p)!, max - out.length);
        if (events.length) {
          pos.set(p, events[events.length - 1].offset + 1);
          out.push(...events);
        }
      }
      this.#nextPartition = (this.#nextPartition + 1) % Math.max(parts.length, 1);
      if (out.length) {
        if (this.#uncommittedSince === null) this.#uncommittedSince = this.#d.clock.now();
        return out;
      }
      const left = deadline - this.#d.clock.now();
      if (left <= 0 || this.#closed) return out;
      await this.#d.waitForAppend(Math.min(left, 250));
    }
  }

  async commit(positions?: readonly { partition: number; offset: number }[]): Promise<void> {
    const next = new Map<number, number>();
    // Only partitions this member holds: another member may own the rest by now.
    if (positions) {
      for (const p of positions) {
        if (this.#owned.has(p.partition)) next.set(p.partition, Math.max(next.get(p.partition) ?? -1, p.offset + 1));
      }
    } else if (this.#position) {
      for (const [p, o] of this.#position) next.set(p, o);
    }
    if (!next.size) return;
    await this.#d.saveCommitted(next);
    if (!positions || (this.#position && [...this.#position].every(([p, o]) => (next.get(p) ?? -1) >= o))) this.#uncommittedSince = null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#d.leases.leave();
  }
}
