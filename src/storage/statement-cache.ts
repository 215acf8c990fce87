import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

export interface StatementCacheOptions {
  /** Most statements kept; the least recently used goes first. Default 256. */
  readonly maxStatements?: number;
  /**
   * Longest SQL text kept, in characters. Longer statements (multi-row inserts, whose text grows
   * with the rows) are prepared each time, as without the cache: each variant is rarely reused,
   * and their compiled programs are large. Default 16 KiB.
   */
  readonly maxSqlLength?: number;
}

/**
 * A better-sqlite3 database, as Kysely's SqliteDialect sees it, whose `prepare(sql)` returns a
 * cached statement for SQL it has prepared before. Kysely's SQLite driver prepares every query it
 * runs; preparing was about 19 % of the CPU of the workflow benchmark's SQLite cases, where the
 * same few statements run for every step.
 *
 * Reuse is safe because better-sqlite3 runs `all` and `run` to completion synchronously and binds
 * the parameters afresh on each call. The one exception is `iterate` (Kysely's `stream`): a
 * statement stays busy until its iterator ends, and may not run meanwhile. Kysely holds the one
 * connection for a stream's length, but an iterator left open is not the cache's to prevent: a
 * cached statement found busy is replaced by a new one, which the cache keeps from then on, and
 * the busy one belongs to its iterator alone. A statement's `reader` flag depends only on its
 * SQL, so it holds across reuses.
 *
 * @example
 * const dialect = new SqliteDialect({ database: new StatementCache(new BetterSqlite3(file)) });
 */
export class StatementCache implements SqliteDatabase {
  readonly #db: BetterSqlite3.Database;
  readonly #max: number;
  readonly #maxSql: number;
  /** In order of use: Map keeps insertion order, and a hit is moved to the end. */
  readonly #statements = new Map<string, BetterSqlite3.Statement>();

  constructor(db: BetterSqlite3.Database, opts: StatementCacheOptions = {}) {
    this.#db = db;
    this.#max = Math.max(0, opts.maxStatements ?? 256);
    this.#maxSql = opts.maxSqlLength ?? 16 * 1024;
  }

  /** Statements held. */
  get size(): number {
    return this.#statements.size;
  }

  prepare(sql: string): BetterSqlite3.Statement {
    if (sql.length > this.#maxSql || this.#max === 0) return this.#db.prepare(sql);
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      this.#statements.delete(sql);
      if (!cached.busy) {
        this.#statements.set(sql, cached);
        return cached;
      }
    }
    const stmt = this.#db.prepare(sql);
    this.#statements.set(sql, stmt);
    if (this.#statements.size > this.#max) this.#statements.delete(this.#statements.keys().next().value!);
    return stmt;
  }

  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
