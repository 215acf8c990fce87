import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock, type Clock } from '../../src/core/index.ts';
import { createDatabase, type Database } from '../../src/storage/index.ts';
import { migrate } from '../../src/runtime/index.ts';
import { EventLog, NatsEventStore, SqlEventStore, type EventLogLimits } from '../../src/events/index.ts';
import { freshPgSchema, natsAvailable, NATS_URL, pgAvailable, randomName } from './services.ts';

export interface Opened {
  readonly log: EventLog;
  readonly database: Database;
  close(): Promise<void>;
}

/** One backend of the event log, opened and reopened on the same durable state. */
export interface Backend {
  readonly name: 'sqlite' | 'postgres' | 'nats';
  readonly available: boolean;
  /** A namespace unique to this run, so NATS streams of parallel runs never meet. */
  readonly ns: string;
  open(opts?: { clock?: Clock; limits?: Partial<EventLogLimits> }): Promise<Opened>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'aios-ev-'));
  return {
    name: 'sqlite',
    available: true,
    ns: randomName('t'),
    async open(opts = {}) {
      const database = createDatabase({ sqliteFile: join(dir, 'aios.db') });
      await migrate(database);
      const log = new EventLog({ database, store: new SqlEventStore(database, { clock: opts.clock }), clock: opts.clock, limits: opts.limits });
      return { log, database, close: async () => { await log.close(); await database.close(); } };
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const available = await pgAvailable();
  const schema = available ? await freshPgSchema() : undefined;
  return {
    name: 'postgres',
    available,
    ns: randomName('t'),
    async open(opts = {}) {
      const database = createDatabase({ url: schema!.url });
      await migrate(database);
      const log = new EventLog({ database, store: new SqlEventStore(database, { clock: opts.clock }), clock: opts.clock, limits: opts.limits });
      return { log, database, close: async () => { await log.close(); await database.close(); } };
    },
    async cleanup() {
      await schema?.drop();
    },
  };
}

async function natsBackend(): Promise<Backend> {
  const available = await natsAvailable();
  const dir = mkdtempSync(join(tmpdir(), 'aios-ev-'));
  const ns = randomName('t');
  const opened: NatsEventStore[] = [];
  return {
    name: 'nats',
    available,
    ns,
    async open(opts = {}) {
      const database = createDatabase({ sqliteFile: join(dir, 'aios.db') });
      await migrate(database);
      const store = await NatsEventStore.connect({ url: NATS_URL, clock: opts.clock ?? systemClock });
      opened.push(store);
      const log = new EventLog({ database, store, clock: opts.clock, limits: opts.limits });
      return { log, database, close: async () => { await log.close(); await database.close(); } };
    },
    async cleanup() {
      if (available) {
        const store = await NatsEventStore.connect({ url: NATS_URL });
        for (const n of [ns, `${ns}x`]) await store.dropNamespace(n);
        await store.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function allBackends(): Promise<Backend[]> {
  return [sqliteBackend(), await postgresBackend(), await natsBackend()];
}

export { ManualClock };
