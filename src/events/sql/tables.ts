import type { Generated } from 'kysely';
import type { JsonColumn, NullableJsonColumn } from '../../storage/index.ts';

/**
 * The event log's tables as migrations 0001 and 0002 create them, for `Kysely<EventsTables>`.
 * bigint columns (ids, offsets, epoch ms) arrive as numbers: the PostgreSQL pool parses int8.
 */
export interface TopicsTable {
  /** Identity on PostgreSQL, autoincrement on SQLite. */
  topic_id: Generated<number>;
  ns: string;
  name: string;
  description: string | null;
  key_field: string | null;
  partitions: number;
  retention_ms: number | null;
  retention_count: number | null;
  schema_version: number;
  schema: JsonColumn;
  created_at: number;
  updated_at: number;
}

export interface TopicSchemasTable {
  topic_id: number;
  version: number;
  schema: JsonColumn;
  created_at: number;
}

export interface PartitionsTable {
  topic_id: number;
  partition: number;
  next_offset: number;
}

export interface EventsTable {
  topic_id: number;
  partition: number;
  offset: number;
  id: string;
  key: string | null;
  time: number;
  ingested_at: number;
  data: JsonColumn;
  headers: NullableJsonColumn;
}

/** One row per partition per commit batch: the sparse time index. */
export interface TimeIndexTable {
  topic_id: number;
  partition: number;
  offset: number;
  ingested_at: number;
}

export interface ConsumerOffsetsTable {
  topic_id: number;
  group_name: string;
  partition: number;
  ns: string;
  offset: number;
  updated_at: number;
}

export interface GroupMembersTable {
  topic_id: number;
  group_name: string;
  member_id: string;
  ns: string;
  heartbeat_at: number;
}

export interface GroupLeasesTable {
  topic_id: number;
  group_name: string;
  partition: number;
  ns: string;
  member_id: string;
  expires_at: number;
}

export interface EventsTables {
  aios_topics: TopicsTable;
  aios_topic_schemas: TopicSchemasTable;
  aios_partitions: PartitionsTable;
  aios_events: EventsTable;
  aios_time_index: TimeIndexTable;
  aios_consumer_offsets: ConsumerOffsetsTable;
  aios_group_members: GroupMembersTable;
  aios_group_leases: GroupLeasesTable;
}
