import { AiosError, type Clock, type ErrorCode, type IdGenerator } from '../core/index.ts';
import { GroupCommit, type Tx } from '../storage/index.ts';
import { isRejection, prepareEvent, type PreparedEvent, type Rejection } from './event.ts';
import type { EventMetrics } from './event-metrics.ts';
import type { AppendBatch, AppendedPosition, CommitHook, EventStore } from './event-store.ts';
import type { TopicCatalog } from './topic-catalog.ts';
import { EventsError } from './errors.ts';

export interface EventLogLimits {
  readonly maxEventsPerRequest: number;
  readonly maxEventBytes: number;
  readonly appendQueueEvents: number;
  readonly commitBatchEvents: number;
}

export const DEFAULT_LIMITS: EventLogLimits = { maxEventsPerRequest: 10_000, maxEventBytes: 1 << 20, appendQueueEvents: 200_000, commitBatchEvents: 10_000 };

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

/** Why an atomic request with some valid events was refused: the events that were not. */
function atomicRefusal(rejected: readonly Rejection[], total: number): string {
  const named = rejected.slice(0, 3).map((r) => `event ${r.index} (${r.code}: ${r.reason.slice(0, 200)})`).join(', ');
  const more = rejected.length > 3 ? ` and ${rejected.length - 3} more` : '';
  const verb = rejected.length === 1 ? 'was' : 'were';
  return `the request was refused because ${named}${more} ${verb} rejected; with ?atomic=true one rejected event refuses all ${total}, so nothing was appended`;
}

/** The refusal of a request whose events were rejected: the one event's code, or AIOS_EVENTS_BATCH_REJECTED naming each. */
function refusal(code: keyof typeof EventsError.specs, detail: string, rejected: readonly Rejection[]): AiosError {
  return new EventsError(code, detail, { errors: rejected.map((r) => ({ path: `/${r.index}`, message: `${r.code}: ${r.reason}` })), extra: { rejected } });
}

export interface LogAppendOptions {
  readonly topics: TopicCatalog;
  readonly store: EventStore;
  readonly clock: Clock;
  readonly newId: IdGenerator;
  readonly limits: EventLogLimits;
  readonly metrics: () => EventMetrics | undefined;
}

/**
 * The append path: every event validated against its topic's contract and prepared (id, key,
 * partition, JSON), then written through the bounded group-commit queue, so that concurrent
 * requests share one durable write; or, for the workflow outbox, inside a transaction the caller
 * holds.
 */
export class LogAppend {
  readonly #o: LogAppendOptions;
  readonly #queue: GroupCommit<AppendBatch, AppendedPosition[]>;

  constructor(opts: LogAppendOptions) {
    this.#o = opts;
    // Group commit: appends wait while the previous transaction commits, then share the next
    // one (one fsync for many requests). Bounded in events; a full queue answers 429. A shared
    // transaction that fails is retried request by request: ids are idempotency keys.
    this.#queue = new GroupCommit<AppendBatch, AppendedPosition[]>({
      capacity: opts.limits.appendQueueEvents,
      maxBatch: opts.limits.commitBatchEvents,
      weigh: (batch) => batch.events.length,
      commit: (batches) => opts.store.append(batches),
      gatherTick: true,
      afterBatch: (b) => {
        if (b.together) opts.metrics()?.flushed(b.weight, b.items, b.seconds);
      },
      overloadedMessage: (depth, capacity) => `the append queue holds ${depth} of ${capacity} events; retry shortly`,
      closedMessage: 'the event log is shutting down',
    });
  }

  get queueDepth(): number {
    return this.#queue.depth;
  }

  get queueCapacity(): number {
    return this.#queue.capacity;
  }

  async append(ns: string, topicName: string, inputs: readonly unknown[], opts: { atomic?: boolean; onCommit?: CommitHook }): Promise<AppendResult> {
    const { topic, validate } = await this.#o.topics.cached(ns, topicName);
    const { maxEventsPerRequest, maxEventBytes } = this.#o.limits;
    if (inputs.length > maxEventsPerRequest) {
      throw new EventsError('AIOS_EVENTS_BATCH_TOO_LARGE', `${inputs.length} events in one request; the limit is ${maxEventsPerRequest}`);
    }
    const ctx = { validate, newId: this.#o.newId, now: this.#o.clock.now(), maxEventBytes };
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
    this.#o.metrics()?.rejected(topic, rejected.length);
    if (rejected.length && (opts.atomic || prepared.length === 0)) {
      const code = inputs.length === 1 ? rejected[0].code : 'AIOS_EVENTS_BATCH_REJECTED';
      const detail =
        inputs.length === 1 ? `event rejected: ${rejected[0].reason}`
        : prepared.length ? atomicRefusal(rejected, inputs.length)
        : `all ${inputs.length} events were rejected; nothing was appended`;
      throw refusal(code, detail, rejected);
    }
    if (!prepared.length) return { accepted: [], rejected };
    const positions = await this.#queue.push({ topic, events: prepared, onCommit: opts.onCommit });
    const accepted = positions.map((p, k) => ({ index: indexes[k], ...p }));
    this.#o.metrics()?.appended(topic, accepted);
    return { accepted, rejected };
  }

  async prepareBatch(ns: string, topicName: string, inputs: readonly unknown[]): Promise<AppendBatch> {
    const { topic, validate } = await this.#o.topics.cached(ns, topicName);
    const { maxEventsPerRequest, maxEventBytes } = this.#o.limits;
    if (inputs.length > maxEventsPerRequest) {
      throw new EventsError('AIOS_EVENTS_BATCH_TOO_LARGE', `${inputs.length} events in one append; the limit is ${maxEventsPerRequest}`);
    }
    const ctx = { validate, newId: this.#o.newId, now: this.#o.clock.now(), maxEventBytes };
    const events: PreparedEvent[] = [];
    const rejected: Rejection[] = [];
    inputs.forEach((input, i) => {
      const p = prepareEvent(topic, input, i, ctx);
      if (isRejection(p)) rejected.push(p);
      else events.push(p);
    });
    if (rejected.length) {
      this.#o.metrics()?.rejected(topic, rejected.length);
      const code = inputs.length === 1 ? rejected[0].code : 'AIOS_EVENTS_BATCH_REJECTED';
      const detail = inputs.length === 1 ? `event rejected by topic ${topic.name}: ${rejected[0].reason}` : `${rejected.length} of ${inputs.length} events rejected by topic ${topic.name}; nothing was appended`;
      throw refusal(code, detail, rejected);
    }
    return { topic, events };
  }

  async appendInTransaction(tx: Tx, batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    const store = this.#o.store;
    if (!store.appendInTransaction) throw new AiosError('AIOS_BAD_REQUEST', `the ${store.backend} event log cannot append inside a database transaction`);
    const positions = await store.appendInTransaction(tx, batches);
    batches.forEach((b, i) => this.#o.metrics()?.appended(b.topic, positions[i].map((p, index) => ({ index, ...p }))));
    return positions;
  }

  /** Stops taking appends and writes everything accepted. */
  close(): Promise<void> {
    return this.#queue.close();
  }
}
