import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import { AiosError, systemClock, uuidv7, type Clock } from '../../core/index.ts';
import type { Database, Tx } from '../../storage/index.ts';
import type { EventsTables } from './tables.ts';
import type {
  AppendBatch,
  AppendedPosition,
  ConsumerHandle,
  ConsumerOptions,
  EventStore,
  GroupState,
  PartitionBounds,
  ResetTarget,
} from '../event-store.ts';
import type { StoredEvent } from '../event.ts';
import type { Topic } from '../topic.ts';
import { rowWriter, type RowWriter } from './row-writer.ts';
import { SqlConsumer } from './sql-consumer.ts';
import { GroupLeases } from './group-leases.ts';
import { asHeaders, parseStoredData, parseStoredHeaders } from '../stored-json.ts';
import { EventsError } from '../errors.ts';

interface EventRow {
  partition: number;
  offset: number;
  id: string;
  key: string | null;
  time: number;
  ingested_at: number;
  data: unknown;
  headers: unknown;
}

/** How often a waiting consumer on PostgreSQL looks for appends made by other processes. */
const REMOTE_POLL_MS = 200;
/** Retention deletes in slices so no transaction holds the xmin horizon for long. */
const DELETE_SLICE = 20_000;

/** The event log in SQL tables, on SQLite or PostgreSQL. */
export class SqlEventStore implements EventStore {
  readonly backend: 'sqlite' | 'postgres';
  readonly #database: Database;
  readonly #db: Kysely<EventsTables>;
  readonly #clock: Clock;
  readonly #appended = new EventEmitter();
  readonly #rows: RowWriter;

  constructor(database: Database, opts: { clock?: Clock } = {}) {
    this.#database = database;
    this.#db = database.db;
    this.backend = database.flags.name;
    this.#clock = opts.clock ?? systemClock;
    this.#appended.setMaxListeners(0);
    this.#rows = rowWriter(database);
  }

  async ensureTopic(topic: Topic): Promise<void> {
    const rows = Array.from({ length: topic.partitions }, (_, p) => ({ topic_id: topic.topicId, partition: p, next_offset: 0 }));
    await this.#db.insertInto('aios_partitions').values(rows).onConflict((oc) => oc.columns(['topic_id', 'partition']).doNothing()).execute();
  }

