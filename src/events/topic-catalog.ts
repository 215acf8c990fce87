import { AiosError, type Clock } from '../core/index.ts';
import type { Database } from '../storage/index.ts';
import { ContractCompiler } from './contract.ts';
import type { EventStore } from './event-store.ts';
import { schemaIncompatibilities } from './schema-compat.ts';
import { TopicRegistry } from './topic-registry.ts';
import { assertName, checkUpdate, normaliseSpec, type Topic, type TopicSpec, type TopicUpdate } from './topic.ts';
import { EventsError } from './errors.ts';

/** A topic with its compiled data contract, as the append path uses it. */
export interface CachedTopic {
  readonly topic: Topic;
  readonly validate: (data: unknown) => string | null;
  readonly loadedAt: number;
}

const TOPIC_CACHE_MS = 2_000;

/**
 * The topics of the event log: definitions in SQL whatever the backend, schema evolution checked
 * for compatibility, and a cache of each topic with its compiled contract. Another process may
 * change a topic on a shared database (or NATS), so the cache is re-read every 2 s there; an
 * embedded log is the only writer and keeps it until a change.
 */
export class TopicCatalog {
  readonly #registry: TopicRegistry;
  readonly #store: EventStore;
  readonly #clock: Clock;
  readonly #contracts = new ContractCompiler();
  readonly #cache = new Map<string, CachedTopic>();
  readonly #ttl: number;

  constructor(database: Database, store: EventStore, clock: Clock) {
    this.#registry = new TopicRegistry(database, clock);
    this.#store = store;
    this.#clock = clock;
    this.#ttl = database.flags.concurrentWriters || store.backend === 'nats' ? TOPIC_CACHE_MS : Infinity;
  }

  async create(ns: string, spec: TopicSpec): Promise<{ topic: Topic; created: boolean }> {
    assertName('namespace', ns);
    const n = normaliseSpec(spec);
    this.#contracts.check(n.schema);
    const { topic, created } = await this.#registry.insert(ns, n);
    if (!created) {
      const same =
        JSON.stringify(topic.schema) === JSON.stringify(n.schema) &&
        topic.keyField === n.keyField &&
        topic.partitions === n.partitions &&
        topic.description === n.description &&
        topic.retention.ms === n.retention.ms &&
        topic.retention.count === n.retention.count;
      if (!same) throw new EventsError('AIOS_EVENTS_TOPIC_EXISTS', `topic ${n.name} already exists with a different definition; use PATCH to change it`);
    }
    await this.#store.ensureTopic(topic);
    return { topic, created };
  }

  async update(ns: string, name: string, update: TopicUpdate): Promise<Topic> {
    checkUpdate(update);
    const prev = await this.get(ns, name);
    let schemaChanged = false;
    if (update.schema !== undefined && JSON.stringify(update.schema) !== JSON.stringify(prev.schema)) {
      this.#contracts.check(update.schema);
      const problems = schemaIncompatibilities(prev.schema, update.schema);
      if (problems.length) {
        throw new EventsError(
          'AIOS_EVENTS_SCHEMA_INCOMPATIBLE',
          `the new schema for ${name} would reject events the current one accepts: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
          { errors: problems.map((p) => ({ path: p.path, message: p.message })) },
        );
      }
      schemaChanged = true;
    }
    const next = await this.#registry.update(
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
    await this.#store.ensureTopic(next);
    return next;
  }

  /** Throws AIOS_EVENTS_TOPIC_NOT_FOUND when there is no such topic in the namespace. */
  async get(ns: string, name: string): Promise<Topic> {
    return (await this.cached(ns, name)).topic;
  }

  list(ns: string, opts: { after?: string; limit?: number } = {}): Promise<Topic[]> {
    return this.#registry.list(ns, opts.after, Math.min(Math.max(opts.limit ?? 100, 1), 1000));
  }

  /** Every topic of every namespace (retention, lag metrics). */
  listAll(): Promise<Topic[]> {
    return this.#registry.listAll();
  }

  async schemaHistory(ns: string, name: string) {
    return this.#registry.schemaHistory(await this.get(ns, name));
  }

  /** Deletes the topic and its events and groups' positions; returns what it was. */
  async remove(ns: string, name: string): Promise<Topic> {
    const topic = await this.get(ns, name);
    await this.#store.dropTopic(topic);
    await this.#registry.remove(topic);
    this.#cache.delete(`${ns}/${name}`);
    this.#contracts.forget(`${topic.topicId}:`);
    return topic;
  }

  /** The topic with its compiled contract; AIOS_EVENTS_TOPIC_NOT_FOUND when there is none. */
  async cached(ns: string, name: string): Promise<CachedTopic> {
    const key = `${ns}/${name}`;
    const hit = this.#cache.get(key);
    if (hit && this.#clock.now() - hit.loadedAt < this.#ttl) return hit;
    const topic = await this.#registry.get(ns, name);
    if (!topic) {
      this.#cache.delete(key);
      throw new EventsError('AIOS_EVENTS_TOPIC_NOT_FOUND', `there is no topic "${name}" in namespace "${ns}"`);
    }
    const validate = this.#contracts.validator(`${topic.topicId}:${topic.schemaVersion}`, topic.schema);
    const entry = { topic, validate, loadedAt: this.#clock.now() };
    this.#cache.set(key, entry);
    return entry;
  }
}
