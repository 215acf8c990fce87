import type { Database, Tx } from '../../storage/index.ts';
import type { AppendBatch, AppendedPosition } from '../event-store.ts';
import { postgresWriter } from './postgres-append.ts';
import { createSqliteWriter } from './sqlite-append.ts';

/**
 * Writes appended events' rows inside a transaction, the SQL of one engine: offsets reserved,
 * duplicates resolved to their first place. Per batch, per event, in order: where it landed.
 */
export interface RowWriter {
  write(tx: Tx, batches: readonly AppendBatch[], ingestedAt: number): Promise<AppendedPosition[][]>;
}

/** Each engine's writer: SQLite's prepared statements on its one connection, PostgreSQL's unnest insert. */
const WRITERS: Record<Database['flags']['name'], (database: Database) => RowWriter> = {
  sqlite: (database) => createSqliteWriter(database.sqlite!),
  postgres: () => postgresWriter,
};

export function rowWriter(database: Database): RowWriter {
  return WRITERS[database.flags.name](database);
}
