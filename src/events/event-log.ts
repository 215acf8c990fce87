import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import { AiosError, systemClock, uuidv7, type Clock, type IdGenerator, type Logger } from '../core/index.ts';
import type { Database } from '../storage/index.ts';
import { AppendQueue } from './append-queue.ts';
import { ContractCompiler } from './contract.ts';
import { formatCursor, parseCursor, resolveCursor, type Cursor } from './cursor.ts';
import { isRejection, prepareEvent, type EventInput, type PreparedEvent, type Rejection, type StoredEvent } from './event.ts';
import type { AppendBatch, AppendedPosition, CommitHook, ConsumerHandle, ConsumerOptions, EventStore, GroupState, ResetTarget } from './event-store.ts';
import { EventMetrics } from './event-metrics.ts';
import { schemaIncompatibilities } from './schema-compat.ts';
import { TopicRegistry } from './topic-registry.ts';
import { TopicBoundConsumer } from './topic-bound-consumer.ts';
import { assertName, checkUpdate, normaliseSpec, type Topic, type TopicSpec, type TopicUpdate } from './topic.ts';

export interface EventLogLimits {
  readonly maxEventsPerRequest: number;
  readonly maxEventBytes: number;
  readonly appendQueueEvents: number;
  readonly commitBatchEvents: number;
}

export interface EventLogOptions {
  readonly database: Database;
  readonly store: EventStore;
  readonly clock?: Clock;
  readonly newId?: IdGenerator;
  readonly logger?: Logger;
  readonly metrics?: Registry;
  readonly limits?: Partial<EventLogLimits>;
}

export interface AcceptedItem {
  readonly index: number;
  readonly id: string;
  readonly partition: number;
  readonly offset: number;
  readonly duplicate: boolean;
}

export interface AppendResult {
  readonly accepted: AcceptedItem[];
  readonly rejected: Rejection[];
}

export interface ReadQuery {
  readonly partition?: number;
  readonly fromOffset?: number;
  readonly toOffset?: number;
  /** Epoch ms: events ingested at or after this time. */
  readonly fromTime?: number;
  /** A cursor returned as `next` by an earlier read; wins over the other positions. */
  readonly after?: string;
  readonly limit?: number;
}

export interface ReadResult {
  readonly events: StoredEvent[];
  /** Pass as `after` to read on. */
  readonly next: string;
}

export interface TailOptions {
  /** `earliest`, `latest` (default) or a cursor such as the SSE `Last-Event-ID`. */
  readonly from?: string;
  readonly partition?: number;
  readonly signal?: AbortSignal;
}

/** Why an atomic request with some valid events was refused: the events that were not. */
function atomicRefusal(rejected: readonly Rejection[], total: number): string {
  const named = rejected.slice(0, 3).map((r) => `event ${r.index} (${r.code}: ${r.reason.slice(0, 200)})`).join(', ');
  const more = rejected.length > 3 ? ` and ${rejected.length - 3} more` : '';
  const verb = rejected.length === 1 ? 'was' : 'were';
  return `the request was refused because ${named}${more} ${verb} rejected; with ?atomic=true one rejected event refuses all ${total}, so nothing was appended`;
}

const DEFAULT_LIMITS: EventLogLimits = { maxEventsPerRequest: 10_000, maxEventBytes: 1 << 20, appendQueueEvents: 200_000, commitBatchEvents: 10_000 };
const TOPIC_CACHE_MS = 2_000;

interface CachedTopic {
  readonly topic: Topic;
  readonly validate: (data: unknown) => string | null;
  readonly loadedAt: number;
}

/**
 * The event log: topics with data contracts, validated and deduplicated appends with group
 * commit and backpressure, reads, live tails, consumer groups and retention, over any
 * EventStore backend.
 *
 * @example
 * const log = new EventLog({ database, store: new SqlEventStore(database) });
 * await log.createTopic('default', { name: 'vibration', keyField: 'turbineId', partitions: 4 });
 * const r = await log.append('default', 'vibration', [{ id: 'evt-1', data: { turbineId: 't1', rms: 0.4 } }]);
 */
export class EventLog {
  readonly store: EventStore;
  readonly #database: Database;
  readonly #topics: TopicRegistry;
  readonly #clock: Clock;
  readonly #newId: IdGenerator;
  readonly #log?: Logger;
  readonly #limits: EventLogLimits;
  readonly #contracts = new ContractCompiler();
  readonly #cache = new Map<string, CachedTopic>();
  readonly #queue: AppendQueue;
  readonly #metrics?: EventMetrics;
  readonly #cacheTtl: number;
  readonly #consumers = new Map<string, { handle: TopicBoundConsumer; usedAt: number }>();
  #retentionTimer: NodeJS.Timeout | undefined;

