import { sql } from 'kysely';
import type { Migration } from '../../storage/index.ts';

export const m0001Events: Migration = {
  version: 1,
  name: 'events',
  async up(db, flags) {
    const json = flags.jsonType;
    let topics = db.schema.createTable('aios_topics');
    topics =
      flags.name === 'postgres'
        ? topics.addColumn('topic_id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
        : topics.addColumn('topic_id', 'integer', (c) => c.primaryKey().autoIncrement());
    await topics
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('key_field', 'text')
      .addColumn('partitions', 'integer', (c) => c.notNull())
      .addColumn('retention_ms', 'bigint')
      .addColumn('retention_count', 'bigint')
      .addColumn('schema_version', 'integer', (c) => c.notNull())
      .addColumn('schema', json, (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('aios_topics_ns_name', ['ns', 'name'])
      .execute();

    await db.schema
      .createTable('aios_topic_schemas')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('schema', json, (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_topic_schemas_pk', ['topic_id', 'version'])
      .execute();

    await db.schema
      .createTable('aios_partitions')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('partition', 'integer', (c) => c.notNull())
      .addColumn('next_offset', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_partitions_pk', ['topic_id', 'partition'])
      .execute();

    // The log. Clustered by (topic, partition, offset) so reads are range scans; the unique
    // (topic, id) index is the permanent idempotency index: it lives exactly as long as the event.
    let events = db.schema
      .createTable('aios_events')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('partition', 'integer', (c) => c.notNull())
      .addColumn('offset', 'bigint', (c) => c.notNull())
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('key', 'text')
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('ingested_at', 'bigint', (c) => c.notNull())
      .addColumn('data', json, (c) => c.notNull())
      .addColumn('headers', json)
      .addPrimaryKeyConstraint('aios_events_pk', ['topic_id', 'partition', 'offset']);
    if (flags.name === 'sqlite') events = events.modifyEnd(sql`without rowid`);
    await events.execute();
    await db.schema.createIndex('aios_events_id').unique().on('aios_events').columns(['topic_id', 'id']).execute();

    // A sparse time index: one row per partition per commit batch (Kafka's .timeindex idea), so
    // seeking by time and time-based retention do not need an index on every event.
    await db.schema
      .createTable('aios_time_index')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('partition', 'integer', (c) => c.notNull())
      .addColumn('offset', 'bigint', (c) => c.notNull())
      .addColumn('ingested_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_time_index_pk', ['topic_id', 'partition', 'offset'])
      .execute();

    await db.schema
      .createTable('aios_consumer_offsets')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('group_name', 'text', (c) => c.notNull())
      .addColumn('partition', 'integer', (c) => c.notNull())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('offset', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_consumer_offsets_pk', ['topic_id', 'group_name', 'partition'])
      .execute();
  },
};
