import type { Tx } from '../storage/index.ts';
import type { PreparedEvent, StoredEvent } from './event.ts';
import type { Topic } from './topic.ts';

/** Where an appended event landed. A duplicate id returns the first append's place. */
export interface AppendedPosition {
  readonly id: string;
  readonly partition: number;
  readonly offset: number;
  readonly duplicate: boolean;
}

/**
 * Work that commits in the same transaction as one batch, or not at all: the request's audit
 * record, say. The SQL stores call it, on either engine, once every batch of the transaction is
 * written, with where this batch's events landed; NATS has no such transaction and never calls
 * it (`EventLog.commitHooks` says so). A failed shared transaction is retried batch by batch, so
 * a hook may run more than once; only the run in the transaction that commits counts.
 *
 * @example
 * const onCommit: CommitHook = async (tx, positions) => { await audit.recordIn(tx, { ...entry, output: positions }); };
 */
export type CommitHook = (tx: Tx, positions: readonly AppendedPosition[]) => Promise<void>;

export interface AppendBatch {
  readonly topic: Topic;
  readonly events: readonly PreparedEvent[];
  readonly onCommit?: CommitHook;
}

/** Lowest retained and next-to-be-written offset of one partition. */
export interface PartitionBounds {
  readonly partition: number;
  readonly first: number;
  readonly next: number;
}

export type ResetTarget =
  | { readonly to: 'earliest' | 'latest' }
  | { readonly time: number }
  | { readonly offsets: readonly { readonly partition: number; readonly offset: number }[] };

export interface GroupPartitionState {
  readonly partition: number;
  /** Next offset the group will consume, or null when the backend tracks progress per topic only. */
  readonly committed: number | null;
  readonly end: number;
  readonly lag: number;
}

export interface GroupState {
  readonly group: string;
  readonly topic: string;
  readonly lag: number;
  readonly partitions: GroupPartitionState[];
}

/**
 * One member of a consumer group, at-least-once: `fetch` hands out events after the group's
 * position; `commit` records them as processed. What was fetched and not committed is handed
 * out again after `ackWaitMs`, or to the next consumer once this one closes or dies.
 */
export interface ConsumerHandle {
  fetch(opts?: { max?: number; waitMs?: number }): Promise<StoredEvent[]>;
  /** Commits up to and including the given positions; with no argument, all that was fetched. */
  commit(positions?: readonly { readonly partition: number; readonly offset: number }[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** Fetched events not committed within this time are delivered again. Default 30 s. */
  readonly ackWaitMs?: number;
}

/**
 * The data plane of the event log. Topic definitions live in SQL whatever the backend;
 * a store keeps the events, offsets and consumer progress. One conformance suite
 * (test/events-conformance.test.ts) runs against every implementation.
 *
 * Offsets: unique and increasing within a partition, never changed and never reused; they may
 * have gaps (NATS uses the stream sequence, shared by all partitions of a topic).
 */
export interface EventStore {
  readonly backend: 'sqlite' | 'postgres' | 'nats';
  /** Creates or updates whatever the backend needs for the topic (partition rows, a stream). Idempotent. */
  ensureTopic(topic: Topic): Promise<void>;
  dropTopic(topic: Topic): Promise<void>;
  /**
   * Appends several batches in one durable write (group commit). Per batch, per event, in order:
   * where it landed. An id already in the topic, or earlier in the same call, is a duplicate.
   * Resolves only once everything is durable.
   */
  append(batches: readonly AppendBatch[]): Promise<AppendedPosition[][]>;
  /**
   * Appends inside a transaction the caller holds (`tx`, on the same database), so the events
   * commit with the caller's writes or not at all: the workflow outbox. SQL backends only (NATS
   * has no transaction to join). Call `announce` once the transaction has committed.
   */
  appendInTransaction?(tx: Tx, batches: readonly AppendBatch[]): Promise<AppendedPosition[][]>;
  /** Wakes in-process readers of these topics after an `appendInTransaction` committed. */
  announce?(topics: readonly Topic[]): void;
  /** Events of one partition with offset >= fromOffset (and < toOffset), in offset order. */
  read(topic: Topic, partition: number, fromOffset: number, limit: number, toOffset?: number): Promise<StoredEvent[]>;
  /** The first offset whose ingestion time is >= time (or the partition's next offset). */
  seek(topic: Topic, partition: number, time: number): Promise<number>;
  bounds(topic: Topic): Promise<PartitionBounds[]>;
  consumer(topic: Topic, group: string, opts?: ConsumerOptions): Promise<ConsumerHandle>;
  groupState(topic: Topic, group: string): Promise<GroupState>;
  listGroups(topic: Topic): Promise<string[]>;
  resetGroup(topic: Topic, group: string, target: ResetTarget): Promise<void>;
  /** Deletes what retention allows; returns how many events went. */
  enforceRetention(topic: Topic, now: number): Promise<number>;
  /** Calls `onAppend` when another process may have appended to the topic; returns an unsubscribe. */
  watch?(topic: Topic, onAppend: () => void): () => void;
  close(): Promise<void>;
}
