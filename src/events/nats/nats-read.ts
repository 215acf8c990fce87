import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager, type StoredMsg, type StreamState } from '@nats-io/jetstream';
import type { Logger } from '../../core/index.ts';
import type { PartitionBounds } from '../event-store.ts';
import type { StoredEvent } from '../event.ts';
import type { Topic } from '../topic.ts';
import { gone, translate } from './nats-errors.ts';
import { ingestedAtOf, partitionFilter, streamSeqOfReply, toStoredEvent, topicNames, type TopicNames } from './nats-names.ts';
import { pull } from './nats-pull.ts';

/** Up to this many events a cold read takes with direct gets; beyond, with a read cursor. */
const DIRECT_READ_MAX = 8;
/** Read cursors kept open per store, and how long an unused one is kept. */
const MAX_CURSORS = 32;
const CURSOR_IDLE_MS = 10_000;
/** The server deletes a cursor left behind (by a crash) after this. */
const CURSOR_INACTIVE_MS = 30_000;

/** An ephemeral pull consumer (memory state, no acks) positioned at a sequence of a filter. */
interface Cursor {
  readonly stream: string;
  readonly filter: string;
  readonly name: string;
  usedAt: number;
}

/**
 * Reads, seeks and bounds over a topic's stream.
 *
 * - A read first looks for the first event at or after the offset with one direct get (by
 *   sequence and subject filter, no consumer): an idle partition or a caught-up tail costs one
 *   round trip. A few events more are direct gets too.
 * - Larger reads use a read cursor: an ephemeral pull consumer filtered on the partition, pulled
 *   with no_wait. After the read it is kept, keyed by the next sequence it will deliver, so a
 *   read that goes on from there (a tail, cursor paging, a consumer's catch-up) is one pull.
 *   Creating one costs more than it looks: server 2.9 counts the pending messages of a filtered
 *   consumer by matching every subject after the start, one per event (measured here: ~20-40 ms
 *   with 30k events after the start, four partitions). One-partition topics use no filter.
 * - Cursors unused for CURSOR_IDLE_MS, or beyond MAX_CURSORS, are deleted; the server deletes
 *   any left behind after CURSOR_INACTIVE_MS.
 */
export class StreamReader {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #log?: Logger;
  /** By `stream filter nextSeq`; Map order is least recently parked first. */
  readonly #cursors = new Map<string, Cursor>();
  /** Consumer deletions in flight; close() waits for them. */
  readonly #cleanups = new Set<Promise<unknown>>();

