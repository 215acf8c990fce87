import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import type { Logger } from '../../core/index.ts';
import type { Database } from '../../storage/index.ts';
import type { WorkflowTables } from './tables.ts';

/** The PostgreSQL channel of workflow wake-ups. */
export const WAKE_CHANNEL = 'aios_wf_wake';

/** A run may have something to do: it became runnable, or signal `signal` was stored for it. */
export interface Wake {
  readonly ns: string;
  readonly id: string;
  readonly signal?: string;
}

/**
 * `pg_notify` inside the caller's transaction, delivered to every listener at commit: a hint
 * that spares workers the wait for their next poll (polling stays the guarantee). PostgreSQL
 * only (`flags.listenNotify`): SQLite's single process is woken in memory.
 */
export async function notifyWake(db: Kysely<WorkflowTables>, wake: Wake, origin: string | null = null): Promise<void> {
  await sql`select pg_notify(${WAKE_CHANNEL}, ${JSON.stringify([wake.ns, wake.id, wake.signal ?? null, origin])})`.execute(db);
}

/**
 * LISTENs for wake-ups on a connection of its own (not the pool's: a LISTEN lives as long as
 * its session), reconnecting after a loss. Notifications lost while disconnected cost only
 * latency: the claim loop's poll finds the work anyway.
 */
export class WakeListener {
  readonly #database: Database;
  readonly #logger: Logger;
  readonly #onWake: (w: Wake) => void;
  #client?: pg.Client;
  #closed = false;
  #retry?: NodeJS.Timeout;

  readonly #origin: string | undefined;

  /** `origin`: the sender id of this process's own hints, which it already acted on in memory and skips. */
  constructor(database: Database, logger: Logger, onWake: (w: Wake) => void, origin?: string) {
    this.#origin = origin;
    this.#database = database;
    this.#logger = logger;
    this.#onWake = onWake;
  }

  async start(): Promise<void> {
    const pool = this.#database.pgPool;
    if (!this.#database.flags.listenNotify || !pool || this.#closed) return;
    const client = new pg.Client({ ...(pool.options as pg.ClientConfig) });
    client.on('notification', (n) => {
      if (n.channel !== WAKE_CHANNEL || !n.payload) return;
      try {
        const [ns, id, signal, origin] = JSON.parse(n.payload) as [string, string, string | null, string | null];
        if (origin && origin === this.#origin) return;
        this.#onWake({ ns, id, ...(signal ? { signal } : {}) });
      } catch {
        // not ours
      }
    });
    client.on('error', (err) => {
      this.#logger.warn({ err }, 'workflow wake-up listener lost its connection; reconnecting (polling continues)');
      void client.end().catch(() => undefined);
      if (this.#client === client) this.#client = undefined;
      this.#reconnect();
    });
    try {
      await client.connect();
      await client.query(`listen ${WAKE_CHANNEL}`);
      if (this.#closed) {
        await client.end();
        return;
      }
      this.#client = client;
    } catch (err) {
      this.#logger.warn({ err }, 'workflow wake-up listener could not connect; retrying (polling continues)');
      void client.end().catch(() => undefined);
      this.#reconnect();
    }
  }

  #reconnect(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.start();
    }, 1000);
    this.#retry.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }
}
