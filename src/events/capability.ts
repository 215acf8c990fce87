import { EventsError } from './errors.ts';
import { EVENTS_MIGRATIONS } from './migrations/index.ts';
import { defineCapability } from '../capability/index.ts';
import { EVENTS_ACTIONS, EVENTS_RESOURCE_TYPES } from './actions.ts';
import { EVENTS_CONFIG, type EventsConfig } from './config.ts';
import { eventsCommand } from './cli/events.ts';
import { topicsCommand } from './cli/topics.ts';
import { EventLog } from './event-log.ts';
import { eventRoutes } from './http/events.ts';
import { groupRoutes } from './http/groups.ts';
import { EVENTS_OPERATIONS, EVENTS_TAGS } from './http/operations.ts';
import { topicRoutes } from './http/topics.ts';
import type { ServerDeps } from './http/deps.ts';
import { NatsEventStore } from './nats/nats-event-store.ts';
import { SqlEventStore } from './sql/sql-event-store.ts';
import type { EventStore } from './event-store.ts';

/** The event log: topics with data contracts, append, read and tail, consumer groups, retention. */
export const eventsCapability = defineCapability({
  id: 'events',
  errors: EventsError.specs,
  // The append route audits and records lineage with governance.
  uses: ['governance'],
  migrations: EVENTS_MIGRATIONS,
  actions: EVENTS_ACTIONS,
  resourceTypes: EVENTS_RESOURCE_TYPES,
  config: EVENTS_CONFIG,
  metrics: [
    { name: 'aios_events_appended_total', type: 'counter', help: 'Events appended (new, not duplicates)' },
    { name: 'aios_events_append_queue_depth', type: 'gauge', help: 'Events accepted and not yet durable' },
  ],
  http: {
    plugin: (deps: ServerDeps) => async (app: Parameters<ReturnType<typeof topicRoutes>>[0]) => {
      await app.register(topicRoutes(deps));
      await app.register(eventRoutes(deps));
      await app.register(groupRoutes(deps));
    },
    operations: EVENTS_OPERATIONS,
    tags: EVENTS_TAGS,
  },
  cli: () => [topicsCommand(), eventsCommand()],
  async create(ctx) {
    const config = ctx.config as EventsConfig;
    const { database, clock, logger, metrics } = ctx;
    const store: EventStore = config.natsUrl ? await NatsEventStore.connect({ url: config.natsUrl, clock, logger }) : new SqlEventStore(database, { clock });
    const events = new EventLog({
      database,
      store,
      clock,
      logger,
      metrics,
      limits: {
        maxEventsPerRequest: config.maxEventsPerRequest,
        maxEventBytes: config.maxEventBytes,
        appendQueueEvents: config.appendQueueEvents,
        commitBatchEvents: config.commitBatchEvents,
      },
    });
    return {
      services: { events },
      start: () => {
        events.startRetention(config.retentionIntervalMs);
        return { log: { eventLog: store.backend } };
      },
      stop: () => events.close(),
    };
  },
});