  constructor(nc: NatsConnection, jsm: JetStreamManager, log?: Logger) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#log = log;
  }

  async state(topic: Topic, names: TopicNames = topicNames(topic)): Promise<StreamState> {
    try {
      return (await this.#jsm.streams.info(names.stream)).state;
    } catch (err) {
      throw gone(err, topic, 'reading the state of');
    }
  }

  /** The first message at or after `seq` on `filter`, by direct get. */
  async next(topic: Topic, names: TopicNames, seq: number, filter: string): Promise<StoredMsg | null> {
    try {
      return await this.#jsm.direct.getMessage(names.stream, { seq: Math.max(1, seq), next_by_subj: filter });
    } catch (err) {
      throw gone(err, topic, 'reading');
    }
  }

  /** The partition's subjects; the whole stream when there is one partition (a cheaper filter). */
  filter(topic: Topic, names: TopicNames, partition: number): string {
    return topic.partitions === 1 ? names.all : partitionFilter(names, partition);
  }

  async read(topic: Topic, partition: number, fromOffset: number, limit: number, toOffset?: number): Promise<StoredEvent[]> {
    const names = topicNames(topic);
    const filter = this.filter(topic, names, partition);
    const from = Math.max(1, fromOffset);
    const end = toOffset ?? Number.MAX_SAFE_INTEGER;
    if (limit < 1 || end <= from) return [];
    this.#sweep();
    const key = `${names.stream} ${filter} ${from}`;
    const parked = this.#cursors.get(key);
    if (parked) {
      this.#cursors.delete(key);
      const events = await this.#pull(topic, parked, from, limit, end);
      if (events) return events;
    }
    const first = await this.next(topic, names, from, filter);
    if (!first || first.seq >= end) return [];
    const out = [toStoredEvent(topic, first.subject, first.seq, first.header, first.data)];
    const more = Math.min(limit - 1, end - first.seq - 1);
    if (more <= 0) return out;
    if (more < DIRECT_READ_MAX) {
      for (let seq = first.seq + 1; out.length < limit; ) {
        const m = await this.next(topic, names, seq, filter);
        if (!m || m.seq >= end) break;
        out.push(toStoredEvent(topic, m.subject, m.seq, m.header, m.data));
        seq = m.seq + 1;
      }
      return out;
    }
    const cursor = await this.#open(topic, names, filter, first.seq + 1);
    out.push(...((await this.#pull(topic, cursor, first.seq + 1, more, end)) ?? []));
    return out;
  }

  async #open(topic: Topic, names: TopicNames, filter: string, startSeq: number): Promise<Cursor> {
    const config: Partial<ConsumerConfig> = {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(CURSOR_INACTIVE_MS),
      ...(filter === names.all ? {} : { filter_subject: filter }),
    };
    try {
      const ci = await this.#jsm.consumers.add(names.stream, config);
      return { stream: names.stream, filter, name: ci.name, usedAt: performance.now() };
    } catch (err) {
      throw gone(err, topic, 'reading');
    }
  }

  /**
   * Pulls what the cursor has from `from` on (no wait), then parks it at its next sequence.
   * Null when the cursor is gone (deleted by the server or with its stream).
   */
  async #pull(topic: Topic, cursor: Cursor, from: number, max: number, end: number): Promise<StoredEvent[] | null> {
    let r;
    try {
      r = await pull(this.#nc, cursor.stream, cursor.name, Math.max(1, Math.min(max, end - from)), 0);
    } catch (err) {
      this.#drop(cursor);
      throw translate(err, `reading topic ${topic.ns}/${topic.name}`);
    }
    if (r.msgs.length === 0 && (r.end === 'silent' || r.end === 'refused')) {
      this.#drop(cursor);
      return null;
    }
    const out: StoredEvent[] = [];
    let next = from;
    let past = false;
    for (const m of r.msgs) {
      if (!m.reply) continue;
      const seq = streamSeqOfReply(m.reply);
      next = seq + 1;
      if (seq >= end) past = true;
      else out.push(toStoredEvent(topic, m.subject, seq, m.headers, m.data));
    }
    // A cursor that delivered an event at or beyond `end` has skipped it: not reusable.
    if (past || r.end === 'refused' || r.end === 'silent') this.#drop(cursor);
    else this.#park(cursor, next);
    return out;
  }

  #park(cursor: Cursor, next: number): void {
    const key = `${cursor.stream} ${cursor.filter} ${next}`;
    if (this.#cursors.has(key)) return this.#drop(cursor);
    cursor.usedAt = performance.now();
    this.#cursors.set(key, cursor);
    if (this.#cursors.size > MAX_CURSORS) {
      const [oldestKey, oldest] = this.#cursors.entries().next().value!;
      this.#cursors.delete(oldestKey);
      this.#drop(oldest);
    }
  }

  #sweep(): void {
    const now = performance.now();
    for (const [key, c] of this.#cursors) {
      if (now - c.usedAt <= CURSOR_IDLE_MS) break;
      this.#cursors.delete(key);
      this.#drop(c);
    }
  }

  #drop(cursor: Cursor): void {
    const p = this.#jsm.consumers.delete(cursor.stream, cursor.name).then(
      () => undefined,
      (err: unknown) => this.#log?.debug({ err }, 'NATS: deleting a read cursor failed; the server removes it when idle'),
    );
    this.#cleanups.add(p);
    void p.finally(() => this.#cleanups.delete(p));
  }

  /** Forgets the cursors of a stream that is being deleted (they go with it). */
  forgetStream(stream: string): void {
    for (const [key, c] of this.#cursors) if (c.stream === stream) this.#cursors.delete(key);
  }

  /**
   * The first stream sequence whose AIOS ingestion time is >= time (or `next`): a binary search
   * over direct gets, O(log n) round trips with no index.
   */
  async streamSeek(topic: Topic, names: TopicNames, time: number): Promise<{ seq: number; next: number; state: StreamState }> {
    const state = await this.state(topic, names);
    const next = state.last_seq + 1;
    if (state.messages === 0) return { seq: next, next, state };
    const last = await this.next(topic, names, state.last_seq, names.all);
    if (!last || ingestedAtOf(last.header) < time) return { seq: next, next, state };
    // Smallest x such that the first message at or after x is ingested at or after `time`.
    let lo = state.first_seq;
    let hi = last.seq;
    let found: StoredMsg = last;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const m = await this.next(topic, names, mid, names.all);
      if (!m || m.seq >= hi) hi = mid;
      else if (ingestedAtOf(m.header) >= time) {
        hi = mid;
        found = m;
      } else lo = m.seq + 1;
    }
    if (found.seq !== lo) found = (await this.next(topic, names, lo, names.all)) ?? found;
    return { seq: found.seq, next, state };
  }

  async seek(topic: Topic, partition: number, time: number): Promise<number> {
    const names = topicNames(topic);
    const { seq, next } = await this.streamSeek(topic, names, time);
    if (seq >= next || topic.partitions === 1) return seq;
    const m = await this.next(topic, names, seq, partitionFilter(names, partition));
    return m ? m.seq : next;
  }

  /** `next` is the stream's last sequence + 1 for every partition: offsets are stream-wide. */
  async bounds(topic: Topic): Promise<PartitionBounds[]> {
    const names = topicNames(topic);
    const state = await this.state(topic, names);
    const next = state.last_seq + 1;
    const parts = Array.from({ length: topic.partitions }, (_, p) => p);
    if (state.messages === 0) return parts.map((partition) => ({ partition, first: next, next }));
    if (topic.partitions === 1) return [{ partition: 0, first: state.first_seq, next }];
    return Promise.all(
      parts.map(async (partition) => {
        const m = await this.next(topic, names, state.first_seq, partitionFilter(names, partition));
        return { partition, first: m ? m.seq : next, next };
      }),
    );
  }

  /** Deletes every open cursor and waits for deletions in flight. */
  async close(): Promise<void> {
    for (const c of this.#cursors.values()) this.#drop(c);
    this.#cursors.clear();
    await Promise.allSettled([...this.#cleanups]);
  }
}
