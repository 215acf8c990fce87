import type BetterSqlite3 from 'better-sqlite3';
import type { CompiledQuery, Kysely, RawBuilder } from 'kysely';
import { AiosError } from '../core/index.ts';
import type { DialectFlags } from './database.ts';
import { checkParameters } from './guarded-dialect.ts';
import { runAfterCommit, type Transactions, type Tx } from './transaction.ts';

/** Distinct statements kept prepared per database; the oldest goes first beyond it. */
const MAX_CACHED_STATEMENTS = 500;

/**
 * Transactions on the one better-sqlite3 connection. Kysely's SQLite driver hands that
 * connection out under a mutex; a transaction holds it from BEGIN IMMEDIATE to COMMIT, so no
 * Kysely statement of another caller interleaves with it, and runs its statements synchronously
 * on the raw handle through a cache of prepared statements (Kysely's driver prepares each
 * statement anew).
 */
export function sqliteTransactions(raw: BetterSqlite3.Database, db: Kysely<any>, flags: DialectFlags): Transactions {
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepared = (text: string): BetterSqlite3.Statement => {
    let st = cache.get(text);
    if (!st) {
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value as string);
      st = raw.prepare(text);
      cache.set(text, st);
    }
    return st;
  };
  const compiled = (statement: RawBuilder<unknown>, on: Kysely<any>): CompiledQuery => {
    const c = statement.compile(on);
    checkParameters(c);
    return c;
  };
  const handle = (on: Kysely<any>, after: (() => void)[] | undefined): Tx => ({
    db: on,
    flags,
    async query<R>(statement: RawBuilder<R>): Promise<R[]> {
      const c = compiled(statement, on);
      const st = prepared(c.sql);
      if (st.reader) return st.all(...c.parameters) as R[];
      st.run(...c.parameters);
      return [];
    },
    async run(statement: RawBuilder<unknown>): Promise<number> {
      const c = compiled(statement, on);
      return prepared(c.sql).run(...c.parameters).changes;
    },
    afterCommit(fn) {
      if (after) after.push(fn);
      else setImmediate(fn);
    },
  });
  return {
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const after: (() => void)[] = [];
      const result = await db.connection().execute(async (conn) => {
        prepared('begin immediate').run();
        try {
          const r = await fn(handle(conn, after));
          prepared('commit').run();
          return r;
        } catch (e) {
          if (raw.inTransaction) prepared('rollback').run();
          throw e;
        }
      });
      runAfterCommit(after);
      return result;
    },
    joinTransaction(trx: Kysely<any>): Tx {
      if (!raw.inTransaction) throw new AiosError('AIOS_INTERNAL', 'joinTransaction needs a transaction open on the database');
      return handle(trx, undefined);
    },
  };
}
