import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { AiosError, systemClock, type Clock, type Logger } from '../../core/index.ts';
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
import { appendNats } from './nats-append.ts';
import { NatsConsumer } from './nats-consumer.ts';
import { apiCode, JS_STREAM_NAME_IN_USE, JS_STREAM_NOT_FOUND, translate } from './nats-errors.ts';
import { GroupManager, nsOf } from './nats-groups.ts';
import { groupConsumerName, namespaceStreamPrefix, partitionFilter, topicNames, type TopicNames } from './nats-names.ts';
import { Pipeline } from './nats-publish.ts';
import { StreamReader } from './nats-read.ts';

/*
 * The event log on NATS JetStream (server 2.9 or later).
 *
 * Layout. One stream per topic (file storage, `allow_direct`), one subject per event:
 * `aios.<ns>.<topic>.<partition>.<base64url(id)>`. The payload is the event data as JSON; time,
 * AIOS ingestion time, key and user headers travel in headers (nats-names.ts). An event's offset
 * is its stream sequence, shared by all partitions of the topic: unique and increasing within a
 * partition, with gaps.
 *
 * Dedup, and why it has no crash window. Every event is published to its own subject with
 * `Nats-Expected-Last-Subject-Sequence: 0`: "store this only if the subject holds nothing". The
 * stream refuses a second write of the id with err_code 10071 ("wrong last sequence: N", N the
 * original's sequence), and the append reports the first one's partition and offset with
 * `duplicate: true`. There is no separate guard (no index row, no KeyValue entry) that could be
 * written without the event or the event without it: the guard is the stored event itself, and
 * the stream checks the precondition and appends in one step of its single writer. A crash of
 * AIOS at any point of an append leaves each event either stored or not; the producer, seeing no
 * acknowledgement, resends the same ids, and gets the original positions for those that made
 * it. This holds for as long as the event is retained, not only for a time window; once
 * retention has removed an event its id may be stored again, as in the SQL backends.
 * (test/nats-event-store.test.ts kills appending processes with SIGKILL and checks
 * that every id is stored exactly once after the resend.)
 *
 * Nats-Msg-Id is set as well. Within its window (two minutes) the server answers a repeated id
 * with the original's sequence before looking at the subject, which also catches an id resent
 * with a different key, so routed to another partition's subject. After the window such an id
 * is stored a second time: the one case the SQL backend (a unique index on the id) catches and
 * this one does not. Server 2.11's Nats-Expected-Last-Subject-Sequence-Subject, with a wildcard
 * over the partitions, would close it.
 *
 * Durability. append() resolves once every PubAck has arrived; the stream sends it after writing
 * the message to its file. Acknowledged events survive a crash of AIOS or of nats-server. A
 * single-replica file store fsyncs on the server's `sync_interval` (two minutes by default), so
 * a power loss or kernel crash can take the last acknowledged events, unless the server runs
 * with `sync_interval: always` or the stream has 3 replicas (`replicas: 3`), where the ack waits
 * for a quorum.
 *
 * Cost. One subject per retained event: the server keeps per-subject state in memory (the
 * subject plus some tens of bytes per event), and server 2.9 counts a partition-filtered
 * consumer's pending messages subject by subject (see nats-read.ts).
 *
 * Time. Every message carries the AIOS ingestion time (the store's clock). seek, reads by time,
 * resets to a time and time retention use it, never the server's timestamp, so a virtual clock
 * reaches them too. They assume ingestion times rise with the sequence, as they do within one
 * process; across processes, clock skew blurs the boundary by the skew.
 *
 * Consumer groups. One durable pull consumer per group with explicit acks (nats-groups.ts,
 * nats-consumer.ts); its progress is stream-wide, not per partition.
 */

export interface NatsEventStoreOptions {
  /** Server URL; several, comma-separated, for a cluster. */
  readonly url: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Stream replicas: 1 on a single server, 3 on a cluster for durability. Default 1. */
  readonly replicas?: number;
  /** Nats-Msg-Id dedup window (capped at the topic's retention age; at least 100 ms). Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /** How long an append waits for its acknowledgements. Default 30 s. */
  readonly publishTimeoutMs?: number;
  /** Timeout of JetStream API calls and ack replies. Default 5 s. */
  readonly apiTimeoutMs?: number;
  /** Connection name shown by the server's monitoring. Default "aios". */
  readonly name?: string;
}

