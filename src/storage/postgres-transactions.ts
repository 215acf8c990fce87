import type { Kysely, RawBuilder } from 'kysely';
import type { DialectFlags } from './database.ts';
import { runAfterCommit, type Transactions, type Tx } from './transaction.ts';

/** Transactions on a pooled PostgreSQL connection, through Kysely. */
export function postgresTransactions(db: Kysely<any>, flags: DialectFlags): Transactions {
  const handle = (trx: Kysely<any>, after: (() => void)[] | undefined): Tx => ({
    db: trx,
    flags,
    async query<R>(statement: RawBuilder<R>): Promise<R[]> {
      return (await statement.execute(trx)).rows;
    },
    async run(statement: RawBuilder<unknown>): Promise<number> {
      return Number((await statement.execute(trx)).numAffectedRows ?? 0);
    },
    afterCommit(fn) {
      if (after) after.push(fn);
      else setImmediate(fn);
    },
  });
  return {
    async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      const after: (() => void)[] = [];
      const result = await db.transaction().execute((trx) => fn(handle(trx, after)));
      runAfterCommit(after);
      return result;
    },
    joinTransaction: (trx) => handle(trx, undefined),
  };
}
