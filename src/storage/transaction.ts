import type { Kysely, RawBuilder } from 'kysely';
import type { DialectFlags } from './database.ts';

/**
 * One database transaction, the same on SQLite and PostgreSQL, for code that must commit its
 * writes with another capability's (an append's audit record and lineage node, a journal
 * entry's). Write statements with Kysely's `sql` tag and run them with `query` or `run`, or use
 * `db`, a Kysely bound to the transaction; ask `flags` what the engine can do rather than which
 * engine it is.
 *
 * On SQLite the transaction holds the one connection and every statement runs synchronously on
 * it, through a cache of prepared statements: `query` and `run` return settled promises and cost
 * what a better-sqlite3 call costs (statement preparation was a fifth of the CPU of the hot
 * paths before the cache). On PostgreSQL they are ordinary queries on the transaction's
 * connection.
 *
 * @example
 * await database.transaction(async (tx) => {
 *   await tx.run(sql`update aios_partitions set next_offset = next_offset + ${n} where topic_id = ${id}`);
 *   const [head] = await tx.query<{ last_seq: number }>(sql`select last_seq from aios_audit_head where id = 1`);
 *   tx.afterCommit(() => wakeReaders());
 * });
 */
export interface Tx {
  /** Kysely bound to this transaction: its statements run inside it. */
  readonly db: Kysely<any>;
  readonly flags: DialectFlags;
  /** Runs one statement; the rows it returns (none for a statement that returns none). */
  query<R>(statement: RawBuilder<R>): Promise<R[]>;
  /** Runs one statement for its effect; how many rows it inserted, changed or deleted. */
  run(statement: RawBuilder<unknown>): Promise<number>;
  /**
   * Calls `fn` once the transaction has committed, never when it rolls back. In a transaction
   * joined with `Database.joinTransaction`, whose owner commits it, `fn` runs when the current
   * turn of the event loop ends and must tolerate the transaction having rolled back.
   */
  afterCommit(fn: () => void): void;
}

/** How a database opens transactions; part of {@link Database}. */
export interface Transactions {
  /**
   * Runs `fn` in a transaction of its own: committed when `fn` resolves, rolled back when it
   * throws. On SQLite it begins IMMEDIATE, taking the write lock at once.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * The handle of a Kysely transaction already open on this database
   * (`db.transaction().execute((trx) => …)`), for code handed `trx` by its caller.
   */
  joinTransaction(trx: Kysely<any>): Tx;
}

/** Runs each after-commit callback; one that throws does not stop the others. */
export function runAfterCommit(callbacks: readonly (() => void)[]): void {
  for (const fn of callbacks) {
    try {
      fn();
    } catch {
      // An after-commit callback reports its own errors; the transaction has committed.
    }
  }
}
