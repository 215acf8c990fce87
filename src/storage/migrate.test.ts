import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshPgSchema, pgAvailable } from '../../test/support/services.ts';
import { MIGRATIONS, migrate } from '../runtime/index.ts';
import { createDatabase, type Database } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'aios-mig-'));
const pg = (await pgAvailable()) ? await freshPgSchema() : undefined;
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await pg?.drop();
});

const engines: { name: string; open: () => Database; skip: boolean }[] = [
  { name: 'sqlite', open: () => createDatabase({ sqliteFile: join(dir, 'm.db') }), skip: false },
  { name: 'postgres', open: () => createDatabase({ url: pg!.url }), skip: !pg },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`migrations on ${engine.name}`, () => {
    it('applies every migration once; running again changes nothing', async () => {
      const db = engine.open();
      try {
        const first = await migrate(db);
        expect(first.from).toBe(0);
        expect(first.applied).toHaveLength(MIGRATIONS.length);
        const second = await migrate(db);
        expect(second.applied).toEqual([]);
        expect(second.from).toBe(first.to);
        const rows = await db.db.selectFrom('aios_schema_migrations').selectAll().execute();
        expect(rows).toHaveLength(MIGRATIONS.length);
      } finally {
        await db.close();
      }
    });

    it('refuses a database whose schema is newer than the code, and says so', async () => {
      const db = engine.open();
      try {
        await migrate(db);
        await db.db.insertInto('aios_schema_migrations').values({ version: 999, name: 'from-the-future', applied_at: 0 }).execute();
        await expect(migrate(db)).rejects.toMatchObject({ code: 'AIOS_STORAGE_SCHEMA_NEWER', message: expect.stringContaining('schema version 999') });
        await db.db.deleteFrom('aios_schema_migrations').where('version', '=', 999).execute();
      } finally {
        await db.close();
      }
    });

    it('migrates safely when several processes start at once', async () => {
      const dbs = [engine.open(), engine.open(), engine.open()];
      try {
        const results = await Promise.all(dbs.map((d) => migrate(d)));
        expect(results.every((r) => r.to === MIGRATIONS.at(-1)!.version)).toBe(true);
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
    });
  });
}
