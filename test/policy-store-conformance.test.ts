import { beforeAll, beforeEach, expect } from 'vitest';
import { createLogger, isAiosError, ManualClock } from '../src/core/index.ts';
import { Authorizer, DEFAULT_POLICIES, PolicyStore, type Principal } from '../src/governance/index.ts';
import { CedarEngine } from '../src/runtime/index.ts';
import type { Database } from '../src/storage/index.ts';
import { conformance, SQL_BACKENDS, sqlDatabase } from './support/conformance.ts';

/**
 * The policy store on every SQL backend: the default set stored once as version 1, every version
 * kept, a set that does not compile refused and the active one kept, a new version applied to
 * decisions at once here and on refresh in another process, and a stored version that does not
 * compile passed over.
 */

const logger = createLogger({ level: 'silent' });
const engineer: Principal = { type: 'user', id: 'eng', namespace: 'plant-p', roles: ['engineer'], authMethod: 'api_key' };
const appendGuarded = { principal: engineer, action: 'events:append', resource: { type: 'Topic', id: 'guarded', namespace: 'plant-p' } } as const;
const FROZEN = `${DEFAULT_POLICIES}\n@id("guarded-is-read-only")\nforbid (principal, action == AIOS::Action::"events:append", resource == AIOS::Topic::"guarded") unless { principal in AIOS::Role::"admin" };\n`;

await conformance('policy store', { backends: SQL_BACKENDS, factory: sqlDatabase }, (t) => {
  const { it } = t;
  let database: Database;
  let clock: ManualClock;
  const open = (db: Database) => {
    const authorizer = new Authorizer(new CedarEngine({ clock, logger }));
    return { authorizer, policies: new PolicyStore({ database: db, clock, logger, authorizer }) };
  };
  let a: ReturnType<typeof open>;

  beforeAll(() => {
    database = t.fixture.database;
  });
  beforeEach(async () => {
    await database.db.deleteFrom('aios_policy_sets').execute();
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    a = open(database);
  });

  it('stores the default set as version 1 on a new database, once however many processes load', async () => {
    const others = [open(database), open(await t.fixture.connect())];
    await Promise.all([a.policies.load(), ...others.map((o) => o.policies.load())]);
    for (const p of [a, ...others]) expect(p.policies.activeVersion).toBe(1);
    const current = await a.policies.current();
    expect(current).toMatchObject({ version: 1, text: DEFAULT_POLICIES, createdAt: clock.now(), createdBy: 'aios-system', comment: 'default policy set' });
    expect(current.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(current.policyIds).toContain('namespace-isolation');
    expect((await a.policies.history({ limit: 10 })).map((v) => v.version)).toEqual([1]);
    expect(a.authorizer.authorize(appendGuarded).allowed).toBe(true);
  });

  it('stores a valid set as the next version and applies it to decisions at once', async () => {
    await a.policies.load();
    clock.advance(1000);
    const v2 = await a.policies.put(FROZEN, { createdBy: 'ana', comment: 'freeze guarded' });
    expect(v2).toMatchObject({ version: 2, text: FROZEN, createdAt: clock.now(), createdBy: 'ana', comment: 'freeze guarded' });
    expect(v2.policyIds).toContain('guarded-is-read-only');
    expect(a.policies.activeVersion).toBe(2);
    const denied = a.authorizer.authorize(appendGuarded);
    expect(denied).toMatchObject({ allowed: false, policySetHash: v2.hash, policyIds: ['guarded-is-read-only'] });
    const v3 = await a.policies.put(DEFAULT_POLICIES);
    expect(v3.version).toBe(3);
    expect(a.authorizer.authorize(appendGuarded).allowed).toBe(true);
    // Every version is kept, newest first, paged with `before`.
    expect((await a.policies.history({ limit: 10 })).map((v) => v.version)).toEqual([3, 2, 1]);
    const older = await a.policies.history({ before: 3, limit: 1 });
    expect(older.map((v) => [v.version, v.comment])).toEqual([[2, 'freeze guarded']]);
    expect(older[0].policyIds).toContain('guarded-is-read-only');
  });

  it('refuses a set that does not compile, changing nothing', async () => {
    await a.policies.load();
    for (const text of ['permit(principal, action == AIOS::Action::"topics:fly", resource);', 'permit(principal, action']) {
      const e = await a.policies.put(text).catch((err: unknown) => err);
      expect(isAiosError(e, 'AIOS_POLICY_INVALID')).toBe(true);
    }
    expect(a.policies.activeVersion).toBe(1);
    expect((await a.policies.history({ limit: 10 })).map((v) => v.version)).toEqual([1]);
  });

  it('reaches another process on refresh, and passes over a stored version that does not compile', async () => {
    await a.policies.load();
    const b = open(await t.fixture.connect());
    await b.policies.load();
    const v2 = await a.policies.put(FROZEN);
    expect(b.authorizer.authorize(appendGuarded).allowed, 'before the refresh').toBe(true);
    await b.policies.refresh();
    expect(b.policies.activeVersion).toBe(2);
    expect(b.authorizer.authorize(appendGuarded)).toMatchObject({ allowed: false, policySetHash: v2.hash });

    // A version written into the table by other means, which does not compile.
    await database.db.insertInto('aios_policy_sets').values({ version: 3, ns: '*', text: 'forbid(principal', hash: 'x'.repeat(64), created_at: clock.now(), created_by: null, comment: 'broken' }).execute();
    await b.policies.refresh();
    expect(b.policies.activeVersion).toBe(2);
    expect(b.authorizer.authorize(appendGuarded).allowed).toBe(false);
    // A fresh start activates the newest version that compiles.
    const c = open(await t.fixture.connect());
    await c.policies.load();
    expect(c.policies.activeVersion).toBe(2);
    expect((await c.policies.history({ limit: 1 }))[0]).toMatchObject({ version: 3, policyIds: [] });
    // The next put goes after it.
    expect((await a.policies.put(DEFAULT_POLICIES)).version).toBe(4);
  });
});
