import { sql } from 'kysely';
import type { Database } from '../../src/storage/index.ts';

/**
 * The schema a database holds, as text that two builds can be compared on: every table, column,
 * index, constraint, trigger and function, in a stable order, with the PostgreSQL schema's own
 * name taken out.
 */
export async function schemaDump(database: Database): Promise<string> {
  const { db } = database;
  if (database.flags.name === 'sqlite') {
    const rows = await sql<{ type: string; name: string; sql: string | null }>`
      select type, name, sql from sqlite_master where name not like 'sqlite_%' order by type, name`.execute(db);
    return rows.rows.map((r) => `${r.type} ${r.name}\n  ${r.sql ?? ''}`).join('\n') + '\n';
  }
  const schema = (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0].s;
  const strip = (s: string) => s.split(`${schema}.`).join('');
  const columns = await sql<{ t: string; c: string; type: string; nullable: string; dflt: string | null }>`
    select table_name as t, column_name as c, data_type as type, is_nullable as nullable, column_default as dflt
    from information_schema.columns where table_schema = current_schema() order by table_name, ordinal_position`.execute(db);
  const indexes = await sql<{ def: string }>`
    select indexdef as def from pg_indexes where schemaname = current_schema() order by indexname`.execute(db);
  const constraints = await sql<{ t: string; name: string; def: string }>`
    select conrelid::regclass::text as t, conname as name, pg_get_constraintdef(oid) as def
    from pg_constraint where connamespace = current_schema()::regnamespace order by 1, 2`.execute(db);
  const triggers = await sql<{ t: string; name: string; def: string }>`
    select tgrelid::regclass::text as t, tgname as name, pg_get_triggerdef(oid) as def
    from pg_trigger where not tgisinternal and tgrelid in (select oid from pg_class where relnamespace = current_schema()::regnamespace) order by 1, 2`.execute(db);
  const functions = await sql<{ name: string; def: string }>`
    select proname as name, pg_get_functiondef(oid) as def from pg_proc where pronamespace = current_schema()::regnamespace order by 1`.execute(db);
  return [
    ...columns.rows.map((r) => `column ${r.t}.${r.c} ${r.type} ${r.nullable === 'YES' ? 'null' : 'not null'}${r.dflt ? ` default ${r.dflt}` : ''}`),
    ...indexes.rows.map((r) => `index ${strip(r.def)}`),
    ...constraints.rows.map((r) => `constraint ${strip(r.t)} ${r.name} ${strip(r.def)}`),
    ...triggers.rows.map((r) => `trigger ${strip(r.t)} ${r.name} ${strip(r.def)}`),
    ...functions.rows.map((r) => `function ${r.name}\n${strip(r.def)}`),
  ].map(strip).join('\n') + '\n';
}
