import { beforeAll, beforeEach, expect } from 'vitest';
import { createLogger, isAiosError, ManualClock } from '../src/core/index.ts';
import { ApiKeyStore, type Principal } from '../src/governance/index.ts';
import type { Database } from '../src/storage/index.ts';
import { conformance, SQL_BACKENDS, sqlDatabase } from './support/conformance.ts';
import { until } from './support/until.ts';

/**
 * The API key store on every SQL backend: keys shown once and stored as a hash, listed by
 * namespace, authenticated, revoked, expired; a revocation reaching another process within the
 * cache time; and one bootstrap admin key however many processes start at once.
 */

const logger = createLogger({ level: 'silent' });
const CACHE_MS = 5_000;

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (err: unknown) => err,
  );
  if (!isAiosError(e)) throw e;
  return e.code;
}

await conformance(
  'API key store',
  {
    backends: SQL_BACKENDS,
    factory: sqlDatabase,
    skip: [{ backend: 'sqlite', reason: 'one writer: a second process never starts alongside the first', tests: ['creates one bootstrap admin key when processes on separate connections start at once'] }],
  },
  (t) => {
    const { it } = t;
    let database: Database;
    let clock: ManualClock;
    let keys: ApiKeyStore;
    const storeOn = (db: Database, touchIntervalMs = 60_000) => new ApiKeyStore({ database: db, clock, logger, cacheMs: CACHE_MS, touchIntervalMs });

    beforeAll(() => {
      database = t.fixture.database;
    });
    beforeEach(async () => {
      await database.db.deleteFrom('aios_api_keys').execute();
      clock = new ManualClock(Date.UTC(2026, 0, 1));
      keys = storeOn(database);
    });

    it('creates a key shown once, stores only its hash, and gets it back by id', async () => {
      expect(await keys.any()).toBe(false);
      const { key, info } = await keys.create('plant-a', { name: 'gateway', roles: ['service', 'service'] });
      expect(key).toMatch(/^aios_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$/);
      expect(key.startsWith(`${info.id}_`)).toBe(true);
      expect(info).toEqual({
        id: info.id,
        namespace: 'plant-a',
        name: 'gateway',
        principal: { type: 'service', id: `key:${info.id}` },
        roles: ['service'],
        createdAt: clock.now(),
        createdBy: 'aios-system',
        expiresAt: null,
        revokedAt: null,
        lastUsedAt: null,
      });
      expect(await keys.get('plant-a', info.id)).toEqual(info);
      expect(await keys.any()).toBe(true);
      const row = await database.db.selectFrom('aios_api_keys').selectAll().where('id', '=', info.id).executeTakeFirstOrThrow();
      expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.toContain(key.slice(info.id.length + 1));
    });

    it('lists the keys of one namespace in id order, page by page', async () => {
      const made: string[] = [];
      for (let i = 0; i < 5; i++) made.push((await keys.create('plant-a', { name: `k${i}`, roles: ['viewer'] })).info.id);
      await keys.create('plant-b', { name: 'elsewhere', roles: ['viewer'] });
      made.sort();
      const first = await keys.list('plant-a', { limit: 3 });
      expect(first.map((k) => k.id)).toEqual(made.slice(0, 3));
      const rest = await keys.list('plant-a', { after: first[2].id, limit: 3 });
      expect(rest.map((k) => k.id)).toEqual(made.slice(3));
      expect((await keys.list('plant-b', { limit: 10 })).map((k) => k.name)).toEqual(['elsewhere']);
      expect(await codeOf(keys.get('plant-b', made[0]))).toBe('AIOS_NOT_FOUND');
    });

    it('authenticates the key as its principal, and nothing that is not exactly the key', async () => {
      const { key, info } = await keys.create('plant-a', { name: 'ana', roles: ['operator'], type: 'user', principalId: 'ana' });
      expect(await keys.authenticate(key)).toEqual({ type: 'user', id: 'ana', namespace: 'plant-a', roles: ['operator'], authMethod: 'api_key', keyId: info.id });
      const wrongSecret = `${info.id}_${'A'.repeat(43)}`;
      expect(await keys.authenticate(wrongSecret)).toBeUndefined();
      expect(await keys.authenticate('aios_zzzzzzzzzzzz_' + 'B'.repeat(43))).toBeUndefined();
      expect(await keys.authenticate('not a key')).toBeUndefined();
      expect(await keys.authenticate(key.slice(0, -1))).toBeUndefined();
    });

    it('revokes at once in this process; revoking again keeps the first time; an unknown key or another namespace is not found', async () => {
      const { key, info } = await keys.create('plant-a', { name: 'short-lived', roles: ['viewer'] });
      expect(await keys.authenticate(key)).toBeDefined();
      clock.advance(1000);
      const revoked = await keys.revoke('plant-a', info.id);
      expect(revoked.revokedAt).toBe(clock.now());
      expect(await keys.authenticate(key)).toBeUndefined();
      clock.advance(1000);
      expect((await keys.revoke('plant-a', info.id)).revokedAt).toBe(revoked.revokedAt);
      expect(await codeOf(keys.revoke('plant-a', 'aios_nosuchkey000'))).toBe('AIOS_NOT_FOUND');
      const other = await keys.create('plant-a', { name: 'other', roles: ['viewer'] });
      expect(await codeOf(keys.revoke('plant-b', other.info.id))).toBe('AIOS_NOT_FOUND');
      expect(await keys.authenticate(other.key)).toBeDefined();
    });

    it('reaches another process with a revocation once its cache time has passed', async () => {
      const elsewhere = storeOn(await t.fixture.connect());
      const { key, info } = await keys.create('plant-a', { name: 'shared', roles: ['viewer'] });
      expect((await elsewhere.authenticate(key))?.keyId).toBe(info.id);
      await keys.revoke('plant-a', info.id);
      expect(await keys.authenticate(key)).toBeUndefined();
      // Within its cache time the other process still holds the key it verified...
      clock.advance(CACHE_MS);
      expect((await elsewhere.authenticate(key))?.keyId).toBe(info.id);
      // ...and reads the revocation once that time has passed.
      clock.advance(1);
      expect(await elsewhere.authenticate(key)).toBeUndefined();
    });

    it('expires a key at its expiry time and refuses one that expired already', async () => {
      const { key } = await keys.create('plant-a', { name: 'brief', roles: ['viewer'], expiresAt: clock.now() + 60_000 });
      clock.advance(59_999);
      expect(await keys.authenticate(key)).toBeDefined();
      clock.advance(1);
      expect(await keys.authenticate(key)).toBeUndefined();
      expect(await codeOf(keys.create('plant-a', { name: 'late', roles: ['viewer'], expiresAt: clock.now() }))).toBe('AIOS_AUTH_KEY_INVALID');
    });

    it('records a key\'s last use, at most once per interval', async () => {
      const touching = storeOn(database, 10_000);
      const { key, info } = await touching.create('plant-a', { name: 'used', roles: ['viewer'] });
      const usedAt = clock.now();
      await touching.authenticate(key);
      await until(async () => (await touching.get('plant-a', info.id)).lastUsedAt === usedAt, 'the first use to be recorded');
      clock.advance(9_999);
      await touching.authenticate(key);
      clock.advance(1);
      const second = clock.now();
      await touching.authenticate(key);
      await until(async () => (await touching.get('plant-a', info.id)).lastUsedAt === second, 'the use after the interval to be recorded');
    });

    it('refuses an invalid key, and one beyond what its creator holds', async () => {
      expect(await codeOf(keys.create('plant-a', { name: 'x', roles: ['root'] }))).toBe('AIOS_AUTH_KEY_INVALID');
      expect(await codeOf(keys.create('plant-a', { name: 'x', roles: [] }))).toBe('AIOS_AUTH_KEY_INVALID');
      expect(await codeOf(keys.create('Not A Namespace!', { name: 'x', roles: ['viewer'] }))).toBe('AIOS_AUTH_KEY_INVALID');
      const operator: Principal = { type: 'user', id: 'op', namespace: 'plant-a', roles: ['operator'], authMethod: 'api_key' };
      expect(await codeOf(keys.create('plant-a', { name: 'x', roles: ['admin'], by: operator }))).toBe('AIOS_AUTH_FORBIDDEN');
      expect(await codeOf(keys.create('plant-b', { name: 'x', roles: ['viewer'], by: operator }))).toBe('AIOS_AUTH_FORBIDDEN');
      const granted = await keys.create('plant-a', { name: 'by-op', roles: ['viewer'], by: operator });
      expect(granted.info.createdBy).toBe('plant-a/op');
      expect((await keys.list('plant-a', { limit: 10 })).map((k) => k.name)).toEqual(['by-op']);
    });

    it('creates the bootstrap admin key once, whatever the number of concurrent starts', async () => {
      const results = await Promise.all(Array.from({ length: 5 }, () => keys.bootstrapAdmin(database.flags)));
      const made = results.filter((k): k is string => k !== undefined);
      expect(made).toHaveLength(1);
      expect(await keys.authenticate(made[0])).toMatchObject({ type: 'user', id: 'admin', namespace: '*', roles: ['admin'] });
      expect(await keys.bootstrapAdmin(database.flags)).toBeUndefined();
    });

    it('creates one bootstrap admin key when processes on separate connections start at once', async () => {
      const stores = [keys, ...(await Promise.all(Array.from({ length: 3 }, async () => storeOn(await t.fixture.connect()))))];
      const results = await Promise.all(stores.map((s) => s.bootstrapAdmin(database.flags)));
      expect(results.filter((k) => k !== undefined)).toHaveLength(1);
      expect(await database.db.selectFrom('aios_api_keys').select('id').execute()).toHaveLength(1);
    });
  },
);
