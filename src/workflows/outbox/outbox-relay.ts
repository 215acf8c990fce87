import { sql, type Kysely } from 'kysely';
import { isAiosError, systemClock, type Clock, type Logger } from '../../core/index.ts';
import type { EventInput, EventLog } from '../../events/index.ts';
import type { Database, SharedDb } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';

export interface OutboxRelayOptions {
  readonly database: Database;
  readonly events: EventLog;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** How often the relay looks for rows written by other processes. Default 250 ms. */
  readonly pollMs?: number;
}

interface OutboxRow {
  ns: string;
  key: string;
  topic: string;
  events: string;
}

/** Rows published per pass. */
const BATCH = 100;

/**
 * The outbox of an event log outside the database (NATS JetStream). `write` puts a step's events
 * in `aios_wf_outbox` inside the journal transaction; the relay publishes each row with the
 * events' ids and then deletes it. A crash between the publish and the delete publishes the row
 * again, which appends nothing twice: an id already in the topic is a duplicate. Any number of
 * relays may run on one database; they may publish a row twice, never lose one.
 *
 * @example
 * const relay = new OutboxRelay({ database, events, logger });
 * relay.start();
 * await db.transaction().execute((trx) => relay.write(trx, 'plant-a', 'run-1:4:0', 'work-orders', [{ id: 'run-1:4:0', data }]));
 * relay.wake();
 */
export class OutboxRelay {
  readonly #db: Kysely<WorkflowTables>;
  readonly #database: Database;
  readonly #events: EventLog;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #pollMs: number;
  #running = false;
  #timer?: NodeJS.Timeout;
  #busy?: Promise<void>;
  #again = false;

  constructor(opts: OutboxRelayOptions) {
    this.#database = opts.database;
    this.#db = opts.database.db as Kysely<WorkflowTables>;
    this.#events = opts.events;
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#pollMs = opts.pollMs ?? 250;
  }

  /** Records a batch inside the caller's transaction; a second write of the same key keeps the first. */
  async write(trx: SharedDb, ns: string, key: string, topic: string, events: readonly EventInput[]): Promise<void> {
    await (trx as Kysely<WorkflowTables>)
      .insertInto('aios_wf_outbox')
      .values({ ns, key, topic, events: JSON.stringify(events), created_at: this.#clock.now() })
      .onConflict((oc) => oc.columns(['ns', 'key']).doNothing())
      .execute();
  }

  /** Publishes what is in the outbox now; returns how many rows went out. */
  async relay(): Promise<number> {
    const text = this.#database.flags.jsonType === 'jsonb' ? sql<string>`events::text` : sql<string>`events`;
    const rows = (await this.#db.selectFrom('aios_wf_outbox').select(['ns', 'key', 'topic', text.as('events')]).orderBy('created_at').orderBy('key').limit(BATCH).execute()) as OutboxRow[];
    let sent = 0;
    for (const row of rows) {
      try {
        await this.#events.append(row.ns, row.topic, JSON.parse(row.events) as EventInput[], { atomic: true });
      } catch (err) {
        // The topic went away or its contract changed since the step validated the events: the row stays, and says why in the log.
        this.#logger.error({ err, ns: row.ns, key: row.key, topic: row.topic, code: isAiosError(err) ? err.code : undefined }, 'could not publish workflow outbox events; will retry');
        continue;
      }
      await this.#db.deleteFrom('aios_wf_outbox').where('ns', '=', row.ns).where('key', '=', row.key).execute();
      sent++;
    }
    return sent;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Relays now (after a journal transaction that wrote to the outbox committed). */
  wake(): void {
    if (!this.#running) return;
    if (this.#busy) this.#again = true;
    else this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    await this.#busy;
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#busy = this.relay()
        .then((n) => {
          if (n === BATCH) this.#again = true;
        })
        .catch((err: unknown) => this.#logger.error({ err }, 'workflow outbox relay failed; retrying'))
        .finally(() => {
          this.#busy = undefined;
          if (!this.#running) return;
          const again = this.#again;
          this.#again = false;
          this.#schedule(again ? 0 : this.#pollMs);
        });
    }, ms);
    this.#timer.unref();
  }
}
