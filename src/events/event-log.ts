import type { Registry } from 'prom-client';
import { systemClock, uuidv7, type Clock, type IdGenerator, type Logger } from '../core/index.ts';
import type { Database, SharedDb } from '../storage/index.ts';
import { ConsumerGroups } from './consumer-groups.ts';
import type { EventInput, StoredEvent } from './event.ts';
import { EventMetrics } from './event-metrics.ts';
import type { AppendBatch, AppendedPosition, CommitHook, ConsumerHandle, ConsumerOptions, EventStore, GroupState, ResetTarget } from './event-store.ts';
import { DEFAULT_LIMITS, LogAppend, type AcceptedItem, type AppendResult, type EventLogLimits } from './log-append.ts';
import { openTail, readEvents, type ReadQuery, type ReadResult, type TailOptions } from './log-reads.ts';
import { Retention } from './retention.ts';
import { TopicCatalog } from './topic-catalog.ts';
import type { Topic, TopicSpec, TopicUpdate } from './topic.ts';

export type { AcceptedItem, AppendResult, EventLogLimits } from './log-append.ts';
export type { ReadQuery, ReadResult, TailOptions } from './log-reads.ts';

export interface EventLogOptions {
  readonly database: Database;
  readonly store: EventStore;
  readonly clock?: Clock;
  readonly newId?: IdGenerator;
  readonly logger?: Logger;
  readonly metrics?: Registry;
  readonly limits?: Partial<EventLogLimits>;
}

/**
 * The event log: topics with data contracts, validated and deduplicated appends with group
 * commit and backpressure, reads, live tails, consumer groups and retention, over any
 * EventStore backend. A front over one part for each (topic-catalog, log-append, log-reads,
 * consumer-groups, retention).
 *
 * @example
 * const log = new EventLog({ database, store: new SqlEventStore(database) });
 * await log.createTopic('default', { name: 'vibration', keyField: 'turbineId', partitions: 4 });
 * const r = await log.append('default', 'vibration', [{ id: 'evt-1', data: { turbineId: 't1', rms: 0.4 } }]);
 */
export class EventLog {
  readonly store: EventStore;
  readonly #database: Database;
  readonly #topics: TopicCatalog;
  readonly #appends: LogAppend;
  readonly #groups: ConsumerGroups;
  readonly #retention: Retention;
  readonly #metrics?: EventMetrics;

