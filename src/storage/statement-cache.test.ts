import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createDatabase } from './database.ts';
import { StatementCache } from './statement-cache.ts';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

function cache(opts: ConstructorParameters<typeof StatementCache>[1] = {}) {
  const raw = new BetterSqlite3(':memory:');
  raw.exec('create table t (id integer primary key, v text not null)');
  const c = new StatementCache(raw, opts);
  open.push(c);
  return c;
}

describe('statement cache', () => {
  it('returns the statement it prepared before for the same SQL, which runs with new parameters each time', () => {
    const c = cache();
    const insert = c.prepare('insert into t (v) values (?)');
    expect(c.prepare('insert into t (v) values (?)')).toBe(insert);
    expect(insert.reader).toBe(false);
    insert.run(['a']);
    c.prepare('insert into t (v) values (?)').run(['b']);
    const select = c.prepare('select v from t where id >= ? order by id');
    expect(select.reader).toBe(true);
    expect(select.all([1])).toEqual([{ v: 'a' }, { v: 'b' }]);
    expect(c.prepare('select v from t where id >= ? order by id').all([2])).toEqual([{ v: 'b' }]);
    expect(c.size).toBe(2);
  });

  it('keeps at most maxStatements, dropping the least recently used', () => {
    const c = cache({ maxStatements: 2 });
    const one = c.prepare('select 1');
    const two = c.prepare('select 2');
    expect(c.prepare('select 1')).toBe(one); // now the most recently used
    c.prepare('select 3'); // drops 'select 2'
    expect(c.size).toBe(2);
    expect(c.prepare('select 1')).toBe(one);
    expect(c.prepare('select 2')).not.toBe(two);
    expect(c.size).toBe(2);
  });

  it('does not keep statements whose SQL is longer than maxSqlLength', () => {
    const c = cache({ maxSqlLength: 40 });
    const long = `select v from t where v in (${Array.from({ length: 20 }, () => '?').join(', ')})`;
    expect(c.prepare(long)).not.toBe(c.prepare(long));
    expect(c.size).toBe(0);
  });

  it('hands out a fresh statement while the cached one is iterating, and both read correctly', () => {
    const c = cache();
    const insert = c.prepare('insert into t (v) values (?)');
    for (const v of ['a', 'b', 'c']) insert.run([v]);
    const q = 'select v from t where id >= ? order by id';
    const first = c.prepare(q);
    const iter = first.iterate([1]) as IterableIterator<{ v: string }>;
    expect(iter.next().value).toEqual({ v: 'a' });
    expect(first.busy).toBe(true);
    const second = c.prepare(q);
    expect(second).not.toBe(first);
    expect(second.all([2])).toEqual([{ v: 'b' }, { v: 'c' }]);
    expect([...iter]).toEqual([{ v: 'b' }, { v: 'c' }]);
    // The replacement is the one kept.
    expect(c.prepare(q)).toBe(second);
  });

  it('serves Kysely: concurrent reads, writes and streams of the same queries read what they wrote', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aios-stmt-cache-'));
    const database = createDatabase({ sqliteFile: join(dir, 'db.sqlite') });
    try {
      const db = database.db;
      await db.schema.createTable('kv').addColumn('k', 'text', (c) => c.primaryKey()).addColumn('n', 'integer', (c) => c.notNull()).execute();
      await Promise.all(Array.from({ length: 50 }, (_, i) => db.insertInto('kv').values({ k: `k${i}`, n: i }).execute()));
      const updated = await Promise.all(Array.from({ length: 50 }, (_, i) => db.updateTable('kv').set({ n: sql`n + 100` }).where('k', '=', `k${i}`).executeTakeFirst()));
      expect(updated.every((u) => Number(u.numUpdatedRows) === 1)).toBe(true);
      const returned = await db.insertInto('kv').values({ k: 'extra', n: 7 }).returning(['k', 'n']).executeTakeFirstOrThrow();
      expect(returned).toEqual({ k: 'extra', n: 7 });
      const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => db.selectFrom('kv').select('n').where('k', '=', `k${i}`).executeTakeFirstOrThrow()));
      expect(reads.map((r) => r.n)).toEqual(Array.from({ length: 50 }, (_, i) => i + 100));

      // A stream left early resets its statement, and the same query runs again; a stream and
      // executions of its query at once each read everything.
      const query = () => db.selectFrom('kv').select(['k', 'n']).where('n', '>=', 140).orderBy('k');
      const firstTwo: string[] = [];
      for await (const row of query().stream()) {
        firstTwo.push(row.k);
        if (firstTwo.length === 2) break;
      }
      expect(firstTwo).toEqual(['k40', 'k41']);
      expect(await query().execute()).toHaveLength(10);
      const collect = async () => {
        const rows: string[] = [];
        for await (const row of query().stream()) rows.push(row.k);
        return rows;
      };
      const [streamed, ...executed] = await Promise.all([collect(), ...Array.from({ length: 5 }, () => query().execute())]);
      const expected = Array.from({ length: 10 }, (_, i) => `k${40 + i}`);
      expect(streamed).toEqual(expected);
      for (const rows of executed) expect((rows as { k: string }[]).map((r) => r.k)).toEqual(expected);
    } finally {
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is what a plain Kysely SqliteDialect takes as its database', async () => {
    const c = cache();
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: c }) });
    await db.insertInto('t').values({ v: 'x' }).execute();
    await db.insertInto('t').values({ v: 'y' }).execute();
    expect((await db.selectFrom('t').select('v').orderBy('id').execute()).map((r) => r.v)).toEqual(['x', 'y']);
    expect(c.size).toBe(2);
    open.pop(); // db.destroy closes it
    await db.destroy();
  });
});