  async dropTopic(topic: Topic): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      for (const t of ['aios_events', 'aios_time_index', 'aios_partitions', 'aios_consumer_offsets', 'aios_group_leases', 'aios_group_members'] as const) {
        await trx.deleteFrom(t).where('topic_id', '=', topic.topicId).execute();
      }
    });
  }

  async append(batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    const out = await this.#database.transaction((tx) => this.#appendIn(tx, batches));
    for (const b of batches) this.#appended.emit(String(b.topic.topicId));
    return out;
  }

  appendInTransaction(tx: Tx, batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    return this.#appendIn(tx, batches);
  }

  /**
   * The rows, then each batch's hook. Hooks last: on PostgreSQL the partition row locks (taken in
   * a fixed order) then come before any lock a hook takes (the audit chain's head row), one lock
   * order for every writer, so no deadlock.
   */
  async #appendIn(tx: Tx, batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    const out = await this.#rows.write(tx, batches, this.#clock.now());
    for (let b = 0; b < batches.length; b++) {
      const hook = batches[b].onCommit;
      if (hook) await hook(tx, out[b]);
    }
    return out;
  }

  announce(topics: readonly Topic[]): void {
    for (const t of new Set(topics.map((t) => String(t.topicId)))) this.#appended.emit(t);
  }

  async read(topic: Topic, partition: number, fromOffset: number, limit: number, toOffset?: number): Promise<StoredEvent[]> {
    let q = this.#db
      .selectFrom('aios_events')
      .select(['partition', 'offset', 'id', 'key', 'time', 'ingested_at', 'data', 'headers'])
      .where('topic_id', '=', topic.topicId)
      .where('partition', '=', partition)
      .where('offset', '>=', fromOffset);
    if (toOffset !== undefined) q = q.where('offset', '<', toOffset);
    const rows = (await q.orderBy('offset').limit(limit).execute()) as EventRow[];
    const parse = this.#database.flags.jsonType === 'text';
    return rows.map((r) => ({
      topic: topic.name,
      partition: r.partition,
      offset: Number(r.offset),
      id: r.id,
      key: r.key,
      time: Number(r.time),
      ingestedAt: Number(r.ingested_at),
      data: parse ? parseStoredData(r.data as string) : r.data,
      headers: r.headers === null ? {} : parse ? parseStoredHeaders(r.headers as string) : asHeaders(r.headers),
    }));
  }

  async seek(topic: Topic, partition: number, time: number): Promise<number> {
    const mark = await this.#db
      .selectFrom('aios_time_index')
      .select('offset')
      .where('topic_id', '=', topic.topicId)
      .where('partition', '=', partition)
      .where('ingested_at', '<', time)
      .orderBy('offset', 'desc')
      .limit(1)
      .executeTakeFirst();
    const row = await this.#db
      .selectFrom('aios_events')
      .select((eb) => eb.fn.min('offset').as('o'))
      .where('topic_id', '=', topic.topicId)
      .where('partition', '=', partition)
      .where('offset', '>=', Number(mark?.offset ?? 0))
      .where('ingested_at', '>=', time)
      .executeTakeFirst();
    if (row?.o !== null && row?.o !== undefined) return Number(row.o);
    return (await this.#nextOffsets(topic)).get(partition) ?? 0;
  }

  async #nextOffsets(topic: Topic): Promise<Map<number, number>> {
    const rows = await this.#db.selectFrom('aios_partitions').select(['partition', 'next_offset']).where('topic_id', '=', topic.topicId).execute();
    return new Map(rows.map((r) => [Number(r.partition), Number(r.next_offset)]));
  }

  async bounds(topic: Topic): Promise<PartitionBounds[]> {
    const next = await this.#nextOffsets(topic);
    const out: PartitionBounds[] = [];
    for (const [partition, n] of [...next].sort((a, b) => a[0] - b[0])) {
      const first = await this.#db
        .selectFrom('aios_events')
        .select('offset')
        .where('topic_id', '=', topic.topicId)
        .where('partition', '=', partition)
        .orderBy('offset')
        .limit(1)
        .executeTakeFirst();
      out.push({ partition, first: first ? Number(first.offset) : n, next: n });
    }
    return out;
  }

  async #committed(topic: Topic, group: string): Promise<Map<number, number>> {
    const rows = await this.#db
      .selectFrom('aios_consumer_offsets')
      .select(['partition', 'offset'])
      .where('topic_id', '=', topic.topicId)
      .where('group_name', '=', group)
      .execute();
    return new Map(rows.map((r) => [Number(r.partition), Number(r.offset)]));
  }

  async #saveCommitted(topic: Topic, group: string, offsets: Map<number, number>): Promise<void> {
    const now = this.#clock.now();
    const values = [...offsets].map(([partition, offset]) => ({ topic_id: topic.topicId, group_name: group, partition, ns: topic.ns, offset, updated_at: now }));
    if (!values.length) return;
    await this.#db
      .insertInto('aios_consumer_offsets')
      .values(values)
      .onConflict((oc) => oc.columns(['topic_id', 'group_name', 'partition']).doUpdateSet((eb) => ({ offset: eb.ref('excluded.offset'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
  }

  #waitForAppend(topic: Topic, ms: number): Promise<void> {
    const wait = this.#database.flags.concurrentWriters ? Math.min(ms, REMOTE_POLL_MS) : ms;
    return new Promise((resolve) => {
      const key = String(topic.topicId);
      const done = () => {
        clearTimeout(timer);
        this.#appended.off(key, done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.#appended.on(key, done);
    });
  }

  async consumer(topic: Topic, group: string, opts: ConsumerOptions = {}): Promise<ConsumerHandle> {
    const ackWaitMs = opts.ackWaitMs ?? 30_000;
    return new SqlConsumer({
      topic,
      clock: this.#clock,
      ackWaitMs,
      leases: new GroupLeases(this.#db, topic, group, uuidv7(), ackWaitMs),
      loadCommitted: () => this.#committed(topic, group),
      saveCommitted: (o) => this.#saveCommitted(topic, group, o),
      bounds: () => this.bounds(topic),
      read: (p, from, limit) => this.read(topic, p, from, limit),
      waitForAppend: (ms) => this.#waitForAppend(topic, ms),
    });
  }

  async groupState(topic: Topic, group: string): Promise<GroupState> {
    const committed = await this.#committed(topic, group);
    const partitions = (await this.bounds(topic)).map((b) => {
      const c = Math.max(committed.get(b.partition) ?? b.first, b.first);
      return { partition: b.partition, committed: committed.has(b.partition) ? c : null, end: b.next, lag: Math.max(0, b.next - c) };
    });
    return { group, topic: topic.name, lag: partitions.reduce((s, p) => s + p.lag, 0), partitions };
  }

  async listGroups(topic: Topic): Promise<string[]> {
    const rows = await this.#db.selectFrom('aios_consumer_offsets').select('group_name').distinct().where('topic_id', '=', topic.topicId).orderBy('group_name').execute();
    return rows.map((r) => r.group_name as string);
  }

  async resetGroup(topic: Topic, group: string, target: ResetTarget): Promise<void> {
    const bounds = await this.bounds(topic);
    const offsets = new Map<number, number>();
    if ('to' in target) for (const b of bounds) offsets.set(b.partition, target.to === 'earliest' ? b.first : b.next);
    else if ('time' in target) for (const b of bounds) offsets.set(b.partition, await this.seek(topic, b.partition, target.time));
    else {
      for (const { partition, offset } of target.offsets) {
        const b = bounds.find((x) => x.partition === partition);
        if (!b || !Number.isSafeInteger(offset) || offset < 0) {
          throw new EventsError('AIOS_EVENTS_INVALID_POSITION', `partition ${partition} offset ${offset} is not in topic ${topic.name}`);
        }
        offsets.set(partition, Math.min(offset, b.next));
      }
    }
    await this.#saveCommitted(topic, group, offsets);
  }

  async enforceRetention(topic: Topic, now: number): Promise<number> {
    const { ms, count } = topic.retention;
    if (ms === null && count === null) return 0;
    let deleted = 0;
    for (const b of await this.bounds(topic)) {
      let keepFrom = b.first;
      if (count !== null) keepFrom = Math.max(keepFrom, b.next - count);
      if (ms !== null) {
        const mark = await this.#db
          .selectFrom('aios_time_index')
          .select('offset')
          .where('topic_id', '=', topic.topicId)
          .where('partition', '=', b.partition)
          .where('ingested_at', '>=', now - ms)
          .orderBy('offset')
          .limit(1)
          .executeTakeFirst();
        keepFrom = Math.max(keepFrom, mark ? Number(mark.offset) : b.next);
      }
      for (let from = b.first; from < keepFrom; from += DELETE_SLICE) {
        const to = Math.min(from + DELETE_SLICE, keepFrom);
        const r = await this.#db
          .deleteFrom('aios_events')
          .where('topic_id', '=', topic.topicId)
          .where('partition', '=', b.partition)
          .where('offset', '>=', from)
          .where('offset', '<', to)
          .executeTakeFirst();
        deleted += Number(r.numDeletedRows);
      }
      if (keepFrom > b.first) {
        await this.#db.deleteFrom('aios_time_index').where('topic_id', '=', topic.topicId).where('partition', '=', b.partition).where('offset', '<', keepFrom).execute();
      }
    }
    return deleted;
  }

  watch(topic: Topic, onAppend: () => void): () => void {
    const key = String(topic.topicId);
    this.#appended.on(key, onAppend);
    let timer: NodeJS.Timeout | undefined;
    if (this.#database.flags.concurrentWriters) timer = setInterval(onAppend, REMOTE_POLL_MS * 5);
    return () => {
      this.#appended.off(key, onAppend);
      if (timer) clearInterval(timer);
    };
  }

  async close(): Promise<void> {
    this.#appended.removeAllListeners();
  }
}

