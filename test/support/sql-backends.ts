import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabase, type Database } from '../../src/storage/index.ts';
import { freshPgSchema, pgAvailable } from './services.ts';

/** A SQL database for a conformance suite; `connect` opens one more connection, as another process would. */
export interface SqlBackend {
  readonly name: 'sqlite' | 'postgres';
  readonly available: boolean;
  connect(): Promise<Database>;
  cleanup(): Promise<void>;
}

function sqliteBackend(prefix: string): SqlBackend {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    name: 'sqlite',
    available: true,
    connect: async () => createDatabase({ sqliteFile: join(dir, 'aios.db') }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresBackend(): Promise<SqlBackend> {
  const available = await pgAvailable();
  const schema = available ? await freshPgSchema() : undefined;
  return { name: 'postgres', available, connect: async () => createDatabase({ url: schema!.url }), cleanup: async () => schema?.drop() };
}

/** SQLite (a fresh file) and PostgreSQL (a fresh schema; `available` false when unreachable). */
export async function sqlBackends(prefix = 'aios-sql-'): Promise<SqlBackend[]> {
  return [sqliteBackend(prefix), await postgresBackend()];
}