  constructor(opts: EventLogOptions) {
    this.store = opts.store;
    this.#database = opts.database;
    this.#clock = opts.clock ?? systemClock;
    this.#newId = opts.newId ?? uuidv7;
    this.#log = opts.logger;
    this.#limits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
    this.#topics = new TopicRegistry(opts.database, this.#clock);
    // Another process may change a topic on a shared database; re-read definitions now and then.
    this.#cacheTtl = opts.database.flags.concurrentWriters || opts.store.backend === 'nats' ? TOPIC_CACHE_MS : Infinity;
    if (opts.metrics) this.#metrics = new EventMetrics(opts.metrics, this);
    this.#queue = new AppendQueue({
      capacity: this.#limits.appendQueueEvents,
      maxBatchEvents: this.#limits.commitBatchEvents,
      write: (batches) => this.store.append(batches),
      onFlush: (events, requests, seconds) => this.#metrics?.flushed(events, requests, seconds),
    });
  }

  get queueDepth(): number {
    return this.#queue.depth;
  }

  get queueCapacity(): number {
    return this.#queue.capacity;
  }

  // ---- topics -------------------------------------------------------------------------------

  async createTopic(ns: string, spec: TopicSpec): Promise<{ topic: Topic; created: boolean }> {
    assertName('namespace', ns);
    const n = normaliseSpec(spec);
    this.#contracts.check(n.schema);
    const { topic, created } = await this.#topics.insert(ns, n);
    if (!created) {
      const same =
        JSON.stringify(topic.schema) === JSON.stringify(n.schema) &&
        topic.keyField === n.keyField &&
        topic.partitions === n.partitions &&
        topic.description === n.description &&
        topic.retention.ms === n.retention.ms &&
        topic.retention.count === n.retention.count;
      if (!same) throw new AiosError('AIOS_EVENTS_TOPIC_EXISTS', `topic ${n.name} already exists with a different definition; use PATCH to change it`);
    }
    await this.store.ensureTopic(topic);
    return { topic, created };
  }

  async updateTopic(ns: string, name: string, update: TopicUpdate): Promise<Topic> {
    checkUpdate(update);
    const prev = await this.getTopic(ns, name);
    let schemaChanged = false;
    if (update.schema !== undefined && JSON.stringify(update.schema) !== JSON.stringify(prev.schema)) {
      this.#contracts.check(update.schema);
      const problems = schemaIncompatibilities(prev.schema, update.schema);
      if (problems.length) {
        throw new AiosError(
          'AIOS_EVENTS_SCHEMA_INCOMPATIBLE',
          `the new schema for ${name} would reject events the current one accepts: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
          { errors: problems.map((p) => ({ path: p.path, message: p.message })) },
        );
      }
      schemaChanged = true;
    }
    const next = await this.#topics.update(
      prev,
      {
        description: update.description ?? prev.description,
        schema: update.schema ?? prev.schema,
        retention: {
          ms: update.retention && 'ms' in update.retention ? (update.retention.ms ?? null) : prev.retention.ms,
          count: update.retention && 'count' in update.retention ? (update.retention.count ?? null) : prev.retention.count,
        },
      },
      schemaChanged,
    );
    this.#cache.delete(`${ns}/${name}`);
    await this.store.ensureTopic(next);
    return next;
  }

  /** Throws AIOS_EVENTS_TOPIC_NOT_FOUND when there is no such topic in the namespace. */
  async getTopic(ns: string, name: string): Promise<Topic> {
    return (await this.#cached(ns, name)).topic;
  }

  async listTopics(ns: string, opts: { after?: string; limit?: number } = {}): Promise<Topic[]> {
    return this.#topics.list(ns, opts.after, Math.min(Math.max(opts.limit ?? 100, 1), 1000));
  }

  async schemaHistory(ns: string, name: string) {
    return this.#topics.schemaHistory(await this.getTopic(ns, name));
  }

  /** Deletes the topic, its events and its groups' positions; its consumers fail from then on. */
  async deleteTopic(ns: string, name: string): Promise<void> {
    const topic = await this.getTopic(ns, name);
    await this.store.dropTopic(topic);
    await this.#topics.remove(topic);
    this.#cache.delete(`${ns}/${name}`);
    this.#contracts.forget(`${topic.topicId}:`);
    for (const [k, c] of this.#consumers) {
      if (c.handle.topic.topicId !== topic.topicId) continue;
      this.#consumers.delete(k);
      await c.handle.close().catch(() => undefined);
    }
  }

  async #cached(ns: string, name: string): Promise<CachedTopic> {
    const key = `${ns}/${name}`;
    const hit = this.#cache.get(key);
    if (hit && this.#clock.now() - hit.loadedAt < this.#cacheTtl) return hit;
    const topic = await this.#topics.get(ns, name);
    if (!topic) {
      this.#cache.delete(key);
      throw new AiosError('AIOS_EVENTS_TOPIC_NOT_FOUND', `there is no topic "${name}" in namespace "${ns}"`);
    }
    const validate = this.#contracts.validator(`${topic.topicId}:${topic.schemaVersion}`, topic.schema);
    const entry = { topic, validate, loadedAt: this.#clock.now() };
    this.#cache.set(key, entry);
    return entry;
  }

  // ---- append -------------------------------------------------------------------------------

  /**
   * Validates every event, then appends the valid ones durably. With `atomic`, one bad event
   * rejects the whole request and nothing is appended. Duplicates (same id) return the place of
   * the first append with `duplicate: true`.
   */
  /** Whether `append` runs an `onCommit` hook in the events' own transaction (SQL backends: yes; NATS: no). */
  get commitHooks(): boolean {
    return this.store.backend !== 'nats';
  }

  async append(ns: string, topicName: string, inputs: readonly unknown[], opts: { atomic?: boolean; onCommit?: CommitHook } = {}): Promise<AppendResult> {
    const { topic, validate } = await this.#cached(ns, topicName);
    if (inputs.length > this.#limits.maxEventsPerRequest) {
      throw new AiosError('AIOS_EVENTS_BATCH_TOO_LARGE', `${inputs.length} events in one request; the limit is ${this.#limits.maxEventsPerRequest}`);
    }
    const now = this.#clock.now();
    const ctx = { validate, newId: this.#newId, now, maxEventBytes: this.#limits.maxEventBytes };
    const prepared: PreparedEvent[] = [];
    const indexes: number[] = [];
    const rejected: Rejection[] = [];
    inputs.forEach((input, i) => {
      const p = prepareEvent(topic, input, i, ctx);
      if (isRejection(p)) rejected.push(p);
      else {
        prepared.push(p);
        indexes.push(i);
      }
    });
    this.#metrics?.rejected(topic, rejected.length);
    if (rejected.length && (opts.atomic || prepared.length === 0)) {
      const code = inputs.length === 1 ? rejected[0].code : 'AIOS_EVENTS_BATCH_REJECTED';
      const detail =
        inputs.length === 1 ? `event rejected: ${rejected[0].reason}`
        : prepared.length ? atomicRefusal(rejected, inputs.length)
        : `all ${inputs.length} events were rejected; nothing was appended`;
      throw new AiosError(code, detail, { errors: rejected.map((r) => ({ path: `/${r.index}`, message: `${r.code}: ${r.reason}` })), extra: { rejected } });
    }
    if (!prepared.length) return { accepted: [], rejected };
    const positions = await this.#queue.push({ topic, events: prepared, onCommit: opts.onCommit });
    const accepted = positions.map((p, k) => ({ index: indexes[k], ...p }));
    this.#metrics?.appended(topic, accepted);
    return { accepted, rejected };
  }

  /**
   * Validates events against the topic's contract for `appendInTransaction`, as an atomic append
   * would: any rejection throws (AIOS_EVENTS_BATCH_REJECTED naming each, or the one event's code).
   */
  async prepareBatch(ns: string, topicName: string, inputs: readonly unknown[]): Promise<AppendBatch> {
    const { topic, validate } = await this.#cached(ns, topicName);
    if (inputs.length > this.#limits.maxEventsPerRequest) {
      throw new AiosError('AIOS_EVENTS_BATCH_TOO_LARGE', `${inputs.length} events in one append; the limit is ${this.#limits.maxEventsPerRequest}`);
    }
    const ctx = { validate, newId: this.#newId, now: this.#clock.now(), maxEventBytes: this.#limits.maxEventBytes };
    const events: PreparedEvent[] = [];
    const rejected: Rejection[] = [];
    inputs.forEach((input, i) => {
      const p = prepareEvent(topic, input, i, ctx);
      if (isRejection(p)) rejected.push(p);
      else events.push(p);
    });
    if (rejected.length) {
      this.#metrics?.rejected(topic, rejected.length);
      const code = inputs.length === 1 ? rejected[0].code : 'AIOS_EVENTS_BATCH_REJECTED';
      const detail = inputs.length === 1 ? `event rejected by topic ${topic.name}: ${rejected[0].reason}` : `${rejected.length} of ${inputs.length} events rejected by topic ${topic.name}; nothing was appended`;
      throw new AiosError(code, detail, { errors: rejected.map((r) => ({ path: `/${r.index}`, message: `${r.code}: ${r.reason}` })), extra: { rejected } });
    }
    return { topic, events };
  }

  /**
   * Appends prepared batches inside the caller's transaction on the log's own database, so they
   * commit with the caller's writes or not at all (the workflow outbox). SQL backends only:
   * AIOS_BAD_REQUEST on NATS. Call `announce` after the commit.
   */
  async appendInTransaction(trx: Kysely<any>, batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    if (!this.store.appendInTransaction) throw new AiosError('AIOS_BAD_REQUEST', `the ${this.store.backend} event log cannot append inside a database transaction`);
    const positions = await this.store.appendInTransaction(this.#database.joinTransaction(trx), batches);
    batches.forEach((b, i) => this.#metrics?.appended(b.topic, positions[i].map((p, index) => ({ index, ...p }))));
    return positions;
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

  async #startPositions(topic: Topic, q: { partition?: number; fromOffset?: number; fromTime?: number; from?: string }): Promise<Cursor> {
    const bounds = await this.store.bounds(topic);
    if (q.partition !== undefined && !bounds.some((b) => b.partition === q.partition)) {
      throw new AiosError('AIOS_EVENTS_INVALID_POSITION', `topic ${topic.name} has partitions 0 to ${topic.partitions - 1}, not ${q.partition}`);
    }
    const parts = bounds.filter((b) => q.partition === undefined || b.partition === q.partition);
    const c: Cursor = new Map();
    if (q.from !== undefined && q.from !== 'earliest' && q.from !== 'latest') return resolveCursor(parseCursor(q.from), parts, topic.partitions, q.from);
    for (const b of parts) {
      if (q.from === 'latest') c.set(b.partition, b.next);
      else if (q.fromTime !== undefined) c.set(b.partition, await this.store.seek(topic, b.partition, q.fromTime));
      else c.set(b.partition, Math.max(q.fromOffset ?? b.first, b.first));
    }
    return c;
  }

  /** Reads events by offset range or from a time, one partition or all, with a cursor to go on. */
  async read(ns: string, topicName: string, q: ReadQuery = {}): Promise<ReadResult> {
    const topic = await this.getTopic(ns, topicName);
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 10_000);
    if (q.fromOffset !== undefined && q.partition === undefined && topic.partitions > 1) {
      throw new AiosError('AIOS_EVENTS_INVALID_POSITION', 'fromOffset needs a partition: offsets are per partition');
    }
    const pos = await this.#startPositions(topic, { partition: q.partition, fromOffset: q.fromOffset, fromTime: q.fromTime, from: q.after });
    const all: StoredEvent[] = [];
    for (const [p, from] of pos) {
      const events = await this.store.read(topic, p, from, limit, q.toOffset);
      all.push(...(q.fromTime !== undefined && q.after === undefined ? events.filter((e) => e.ingestedAt >= q.fromTime!) : events));
    }
    all.sort((a, b) => a.ingestedAt - b.ingestedAt || a.partition - b.partition || a.offset - b.offset);
    const events = all.slice(0, limit);
    for (const e of events) pos.set(e.partition, e.offset + 1);
    return { events, next: formatCursor(pos) };
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
    const topic = await this.getTopic(ns, topicName);
    const pos = await this.#startPositions(topic, { partition: opts.partition, from: opts.from ?? 'latest' });
    return this.#follow(topic, pos, opts);
  }

  async *#follow(topic: Topic, pos: Cursor, opts: TailOptions): AsyncGenerator<{ event: StoredEvent; cursor: string }> {
    let wake: (() => void) | null = null;
    const poke = () => wake?.();
    const unwatch = this.store.watch?.(topic, poke);
    const onAbort = () => poke();
    opts.signal?.addEventListener('abort', onAbort);
    try {
      while (!opts.signal?.aborted) {
        let got = 0;
        for (const [p, from] of pos) {
          const events = await this.store.read(topic, p, from, 500);
          for (const event of events) {
            pos.set(p, event.offset + 1);
            got++;
            yield { event, cursor: formatCursor(pos) };
          }
        }
        if (got === 0 && !opts.signal?.aborted) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, unwatch ? 1000 : 250);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = null;
        }
      }
    } finally {
      unwatch?.();
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  // ---- consumer groups ----------------------------------------------------------------------

  /** A new member of `group` on the topic: fetch, process, commit (at-least-once). */
  async consumer(ns: string, topicName: string, group: string, opts?: ConsumerOptions): Promise<ConsumerHandle> {
    return this.#boundConsumer(ns, topicName, group, opts);
  }

  async #boundConsumer(ns: string, topicName: string, group: string, opts?: ConsumerOptions): Promise<TopicBoundConsumer> {
    assertName('group', group);
    const topic = await this.getTopic(ns, topicName);
    const currentId = () =>
      this.#cached(ns, topicName).then(
        (c) => c.topic.topicId,
        (e: unknown) => {
          if (e instanceof AiosError && e.code === 'AIOS_EVENTS_TOPIC_NOT_FOUND') return undefined;
          throw e;
        },
      );
    return new TopicBoundConsumer(await this.store.consumer(topic, group, opts), topic, currentId);
  }

  /**
   * The group member shared by every HTTP client of this process for (topic, group): HTTP is
   * stateless, so the position between a fetch and its commit is kept here.
   */
  async sharedConsumer(ns: string, topicName: string, group: string): Promise<ConsumerHandle> {
    const key = `${ns}/${topicName}/${group}`;
    const now = this.#clock.now();
    for (const [k, c] of this.#consumers) {
      if (now - c.usedAt > 10 * 60_000) {
        this.#consumers.delete(k);
        await c.handle.close();
      }
    }
    let c = this.#consumers.get(key);
    // The topic may have been deleted and created again since: the member belongs to the old one.
    if (c && c.handle.topic.topicId !== (await this.getTopic(ns, topicName)).topicId) {
      this.#consumers.delete(key);
      await c.handle.close();
      c = undefined;
    }
    if (!c) {
      c = { handle: await this.#boundConsumer(ns, topicName, group), usedAt: now };
      this.#consumers.set(key, c);
    }
    c.usedAt = now;
    return c.handle;
  }

  async groupState(ns: string, topicName: string, group: string): Promise<GroupState> {
    assertName('group', group);
    return this.store.groupState(await this.getTopic(ns, topicName), group);
  }

  async listGroups(ns: string, topicName: string): Promise<string[]> {
    return this.store.listGroups(await this.getTopic(ns, topicName));
  }

  /** Moves a group to the earliest or latest offset, a time, or given offsets (replay). */
  async resetGroup(ns: string, topicName: string, group: string, target: ResetTarget): Promise<GroupState> {
    assertName('group', group);
    const topic = await this.getTopic(ns, topicName);
    const key = `${ns}/${topicName}/${group}`;
    const shared = this.#consumers.get(key);
    if (shared) {
      this.#consumers.delete(key);
      await shared.handle.close();
    }
    await this.store.resetGroup(topic, group, target);
    return this.store.groupState(topic, group);
  }

  /** Every (topic, group) with its lag; for /metrics. */
  async allLags(): Promise<{ ns: string; topic: string; group: string; lag: number }[]> {
    const out = [];
    for (const topic of await this.#topics.listAll()) {
      for (const group of await this.store.listGroups(topic)) {
        const s = await this.store.groupState(topic, group);
        out.push({ ns: topic.ns, topic: topic.name, group, lag: s.lag });
      }
    }
    return out;
  }

  // ---- retention and lifecycle --------------------------------------------------------------

  async enforceRetention(): Promise<number> {
    let deleted = 0;
    for (const topic of await this.#topics.listAll()) deleted += await this.store.enforceRetention(topic, this.#clock.now());
    if (deleted) this.#log?.info({ deleted }, 'retention removed events');
    return deleted;
  }

  startRetention(intervalMs: number): void {
    if (this.#retentionTimer || intervalMs <= 0) return;
    const run = () =>
      this.enforceRetention().catch((e) => this.#log?.warn({ err: e }, 'retention failed; will try again'));
    this.#retentionTimer = setInterval(run, intervalMs);
    this.#retentionTimer.unref();
  }

  /** Stops taking appends, writes everything accepted, and closes the store. */
  async close(): Promise<void> {
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    this.#retentionTimer = undefined;
    await this.#queue.close();
    for (const c of this.#consumers.values()) await c.handle.close();
    this.#consumers.clear();
    await this.store.close();
  }
}
