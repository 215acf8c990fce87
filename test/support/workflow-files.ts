import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createDatabase, type Database } from '../../src/storage/index.ts';
import { migrate } from '../../src/runtime/index.ts';

/**
 * Migrated SQLite databases on files (so several engines can share one, as processes would),
 * and the engines using them; after each test the engines stop, the databases close and the
 * files go.
 */
export function useWorkflowFiles(prefix: string) {
  const dirs: string[] = [];
  const open: Database[] = [];
  const engines: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop();
    for (const d of open.splice(0)) await d.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    async database(): Promise<Database> {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      const db = createDatabase({ sqliteFile: join(dir, 'aios.db') });
      open.push(db);
      await migrate(db);
      return db;
    },
    /** Stops `engine` after the test. */
    track<E extends { stop(): Promise<void> }>(engine: E): E {
      engines.push(engine);
      return engine;
    },
  };
}
