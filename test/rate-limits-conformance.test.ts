import { beforeAll, expect } from 'vitest';
import { isAiosError } from '../src/core/index.ts';
import { RateLimits, type Principal } from '../src/governance/index.ts';
import type { RateLimitOptions } from '../src/governance/identity/rate-limits.ts';
import type { Database } from '../src/storage/index.ts';
import { conformance, SQL_BACKENDS, sqlDatabase } from './support/conformance.ts';
import { randomName } from './support/services.ts';

/**
 * Rate limits on every SQL backend: requests counted per principal (by namespace, id and how it
 * authenticated) and per namespace, refused past the limit with the time to wait, and, on
 * PostgreSQL, counted once across processes. An hour's window: every request of a test falls in
 * it however slow the machine, so the counts are exact.
 */

const HOUR = 3600;
const principal = (id: string, namespace = 'plant-a', authMethod: Principal['authMethod'] = 'api_key'): Principal => ({ type: 'user', id, namespace, roles: ['viewer'], authMethod });

/** How many of `n` requests pass before the first refusal, and the refusal's wait. */
async function admitted(limits: RateLimits, who: Principal, ns: string, n: number): Promise<{ passed: number; retryAfterSeconds?: number }> {
  let passed = 0;
  for (let i = 0; i < n; i++) {
    try {
      await limits.consume(who, ns);
      passed++;
    } catch (e) {
      if (!isAiosError(e, 'AIOS_AUTH_RATE_LIMITED')) throw e;
      expect(passed, 'a refusal is followed by refusals only').toBe(i);
      return { passed, retryAfterSeconds: (e.extra as { retryAfterSeconds: number }).retryAfterSeconds };
    }
  }
  return { passed };
}

await conformance(
  'rate limits',
  {
    backends: SQL_BACKENDS,
    factory: sqlDatabase,
    skip: [{ backend: 'sqlite', reason: 'embedded: counted in memory, in one process', tests: ['counts once across processes sharing the database'] }],
  },
  (t) => {
    const { it } = t;
    let database: Database;
    const limitsOn = (db: Database, opts: Omit<RateLimitOptions, 'windowSeconds'>) => new RateLimits({ database: db, windowSeconds: HOUR, ...opts });

    beforeAll(() => {
      database = t.fixture.database;
    });

    it('refuses a principal past its limit, with the rest of the window to wait, and lets others go on', async () => {
      const limits = limitsOn(database, { perPrincipal: 5, perNamespace: 0 });
      const ana = randomName('ana-');
      const refused = await admitted(limits, principal(ana), 'plant-a', 8);
      expect(refused.passed).toBe(5);
      expect(refused.retryAfterSeconds).toBeGreaterThan(60);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(HOUR);
      expect((await admitted(limits, principal(ana), 'plant-a', 1)).passed, 'still refused').toBe(0);
      expect((await admitted(limits, principal(randomName('bob-')), 'plant-a', 5)).passed).toBe(5);
    });

    it('counts a principal by namespace, id and authentication method apart', async () => {
      const limits = limitsOn(database, { perPrincipal: 2, perNamespace: 0 });
      const id = randomName('u-');
      expect((await admitted(limits, principal(id, 'plant-a'), 'plant-a', 3)).passed).toBe(2);
      expect((await admitted(limits, principal(id, 'plant-b'), 'plant-b', 3)).passed).toBe(2);
      expect((await admitted(limits, principal(id, '*'), 'plant-a', 3)).passed).toBe(2);
      expect((await admitted(limits, principal(id, 'plant-a', 'oidc'), 'plant-a', 3)).passed).toBe(2);
    });

    it('counts a namespace over all its principals, apart from other namespaces', async () => {
      const limits = limitsOn(database, { perPrincipal: 0, perNamespace: 3 });
      const ns = randomName('plant-');
      for (let i = 0; i < 3; i++) await limits.consume(principal(`p${i}`), ns);
      expect((await admitted(limits, principal('p9'), ns, 1)).passed).toBe(0);
      expect((await admitted(limits, principal('p0'), randomName('plant-'), 3)).passed).toBe(3);
    });

    it('counts nothing when both limits are 0', async () => {
      const limits = limitsOn(database, { perPrincipal: 0, perNamespace: 0 });
      expect((await admitted(limits, principal('free'), 'plant-a', 200)).passed).toBe(200);
    });

    it('counts a principal whose id is longer than the counter key column', async () => {
      const limits = limitsOn(database, { perPrincipal: 2, perNamespace: 0 });
      const long = `${randomName('sub-')}${'x'.repeat(240)}`;
      expect((await admitted(limits, principal(long, 'plant-a', 'oidc'), 'plant-a', 4)).passed).toBe(2);
      // Another subject sharing the first 255 characters is another principal.
      expect((await admitted(limits, principal(`${long}y`, 'plant-a', 'oidc'), 'plant-a', 4)).passed).toBe(2);
    });

    it('counts once across processes sharing the database', async () => {
      const [one, two] = [limitsOn(database, { perPrincipal: 6, perNamespace: 0 }), limitsOn(await t.fixture.connect(), { perPrincipal: 6, perNamespace: 0 })];
      const who = principal(randomName('shared-'));
      expect((await admitted(one, who, 'plant-a', 4)).passed).toBe(4);
      expect((await admitted(two, who, 'plant-a', 4)).passed).toBe(2);
      expect((await admitted(one, who, 'plant-a', 1)).passed).toBe(0);
    });
  },
);
