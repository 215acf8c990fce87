import { AiosError, type Clock } from '../../core/index.ts';
import type { ConsumerHandle, PartitionBounds } from '../event-store.ts';
import type { StoredEvent } from '../event.ts';
import type { Topic } from '../topic.ts';
import type { GroupLeases } from './group-leases.ts';
import { EventsError } from '../errors.ts';

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
 * A commit moves the group only over what this member was handed and has not committed yet
 * (`#delivered`): without positions, all of it; with positions, at most up to the last offset it
 * was handed in each partition. An event a fetch read but did not return (the fetch failed) was
 * never handed out, so no commit covers it.
 *
 * Members of a group, in this process or others, split the partitions through leases
 * (group-leases.ts), renewed by fetching; the lease lasts `ackWaitMs`, so a member that stops
 * fetching for longer hands its partitions to the others.
 */
export class SqlConsumer implements ConsumerHandle {
  readonly #d: SqlConsumerDeps;
  #position: Map<number, number> | undefined;
  /** Per partition, the offsets handed out and not committed: [from, to). */
  readonly #delivered = new Map<number, { from: number; to: number }>();
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
    // Every topic has at least one partition row: none means this topic was deleted (perhaps
    // created again since, under a new id, with groups of its own).
    if (bounds.length === 0) throw new EventsError('AIOS_EVENTS_TOPIC_NOT_FOUND', `topic ${this.#d.topic.name} was deleted; this consumer belonged to it`);
    this.#owned = await this.#d.leases.rebalance(bounds.map((b) => b.partition), now);
    this.#rebalancedAt = now;
    // What was handed out from a partition this member no longer holds is the new holder's to deliver again.
    for (const p of this.#delivered.keys()) if (!this.#owned.has(p)) this.#delivered.delete(p);
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
      const read = new Map<number, { from: number; to: number }>();
      // Round-robin over partitions so that a busy partition does not starve the others.
      for (let i = 0; i < parts.length && out.length < max; i++) {
        const p = parts[(this.#nextPartition + i) % parts.length];
        const events = await this.#d.read(p, pos.get(p)!, max - out.length);
        if (events.length) {
          read.set(p, { from: events[0].offset, to: events[events.length - 1].offset + 1 });
          out.push(...events);
        }
      }
      this.#nextPartition = (this.#nextPartition + 1) % Math.max(parts.length, 1);
      if (out.length) {
        // Only now, with nothing left to fail, do the events count as handed out.
        for (const [p, r] of read) {
          pos.set(p, r.to);
          const d = this.#delivered.get(p);
          this.#delivered.set(p, d ? { from: Math.min(d.from, r.from), to: Math.max(d.to, r.to) } : r);
        }
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
    // Only partitions this member holds (another member may own the rest by now), and only
    // offsets it was handed.
    if (positions) {
      for (const p of positions) {
        const d = this.#delivered.get(p.partition);
        if (!d || !this.#owned.has(p.partition) || p.offset < d.from) continue;
        next.set(p.partition, Math.max(next.get(p.partition) ?? -1, Math.min(p.offset + 1, d.to)));
      }
    } else {
      for (const [p, d] of this.#delivered) if (this.#owned.has(p)) next.set(p, d.to);
    }
    if (!next.size) return;
    await this.#d.saveCommitted(next);
    // Another commit or fetch of this member may have run meanwhile (HTTP clients share it).
    for (const [p, o] of next) {
      const d = this.#delivered.get(p);
      if (!d || o < d.from) continue;
      if (o >= d.to) this.#delivered.delete(p);
      else this.#delivered.set(p, { from: o, to: d.to });
    }
    if (this.#delivered.size === 0) this.#uncommittedSince = null;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#d.leases.leave();
  }
}
