import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { migrate, MIGRATIONS } from '../src/runtime/index.ts';
import { conformance, SQL_BACKENDS } from './support/conformance.ts';
import { schemaDump } from './support/schema-dump.ts';

/** The migrations on every SQL backend, on one fresh database whose tests run in order. */
await conformance('migrations', { backends: SQL_BACKENDS, factory: (env) => env.freshDatabase() }, (t) => {
  const { it } = t;
  const open = () => t.fixture.connect({ migrations: false });

  it('applies every migration once; running again changes nothing', async () => {
    const db = await open();
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
    const db = await open();
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
    const dbs = await Promise.all([open(), open(), open()]);
    try {
      const results = await Promise.all(dbs.map((d) => migrate(d)));
      expect(results.every((r) => r.to === MIGRATIONS.at(-1)!.version)).toBe(true);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });
});

/**
 * The schema migrations 1 to 11 make, against what the build before the capability list made
 * (`test/fixtures/schema/*-0011.txt`, dumped from commit 3b115fe): moving the migrations into
 * their capabilities' folders changed no table, index, constraint or trigger, so a database made
 * by that build opens after it and takes only the migrations since.
 */
await conformance('the shipped schema', { backends: SQL_BACKENDS, factory: (env) => env.freshDatabase() }, (t) => {
  const { it } = t;

  it('migrations 1 to 11 make the schema they made before the capability list, and the rest apply on top', async () => {
    const db = await t.fixture.connect({ migrations: false });
    try {
      const shipped = MIGRATIONS.filter((m) => m.version <= 11);
      expect(shipped.map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      await migrate(db, shipped);
      const before = readFileSync(new URL(`./fixtures/schema/${t.backend}-0011.txt`, import.meta.url), 'utf8');
      expect(await schemaDump(db)).toBe(before);
      const rest = await migrate(db);
      expect(rest.from).toBe(11);
      expect(rest.applied).toEqual(MIGRATIONS.filter((m) => m.version > 11).map((m) => `${m.version}-${m.name}`));
    } finally {
      await db.close();
    }
  });
});
