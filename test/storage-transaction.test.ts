import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';

/** The one transaction handle behaves the same on both engines. */
const engines: { name: string; available: boolean; open(): Promise<{ database: Database; cleanup(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    available: true,
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'aios-tx-'));
      const database = createDatabase({ sqliteFile: join(dir, 'aios.db') });
      return { database, cleanup: async () => { await database.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'postgres',
    available: await pgAvailable(),
    async open() {
      const schema = await freshPgSchema();
      const database = createDatabase({ url: schema.url });
      return { database, cleanup: async () => { await database.close(); await schema.drop(); } };
    },
  },
];

for (const engine of engines) {
  describe.skipIf(!engine.available)(`the transaction handle on ${engine.name}`, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    const values = async () => (await database.db.selectFrom('tx_t').select('v').orderBy('v').execute()).map((r) => Number(r.v));

    beforeAll(async () => {
      ({ database, cleanup } = await engine.open());
      await sql`create table tx_t (v integer primary key, note text)`.execute(database.db);
    });
    afterAll(() => cleanup?.());

    it('commits what query, run and the bound Kysely wrote, and calls afterCommit after the commit', async () => {
      const seen: number[][] = [];
      const r = await database.transaction(async (tx) => {
        expect(await tx.run(sql`insert into tx_t (v, note) values (${1}, ${'a'}), (${2}, ${'b'})`)).toBe(2);
        await tx.db.insertInto('tx_t').values({ v: 3, note: 'c' }).execute();
        tx.afterCommit(() => void values().then((v) => seen.push(v)));
        const rows = await tx.query<{ v: number; note: string }>(sql`select v, note from tx_t where v >= ${2} order by v`);
        expect(await tx.run(sql`update tx_t set note = ${'z'} where v = ${1}`)).toBe(1);
        return rows.map((x) => `${Number(x.v)}${x.note}`);
      });
      expect(r).toEqual(['2b', '3c']);
      expect(await values()).toEqual([1, 2, 3]);
      await new Promise((done) => setTimeout(done, 20));
      expect(seen).toEqual([[1, 2, 3]]);
    });

    it('rolls everything back when the function throws, and never calls afterCommit', async () => {
      let called = false;
      await expect(
        database.transaction(async (tx) => {
          await tx.run(sql`insert into tx_t (v) values (${4})`);
          tx.afterCommit(() => (called = true));
          throw new Error('injected');
        }),
      ).rejects.toThrow('injected');
      await expect(database.transaction((tx) => tx.run(sql`insert into tx_t (v) values (${1})`))).rejects.toThrow();
      expect(await values()).toEqual([1, 2, 3]);
      expect(called).toBe(false);
    });

    it('refuses a NUL in a text parameter, as every Kysely statement does', async () => {
      await expect(database.transaction((tx) => tx.run(sql`insert into tx_t (v, note) values (${5}, ${'a\u0000b'})`))).rejects.toMatchObject({ code: 'AIOS_VALIDATION' });
    });

    it('joins a Kysely transaction opened by someone else: its writes commit or roll back with it', async () => {
      await database.db.transaction().execute(async (trx) => {
        const tx = database.joinTransaction(trx);
        await tx.run(sql`insert into tx_t (v) values (${6})`);
        expect((await tx.query<{ n: number }>(sql`select count(*) as n from tx_t`)).map((x) => Number(x.n))).toEqual([4]);
      });
      await expect(
        database.db.transaction().execute(async (trx) => {
          await database.joinTransaction(trx).run(sql`insert into tx_t (v) values (${7})`);
          throw new Error('injected');
        }),
      ).rejects.toThrow('injected');
      expect(await values()).toEqual([1, 2, 3, 6]);
    });

    it('runs transactions one after another when they overlap in time', async () => {
      await Promise.all(
        [10, 20, 30].map((base) =>
          database.transaction(async (tx) => {
            await tx.run(sql`insert into tx_t (v) values (${base})`);
            await new Promise((done) => setTimeout(done, 5));
            await tx.run(sql`insert into tx_t (v) values (${base + 1})`);
          }),
        ),
      );
      expect(await values()).toEqual([1, 2, 3, 6, 10, 11, 20, 21, 30, 31]);
    });
  });
}
