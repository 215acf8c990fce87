import type { ColumnType, Kysely } from 'kysely';

/**
 * A handle on the database whose table types the receiver does not know: the transaction one
 * capability opens and another writes into (the event log's append transaction, into which the
 * audit trail and lineage write their records; a workflow step's journal transaction, into which
 * the event log appends). Each capability types its handles with its own tables; a method that
 * joins a caller's transaction takes a `SharedDb` and narrows it once to its tables
 * (`trx as Kysely<LineageTables>`). Kysely's table type is invariant (a `Kysely<A & B>` is not a
 * `Kysely<A>`), so a handle that crosses capabilities cannot keep a precise type.
 */
export type SharedDb = Kysely<any>;

/**
 * A column created with `flags.jsonType` (TEXT on SQLite, JSONB on PostgreSQL). The code writes
 * JSON text on both engines; a plain select reads text back on SQLite and the parsed value on
 * PostgreSQL, hence `unknown` (queries that need text on both cast the column, as `jsonText` does).
 */
export type JsonColumn = ColumnType<unknown, string, string>;
export type NullableJsonColumn = ColumnType<unknown, string | null, string | null>;
