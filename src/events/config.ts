import type { ConfigOf, ConfigOptionSpec } from '../core/index.ts';

/** The event log's options: where it is kept, the limits of an append, group commit and retention. */
export const EVENTS_CONFIG = [
  { key: 'natsUrl', flag: 'nats-url', env: 'AIOS_NATS_URL', kind: 'url', description: 'nats://host:port: keep the event log in NATS JetStream instead of SQL' },
  { key: 'maxEventsPerRequest', flag: 'max-events-per-request', env: 'AIOS_MAX_EVENTS_PER_REQUEST', kind: 'int', default: 10_000, description: 'most events in one append request' },
  { key: 'maxEventBytes', flag: 'max-event-bytes', env: 'AIOS_MAX_EVENT_BYTES', kind: 'int', default: 1024 * 1024, description: 'largest single event (serialised data and headers)' },
  { key: 'appendQueueEvents', flag: 'append-queue-events', env: 'AIOS_APPEND_QUEUE_EVENTS', kind: 'int', default: 200_000, description: 'bound of the group-commit queue; a full queue answers 429' },
  { key: 'commitBatchEvents', flag: 'commit-batch-events', env: 'AIOS_COMMIT_BATCH_EVENTS', kind: 'int', default: 10_000, description: 'most events written in one group-commit transaction' },
  { key: 'retentionIntervalMs', flag: 'retention-interval-ms', env: 'AIOS_RETENTION_INTERVAL_MS', kind: 'int', default: 60_000, description: 'how often retention runs in the background' },
] as const satisfies readonly ConfigOptionSpec[];

/** The resolved values of those options. */
export type EventsConfig = ConfigOf<(typeof EVENTS_CONFIG)[number]>;
