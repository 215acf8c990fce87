export { createDatabase, translateDbError } from './database.ts';
export type { Database, DatabaseOptions, DialectFlags } from './database.ts';
export { migrate } from './migrate.ts';
export type { Migration, MigrateResult } from './migrate.ts';
export { ensurePrivateDir, exposedMode, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, tightenFiles } from './data-dir.ts';