  constructor(opts: EventLogOptions) {
    const clock = opts.clock ?? systemClock;
    this.store = opts.store;
    this.#database = opts.database;
    this.#topics = new TopicCatalog(opts.database, opts.store, clock);
    this.#groups = new ConsumerGroups(this.#topics, opts.store, clock);
    this.#retention = new Retention(this.#topics, opts.store, clock, opts.logger);
    if (opts.metrics) this.#metrics = new EventMetrics(opts.metrics, this);
    this.#appends = new LogAppend({
      topics: this.#topics,
      store: opts.store,
      clock,
      newId: opts.newId ?? uuidv7,
      limits: Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits }),
      metrics: () => this.#metrics,
    });
  }

  get queueDepth(): number {
    return this.#appends.queueDepth;
  }

  get queueCapacity(): number {
    return this.#appends.queueCapacity;
  }

  // ---- topics -------------------------------------------------------------------------------

  createTopic(ns: string, spec: TopicSpec): Promise<{ topic: Topic; created: boolean }> {
    return this.#topics.create(ns, spec);
  }

  updateTopic(ns: string, name: string, update: TopicUpdate): Promise<Topic> {
    return this.#topics.update(ns, name, update);
  }

  /** Throws AIOS_EVENTS_TOPIC_NOT_FOUND when there is no such topic in the namespace. */
  getTopic(ns: string, name: string): Promise<Topic> {
    return this.#topics.get(ns, name);
  }

  listTopics(ns: string, opts: { after?: string; limit?: number } = {}): Promise<Topic[]> {
    return this.#topics.list(ns, opts);
  }

  schemaHistory(ns: string, name: string) {
    return this.#topics.schemaHistory(ns, name);
  }

  /** Deletes the topic, its events and its groups' positions; its consumers fail from then on. */
  async deleteTopic(ns: string, name: string): Promise<void> {
    const topic = await this.#topics.remove(ns, name);
    await this.#groups.forgetTopic(topic.topicId);
  }

  // ---- append -------------------------------------------------------------------------------

  /** Whether `append` runs an `onCommit` hook in the events' own transaction (SQL backends: yes; NATS: no). */
  get commitHooks(): boolean {
    return this.store.backend !== 'nats';
  }

  /**
   * Validates every event, then appends the valid ones durably. With `atomic`, one bad event
   * rejects the whole request and nothing is appended. Duplicates (same id) return the place of
   * the first append with `duplicate: true`. `onCommit` runs in the events' transaction.
   */
  append(ns: string, topicName: string, inputs: readonly unknown[], opts: { atomic?: boolean; onCommit?: CommitHook } = {}): Promise<AppendResult> {
    return this.#appends.append(ns, topicName, inputs, opts);
  }

  /**
   * Validates events against the topic's contract for `appendInTransaction`, as an atomic append
   * would: any rejection throws (AIOS_EVENTS_BATCH_REJECTED naming each, or the one event's code).
   */
  prepareBatch(ns: string, topicName: string, inputs: readonly unknown[]): Promise<AppendBatch> {
    return this.#appends.prepareBatch(ns, topicName, inputs);
  }

  /**
   * Appends prepared batches inside the caller's transaction on the log's own database, so they
   * commit with the caller's writes or not at all (the workflow outbox). SQL backends only:
   * AIOS_BAD_REQUEST on NATS. Call `announce` after the commit.
   */
  appendInTransaction(trx: SharedDb, batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    return this.#appends.appendInTransaction(this.#database.joinTransaction(trx), batches);
  }

  /** Wakes this process's readers of the batches' topics, after `appendInTransaction` committed. */
  announce(batches: readonly AppendBatch[]): void {
    this.store.announce?.(batches.map((b) => b.topic));
  }

  /** Appends already-shaped events from code; throws on the first rejection. */
  async publish(ns: string, topic: string, events: readonly EventInput[]): Promise<AcceptedItem[]> {
    return (await this.append(ns, topic, events, { atomic: true })).accepted;
  }

  // ---- read ---------------------------------------------------------------------------------

  /** Reads events by offset range or from a time, one partition or all, with a cursor to go on. */
  async read(ns: string, topicName: string, q: ReadQuery = {}): Promise<ReadResult> {
    return readEvents(this.store, await this.getTopic(ns, topicName), q);
  }

  /**
   * Follows a topic live: yields each event with the cursor just after it (the SSE id). Stops
   * when the signal aborts.
   */
  async *tail(ns: string, topicName: string, opts: TailOptions = {}): AsyncGenerator<{ event: StoredEvent; cursor: string }> {
    yield* await this.openTail(ns, topicName, opts);
  }

  /**
   * `tail`, with the topic and the start position checked first: an unknown topic or a bad
   * cursor throws here, before anything is streamed (an HTTP stream can still answer 4xx).
   *
   * @example
   * const events = await log.openTail('default', 'vibration', { from: req.headers['last-event-id'] });
   * for await (const { event, cursor } of events) send(cursor, event);
   */
  async openTail(ns: string, topicName: string, opts: TailOptions = {}): Promise<AsyncGenerator<{ event: StoredEvent; cursor: string }>> {
    return openTail(this.store, await this.getTopic(ns, topicName), opts);
  }

  // ---- consumer groups ----------------------------------------------------------------------

  /** A new member of `group` on the topic: fetch, process, commit (at-least-once). */
  consumer(ns: string, topicName: string, group: string, opts?: ConsumerOptions): Promise<ConsumerHandle> {
    return this.#groups.consumer(ns, topicName, group, opts);
  }

  /**
   * The group member shared by every HTTP client of this process for (topic, group): HTTP is
   * stateless, so the position between a fetch and its commit is kept here.
   */
  sharedConsumer(ns: string, topicName: string, group: string): Promise<ConsumerHandle> {
    return this.#groups.shared(ns, topicName, group);
  }

  groupState(ns: string, topicName: string, group: string): Promise<GroupState> {
    return this.#groups.state(ns, topicName, group);
  }

  listGroups(ns: string, topicName: string): Promise<string[]> {
    return this.#groups.list(ns, topicName);
  }

  /** Moves a group to the earliest or latest offset, a time, or given offsets (replay). */
  resetGroup(ns: string, topicName: string, group: string, target: ResetTarget): Promise<GroupState> {
    return this.#groups.reset(ns, topicName, group, target);
  }

  /** Every (topic, group) with its lag; for /metrics. */
  allLags(): Promise<{ ns: string; topic: string; group: string; lag: number }[]> {
    return this.#groups.allLags();
  }

  // ---- retention and lifecycle --------------------------------------------------------------

  enforceRetention(): Promise<number> {
    return this.#retention.enforce();
  }

  startRetention(intervalMs: number): void {
    this.#retention.start(intervalMs);
  }

  /** Stops taking appends, writes everything accepted, and closes the store. */
  async close(): Promise<void> {
    this.#retention.stop();
    await this.#appends.close();
    await this.#groups.close();
    await this.store.close();
  }
}
