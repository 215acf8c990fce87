import { ManualClock, systemClock, type Clock } from '../../src/core/index.ts';
import type { Database } from '../../src/storage/index.ts';
import { EventLog, NatsEventStore, SqlEventStore, type EventLogLimits } from '../../src/events/index.ts';
import type { BackendEnv, BackendName } from './conformance.ts';

/** Every backend of the event log. */
export const EVENT_LOG_BACKENDS: readonly BackendName[] = ['sqlite', 'postgres', 'nats'];

export interface Opened {
  readonly log: EventLog;
  readonly database: Database;
  close(): Promise<void>;
}

/** The event log on one backend, opened and reopened on the same durable state. */
export interface EventLogFixture {
  /** A namespace unique to this run, so NATS streams of parallel runs never meet. */
  readonly ns: string;
  /** A second namespace of this run (also dropped from NATS at teardown). */
  readonly otherNs: string;
  open(opts?: { clock?: Clock; limits?: Partial<EventLogLimits> }): Promise<Opened>;
}

/**
 * The conformance factory of the event log: SQL stores on a fresh SQLite file or PostgreSQL
 * schema; on NATS, JetStream with the topic registry in a fresh SQLite file, and the run's
 * streams dropped at teardown.
 */
export async function eventLogFactory(env: BackendEnv): Promise<EventLogFixture> {
  const fresh = await env.freshDatabase();
  const ns = env.unique('t');
  const otherNs = `${ns}x`;
  const natsUrl = env.natsUrl;
  if (natsUrl) {
    env.onTeardown(async () => {
      const store = await NatsEventStore.connect({ url: natsUrl });
      for (const n of [ns, otherNs]) await store.dropNamespace(n);
      await store.close();
    });
  }
  return {
    ns,
    otherNs,
    async open(opts = {}) {
      const database = await fresh.connect();
      const store = natsUrl ? await NatsEventStore.connect({ url: natsUrl, clock: opts.clock ?? systemClock }) : new SqlEventStore(database, { clock: opts.clock });
      const log = new EventLog({ database, store, clock: opts.clock, limits: opts.limits });
      let closed: Promise<void> | undefined;
      const close = () => (closed ??= log.close().then(() => database.close()));
      env.onTeardown(close);
      return { log, database, close };
    },
  };
}

export { ManualClock };
