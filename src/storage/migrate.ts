import { sql, type Kysely } from 'kysely';
import { AiosError } from '../core/index.ts';
import type { Database, DialectFlags } from './database.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Kysely<any>, flags: DialectFlags): Promise<void>;
}

export interface MigrateResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

/** Serialises migrations across processes on PostgreSQL (an arbitrary, fixed advisory lock key). */
const MIGRATION_LOCK_KEY = 7_240_315_001;

/**
 * Applies the embedded migrations in order, each once. Running it again changes nothing.
 * Refuses to touch a database whose schema is newer than this build, saying so.
 */
export async function migrate(database: Database, migrations: readonly Migration[]): Promise<MigrateResult> {
  const { db, flags } = database;
  await db.schema
    .createTable('aios_schema_migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'bigint', (c) => c.notNull())
    .execute();
  return db.transaction().execute(async (trx) => {
    if (flags.name === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    const row = await trx.selectFrom('aios_schema_migrations').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
    const current = Number(row?.v ?? 0);
    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (current > latest) {
      throw new AiosError(
        'AIOS_STORAGE_SCHEMA_NEWER',
        `the database ${database.location} has schema version ${current}, but this build of AIOS knows only up to ${latest}; ` +
          'run a newer AIOS (or restore a backup taken before the upgrade)',
      );
    }
    const applied: string[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= current) continue;
      await m.up(trx, flags);
      await trx.insertInto('aios_schema_migrations').values({ version: m.version, name: m.name, applied_at: Date.now() }).execute();
      applied.push(`${m.version}-${m.name}`);
    }
    return { from: current, to: Math.max(current, latest), applied };
  });
}
