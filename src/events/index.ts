export { EventLog } from './event-log.ts';
export type { EventLogOptions, EventLogLimits, AppendResult, AcceptedItem, ReadQuery, ReadResult, TailOptions } from './event-log.ts';
export type { EventInput, StoredEvent, Rejection } from './event.ts';
export { governedAppend, LINEAGE_HEADER } from './governed-append.ts';
export type { AppendRecorders, GovernedAppendRequest, GovernedAppendResult } from './governed-append.ts';
export type {
  EventStore,
  ConsumerHandle,
  ConsumerOptions,
  GroupState,
  GroupPartitionState,
  ResetTarget,
  PartitionBounds,
  AppendedPosition,
  AppendBatch,
  CommitHook,
} from './event-store.ts';
export type { Topic, TopicSpec, TopicUpdate } from './topic.ts';
export { NAME_PATTERN } from './topic.ts';
export { formatCursor, parseCursor } from './cursor.ts';
export { SqlEventStore } from './sql/sql-event-store.ts';
export type { EventsTables } from './sql/tables.ts';
export { NatsEventStore } from './nats/nats-event-store.ts';
export type { NatsEventStoreOptions } from './nats/nats-event-store.ts';
export { createLinearAjv, MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH } from './contract.ts';
export { compileLinear, LinearPatternError } from './linear-regexp.ts';
export { parseCloudEvents, fromCloudEvent, CLOUDEVENTS_CONTENT_TYPES } from './cloudevents.ts';
export { EVENTS_MIGRATIONS } from './migrations/index.ts';
export { EventsError } from './errors.ts';
