import type { Kysely } from 'kysely';
import { AiosError, type Clock } from '../core/index.ts';
import type { Database } from '../storage/index.ts';
import type { EventsTables } from './sql/tables.ts';
import type { Topic } from './topic.ts';

interface TopicRow {
  topic_id: number;
  ns: string;
  name: string;
  description: string | null;
  key_field: string | null;
  partitions: number;
  retention_ms: number | null;
  retention_count: number | null;
  schema_version: number;
  schema: unknown;
  created_at: number;
  updated_at: number;
}

/** Topic definitions, always in SQL (SQLite or PostgreSQL) whichever backend holds the events. */
export class TopicRegistry {
  readonly #db: Kysely<EventsTables>;
  readonly #jsonText: boolean;
  readonly #clock: Clock;

  constructor(database: Database, clock: Clock) {
    this.#db = database.db as Kysely<EventsTables>;
    this.#jsonText = database.flags.jsonType === 'text';
    this.#clock = clock;
  }

  #toTopic(r: TopicRow): Topic {
    return {
      topicId: Number(r.topic_id),
      ns: r.ns,
      name: r.name,
      description: r.description,
      schema: (this.#jsonText ? JSON.parse(r.schema as string) : r.schema) as Topic['schema'],
      schemaVersion: r.schema_version,
      keyField: r.key_field,
      partitions: r.partitions,
      retention: { ms: r.retention_ms === null ? null : Number(r.retention_ms), count: r.retention_count === null ? null : Number(r.retention_count) },
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    };
  }

  #json(v: unknown): string {
    return JSON.stringify(v);
  }

  async get(ns: string, name: string): Promise<Topic | undefined> {
    const r = await this.#db.selectFrom('aios_topics').selectAll().where('ns', '=', ns).where('name', '=', name).executeTakeFirst();
    return r ? this.#toTopic(r as TopicRow) : undefined;
  }

  async list(ns: string, after: string | undefined, limit: number): Promise<Topic[]> {
    let q = this.#db.selectFrom('aios_topics').selectAll().where('ns', '=', ns);
    if (after) q = q.where('name', '>', after);
    const rows = await q.orderBy('name').limit(limit).execute();
    return rows.map((r) => this.#toTopic(r as TopicRow));
  }

  async listAll(): Promise<Topic[]> {
    const rows = await this.#db.selectFrom('aios_topics').selectAll().orderBy('topic_id').execute();
    return rows.map((r) => this.#toTopic(r as TopicRow));
  }

  /** Inserts the topic; on a name clash returns the existing one (the caller compares). */
  async insert(ns: string, t: Omit<Topic, 'topicId' | 'ns' | 'createdAt' | 'updatedAt' | 'schemaVersion'>): Promise<{ topic: Topic; created: boolean }> {
    const now = this.#clock.now();
    return this.#db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('aios_topics')
        .values({
          ns,
          name: t.name,
          description: t.description,
          key_field: t.keyField,
          partitions: t.partitions,
          retention_ms: t.retention.ms,
          retention_count: t.retention.count,
          schema_version: 1,
          schema: this.#json(t.schema),
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.columns(['ns', 'name']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!inserted) {
        const existing = await trx.selectFrom('aios_topics').selectAll().where('ns', '=', ns).where('name', '=', t.name).executeTakeFirstOrThrow();
        return { topic: this.#toTopic(existing as TopicRow), created: false };
      }
      const topic = this.#toTopic(inserted as TopicRow);
      await trx.insertInto('aios_topic_schemas').values({ topic_id: topic.topicId, version: 1, schema: this.#json(t.schema), created_at: now }).execute();
      return { topic, created: true };
    });
  }

  /** Writes an update; a schema change bumps the version and is kept in the schema history. */
  async update(prev: Topic, next: Pick<Topic, 'description' | 'schema' | 'retention'>, schemaChanged: boolean): Promise<Topic> {
    const now = this.#clock.now();
    return this.#db.transaction().execute(async (trx) => {
      const version = schemaChanged ? prev.schemaVersion + 1 : prev.schemaVersion;
      const r = await trx
        .updateTable('aios_topics')
        .set({
          description: next.description,
          schema: this.#json(next.schema),
          schema_version: version,
          retention_ms: next.retention.ms,
          retention_count: next.retention.count,
          updated_at: now,
        })
        .where('topic_id', '=', prev.topicId)
        .where('schema_version', '=', prev.schemaVersion)
        .returningAll()
        .executeTakeFirst();
      if (!r) throw new AiosError('AIOS_CONFLICT', `topic ${prev.name} was changed concurrently; read it again and retry`);
      if (schemaChanged) {
        await trx.insertInto('aios_topic_schemas').values({ topic_id: prev.topicId, version, schema: this.#json(next.schema), created_at: now }).execute();
      }
      return this.#toTopic(r as TopicRow);
    });
  }

  async schemaHistory(topic: Topic): Promise<{ version: number; schema: unknown; createdAt: number }[]> {
    const rows = await this.#db.selectFrom('aios_topic_schemas').selectAll().where('topic_id', '=', topic.topicId).orderBy('version').execute();
    return rows.map((r) => ({ version: r.version as number, schema: this.#jsonText ? JSON.parse(r.schema as string) : r.schema, createdAt: Number(r.created_at) }));
  }

  async remove(topic: Topic): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.deleteFrom('aios_topic_schemas').where('topic_id', '=', topic.topicId).execute();
      await trx.deleteFrom('aios_topics').where('topic_id', '=', topic.topicId).execute();
    });
  }
}
