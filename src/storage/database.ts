import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { AiosError } from '../core/index.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './data-dir.ts';
import { guardedDialect } from './guarded-dialect.ts';
import { StatementCache } from './statement-cache.ts';
import { postgresTransactions } from './postgres-transactions.ts';
import { sqliteTransactions } from './sqlite-transactions.ts';
import type { Transactions } from './transaction.ts';

/**
 * What differs between the two SQL engines, as flags (the Kysely adapter habit), so that code
 * asks "can I SKIP LOCKED?" instead of "am I on PostgreSQL?".
 */
export interface DialectFlags {
  readonly name: 'sqlite' | 'postgres';
  readonly skipLocked: boolean;
  readonly listenNotify: boolean;
  /** Several processes may write at once (PostgreSQL); SQLite has one writer. */
  readonly concurrentWriters: boolean;
  readonly jsonType: 'text' | 'jsonb';
  /** INSERT, UPDATE and DELETE inside WITH (PostgreSQL's data-modifying CTEs), so several writes can be one statement. */
  readonly writableCtes: boolean;
  /**
   * Each statement is a round trip to a server (PostgreSQL), so fewer statements, and a lone
   * statement without BEGIN and COMMIT, pay off; SQLite runs statements in-process.
   */
  readonly roundTrips: boolean;
}

/** A SQL database, SQLite or PostgreSQL; `transaction` opens the same {@link Tx} handle on both. */
export interface Database extends Transactions {
  // Each capability narrows this to its own table types with `as Kysely<Tables>`.
  readonly db: Kysely<any>;
  readonly flags: DialectFlags;
  /** The raw handle, for the few hot paths whose SQL is written per engine. */
  readonly sqlite?: BetterSqlite3.Database;
  readonly pgPool?: pg.Pool;
  /** Human-readable location, without credentials. */
  readonly location: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** `postgres://...`; when absent, SQLite at `sqliteFile`. */
  readonly url?: string;
  readonly sqliteFile?: string;
  readonly poolSize?: number;
}

const INT8_OID = 20;

export function createDatabase(opts: DatabaseOptions): Database {
  if (opts.url && /^postgres(ql)?:\/\//i.test(opts.url)) return createPostgres(opts.url, opts.poolSize ?? 10);
  if (opts.url && !/^sqlite:/i.test(opts.url)) {
    throw new AiosError('AIOS_CONFIG_INVALID', `database URL must start with postgres:// or sqlite:, got ${opts.url.split(':')[0]}:`);
  }
  const file = opts.url ? opts.url.replace(/^sqlite:(\/\/)?/i, '') : opts.sqliteFile ?? ':memory:';
  return createSqlite(file);
}

/**
 * The database file is created 0600 before SQLite opens it: SQLite gives its -wal and -shm files
 * the mode of the database file, whatever the umask. An existing file, and its -wal and -shm
 * files, are brought to 0600 as well.
 */
function createPrivateDbFile(file: string): void {
  ensurePrivateDir(dirname(file));
  closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, PRIVATE_FILE_MODE);
}

function createSqlite(file: string): Database {
  if (file !== ':memory:' && !file.startsWith('file:')) createPrivateDbFile(file);
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode can lose the last commits on power loss (not on a process crash);
  // FULL syncs the WAL on every commit, which is what "acknowledged means on disk" needs.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  // 64 MiB of page cache keeps the id and offset indexes' hot pages in memory under heavy appends.
  sqlite.pragma('cache_size = -65536');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<any>({ dialect: guardedDialect(new SqliteDialect({ database: new StatementCache(sqlite) })) });
  const flags: DialectFlags = Object.freeze({ name: 'sqlite', skipLocked: false, listenNotify: false, concurrentWriters: false, jsonType: 'text', writableCtes: false, roundTrips: false });
  return {
    db,
    sqlite,
    location: `sqlite:${file}`,
    flags,
    ...sqliteTransactions(sqlite, db, flags),
    async close() {
      await db.destroy();
    },
  };
}

function createPostgres(url: string, max: number): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // int8 columns (offsets, epoch ms) fit in a double up to 2^53; parse them as numbers.
    types: { getTypeParser: ((oid: number, format?: any) => (oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format))) as any },
  });
  pool.on('error', () => {
    // An idle client lost its connection; the pool replaces it. Queries report their own errors.
  });
  const db = new Kysely<any>({ dialect: guardedDialect(new PostgresDialect({ pool })) });
  const u = new URL(url);
  const flags: DialectFlags = Object.freeze({ name: 'postgres', skipLocked: true, listenNotify: true, concurrentWriters: true, jsonType: 'jsonb', writableCtes: true, roundTrips: true });
  return {
    db,
    pgPool: pool,
    location: `postgres://${u.host}${u.pathname}`,
    flags,
    ...postgresTransactions(db, flags),
    async close() {
      await db.destroy();
    },
  };
}

/** Translates a driver error into an AiosError once, at the adapter boundary. */
export function translateDbError(e: unknown): unknown {
  const err = e as { code?: string; message?: string };
  if (err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new AiosError('AIOS_STORAGE_UNIQUE_VIOLATION', err.message, { cause: e });
  }
  if (err?.code === 'ECONNREFUSED' || err?.code === '57P01' || err?.code === 'SQLITE_BUSY') {
    return new AiosError('AIOS_UNAVAILABLE', `database: ${err.message}`, { cause: e });
  }
  return e;
}
