export { createDatabase, translateDbError } from './database.ts';
export type { Database, DatabaseOptions, DialectFlags } from './database.ts';
export { migrate } from './migrate.ts';
export type { Migration, MigrateResult } from './migrate.ts';
export { MIGRATIONS } from './migrations/index.ts';