const DEFAULTS = { replicas: 1, duplicateWindowMs: 120_000, publishTimeoutMs: 30_000, apiTimeoutMs: 5_000, name: 'aios' };
/** A watcher is called at most once per this interval (and once more after it, if needed). */
const WATCH_THROTTLE_MS = 20;
const MIN_SERVER: readonly number[] = [2, 9, 0];
const MIN_DUPLICATE_WINDOW_MS = 100;

function versionAtLeast(version: string | undefined, min: readonly number[]): boolean {
  const v = (version ?? '0').split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < min.length; i++) if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i];
  return true;
}

/**
 * The event log's data plane on NATS JetStream.
 *
 * @example
 * const store = await NatsEventStore.connect({ url: 'nats://127.0.0.1:4222' });
 * const log = new EventLog({ database, store });
 */
export class NatsEventStore implements EventStore {
  readonly backend = 'nats';
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #pipeline: Pipeline;
  readonly #clock: Clock;
  readonly #log?: Logger;
  readonly #o: typeof DEFAULTS;
  readonly #reader: StreamReader;
  readonly #groups: GroupManager;
  #closed = false;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, opts: NatsEventStoreOptions) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#pipeline = new Pipeline(nc);
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger;
    this.#reader = new StreamReader(nc, jsm, opts.logger);
    this.#groups = new GroupManager(jsm, this.#reader);
    this.#o = Object.freeze({
      replicas: opts.replicas ?? DEFAULTS.replicas,
      duplicateWindowMs: opts.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs,
      publishTimeoutMs: opts.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs,
      apiTimeoutMs: opts.apiTimeoutMs ?? DEFAULTS.apiTimeoutMs,
      name: opts.name ?? DEFAULTS.name,
    });
    if (this.#log) void this.#watchStatus(this.#log);
  }

  /** Connects and checks that JetStream is there; throws AIOS_UNAVAILABLE when it is not. */
  static async connect(opts: NatsEventStoreOptions): Promise<NatsEventStore> {
    const servers = opts.url.split(',').map((s) => s.trim()).filter(Boolean);
    let nc: NatsConnection;
    try {
      // noAsyncTraces: otherwise the client builds two Errors (with stack traces) per request, to
      // say where a timeout came from; measured, that was a third of the CPU of an append.
      nc = await connect({ servers, name: opts.name ?? DEFAULTS.name, maxReconnectAttempts: -1, reconnectTimeWait: 1000, noAsyncTraces: true });
    } catch (err) {
      throw new AiosError('AIOS_UNAVAILABLE', `cannot connect to NATS at ${opts.url}: ${(err as Error).message}`, { cause: err });
    }
    try {
      if (!versionAtLeast(nc.info?.version, MIN_SERVER)) {
        throw new AiosError('AIOS_UNAVAILABLE', `NATS at ${opts.url} is version ${nc.info?.version}; the event log needs ${MIN_SERVER.join('.')} or later`, { retryable: false });
      }
      const jsm = await jetstreamManager(nc, { timeout: opts.apiTimeoutMs ?? DEFAULTS.apiTimeoutMs });
      return new NatsEventStore(nc, jsm, opts);
    } catch (err) {
      await nc.close().catch(() => undefined);
      if (err instanceof AiosError) throw err;
      throw new AiosError('AIOS_UNAVAILABLE', `JetStream is not available at ${opts.url}: ${(err as Error).message}`, { cause: err });
    }
  }

  async #watchStatus(log: Logger): Promise<void> {
    try {
      for await (const s of this.#nc.status()) {
        if (s.type === 'disconnect') log.warn({ server: s.server }, 'NATS connection lost; reconnecting');
        else if (s.type === 'reconnect') log.info({ server: s.server }, 'NATS connection restored');
      }
    } catch {
      // The status iterator ends with the connection.
    }
  }

  // ---- topics -------------------------------------------------------------------------------

  #streamConfig(topic: Topic, names: TopicNames) {
    // The server wants a duplicate window of at least 100 ms, and no longer than max_age.
    const ms = topic.retention.ms === null ? null : Math.max(topic.retention.ms, MIN_DUPLICATE_WINDOW_MS);
    return {
      name: names.stream,
      subjects: [names.all],
      description: `AIOS topic ${topic.ns}/${topic.name}`,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      // The server ages events out by its own clock; enforceRetention also purges by the AIOS
      // ingestion time (the store's clock), which the server cannot see.
      max_age: ms === null ? 0 : nsOf(ms),
      // Deliberately no max_msgs: retention.count is per partition, as in SQL, and
      // enforceRetention applies it with a filtered purge (max_msgs would count the whole stream).
      duplicate_window: nsOf(Math.max(MIN_DUPLICATE_WINDOW_MS, Math.min(this.#o.duplicateWindowMs, ms ?? Infinity))),
      allow_direct: true,
      num_replicas: this.#o.replicas,
    } satisfies Partial<StreamConfig>;
  }

  async ensureTopic(topic: Topic): Promise<void> {
    const names = topicNames(topic);
    const want = this.#streamConfig(topic, names);
    try {
      let config: StreamConfig | undefined;
      try {
        config = (await this.#jsm.streams.info(names.stream)).config;
      } catch (err) {
        if (apiCode(err) !== JS_STREAM_NOT_FOUND) throw err;
      }
      if (!config) {
        try {
          await this.#jsm.streams.add(want);
          return;
        } catch (err) {
          // Another process created it a moment ago, perhaps with other settings: update below.
          if (apiCode(err) !== JS_STREAM_NAME_IN_USE) throw err;
          config = (await this.#jsm.streams.info(names.stream)).config;
        }
      }
      const same =
        config.max_age === want.max_age &&
        config.duplicate_window === want.duplicate_window &&
        config.allow_direct === true &&
        config.description === want.description &&
        JSON.stringify(config.subjects) === JSON.stringify(want.subjects);
      if (!same) {
        await this.#jsm.streams.update(names.stream, {
          subjects: want.subjects,
          description: want.description,
          max_age: want.max_age,
          duplicate_window: want.duplicate_window,
          allow_direct: true,
        });
      }
    } catch (err) {
      throw translate(err, `creating the stream of topic ${topic.ns}/${topic.name}`);
    }
  }

  async dropTopic(topic: Topic): Promise<void> {
    const { stream } = topicNames(topic);
    this.#reader.forgetStream(stream);
    try {
      await this.#jsm.streams.delete(stream);
    } catch (err) {
      if (apiCode(err) !== JS_STREAM_NOT_FOUND) throw translate(err, `deleting the stream of topic ${topic.ns}/${topic.name}`);
    }
  }

  /** Deletes every stream (and so every consumer) of a namespace; used by tests to clean up. */
  async dropNamespace(ns: string): Promise<void> {
    const prefix = namespaceStreamPrefix(ns);
    try {
      const doomed: string[] = [];
      for await (const name of this.#jsm.streams.names()) if (name.startsWith(prefix)) doomed.push(name);
      for (const name of doomed) {
        await this.#jsm.streams.delete(name).catch((err: unknown) => {
          if (apiCode(err) !== JS_STREAM_NOT_FOUND) throw err;
        });
      }
    } catch (err) {
      throw translate(err, `deleting the streams of namespace ${ns}`);
    }
  }

  // ---- append -------------------------------------------------------------------------------

  async append(batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> {
    const ingestedAt = this.#clock.now();
    return appendNats(
      {
        publisher: this.#pipeline,
        jsm: this.#jsm,
        publishTimeoutMs: this.#o.publishTimeoutMs,
        ensureStream: async (b) => {
          this.#log?.warn({ ns: b.topic.ns, topic: b.topic.name }, 'the topic has no stream in NATS; creating it again (offsets restart)');
          await this.ensureTopic(b.topic);
        },
      },
      batches,
      ingestedAt,
    );
  }

  // ---- read ---------------------------------------------------------------------------------

  read(topic: Topic, partition: number, fromOffset: number, limit: number, toOffset?: number): Promise<StoredEvent[]> {
    return this.#reader.read(topic, partition, fromOffset, limit, toOffset);
  }

  seek(topic: Topic, partition: number, time: number): Promise<number> {
    return this.#reader.seek(topic, partition, time);
  }

  bounds(topic: Topic): Promise<PartitionBounds[]> {
    return this.#reader.bounds(topic);
  }

  // ---- consumer groups ----------------------------------------------------------------------

  async consumer(topic: Topic, group: string, opts: ConsumerOptions = {}): Promise<ConsumerHandle> {
    await this.#groups.ensure(topic, group, opts.ackWaitMs);
    return new NatsConsumer({
      nc: this.#nc,
      pipeline: this.#pipeline,
      topic,
      stream: topicNames(topic).stream,
      consumer: groupConsumerName(group),
      ackTimeoutMs: this.#o.apiTimeoutMs,
      ensure: () => this.#groups.ensure(topic, group),
    });
  }

  groupState(topic: Topic, group: string): Promise<GroupState> {
    return this.#groups.state(topic, group);
  }

  listGroups(topic: Topic): Promise<string[]> {
    return this.#groups.list(topic);
  }

  resetGroup(topic: Topic, group: string, target: ResetTarget): Promise<void> {
    return this.#groups.reset(topic, group, target);
  }

  // ---- retention ----------------------------------------------------------------------------

  /**
   * The server ages events out by `max_age` on its own clock; this purges by the AIOS ingestion
   * time against `now` (the EventLog's clock), then keeps the last `retention.count` events of
   * each partition with a filtered purge: count retention is per partition, as in SQL. Purges
   * never reuse a sequence.
   */
  async enforceRetention(topic: Topic, now: number): Promise<number> {
    const { ms, count } = topic.retention;
    if (ms === null && count === null) return 0;
    const names = topicNames(topic);
    let deleted = 0;
    try {
      if (ms !== null) {
        const { seq, state } = await this.#reader.streamSeek(topic, names, now - ms);
        if (state.messages > 0 && seq > state.first_seq) deleted += (await this.#jsm.streams.purge(names.stream, { seq })).purged;
      }
      if (count !== null) {
        if (topic.partitions === 1) deleted += (await this.#jsm.streams.purge(names.stream, { keep: count })).purged;
        else if ((await this.#reader.state(topic, names)).messages > count) {
          for (let p = 0; p < topic.partitions; p++) {
            deleted += (await this.#jsm.streams.purge(names.stream, { filter: partitionFilter(names, p), keep: count })).purged;
          }
        }
      }
    } catch (err) {
      if (err instanceof AiosError && err.code === 'AIOS_EVENTS_TOPIC_NOT_FOUND') return deleted;
      if (apiCode(err) === JS_STREAM_NOT_FOUND) return deleted;
      throw translate(err, `enforcing retention on topic ${topic.ns}/${topic.name}`);
    }
    return deleted;
  }

  // ---- live ---------------------------------------------------------------------------------

  /**
   * A core NATS subscription on the topic's subjects: JetStream publishes are visible to it, from
   * every process. Calls are throttled to one per WATCH_THROTTLE_MS, plus one trailing call, so
   * nothing appended in the quiet interval is missed. It receives every message of the topic,
   * payload included: mind the bandwidth on busy topics.
   */
  watch(topic: Topic, onAppend: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let again = false;
    const fire = () => {
      try {
        onAppend();
      } catch (err) {
        this.#log?.warn({ err }, 'event log watcher failed');
      }
    };
    const tick = () => {
      if (again) {
        again = false;
        fire();
        timer = setTimeout(tick, WATCH_THROTTLE_MS);
      } else timer = undefined;
    };
    let sub: ReturnType<NatsConnection['subscribe']>;
    try {
      sub = this.#nc.subscribe(topicNames(topic).all, {
        callback: () => {
          if (timer) {
            again = true;
            return;
          }
          fire();
          timer = setTimeout(tick, WATCH_THROTTLE_MS);
        },
      });
    } catch (err) {
      this.#log?.warn({ err }, 'cannot watch the topic on NATS; readers fall back to polling');
      return () => undefined;
    }
    return () => {
      clearTimeout(timer);
      timer = undefined;
      again = false;
      sub.unsubscribe();
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader.close();
    try {
      await this.#nc.drain();
    } catch {
      await this.#nc.close().catch(() => undefined);
    }
  }
}
