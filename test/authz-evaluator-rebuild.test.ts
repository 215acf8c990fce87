import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ManualClock } from '../src/core/index.ts';
import { loadCedarModule, type CedarModule } from '../src/governance/index.ts';
import { CedarEngine } from '../src/runtime/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/*
 * The Cedar copy that decides is broken the way a stack overflow inside Cedar breaks it: by one,
 * through Cedar's own API, on that very copy (its memory is then corrupt, and every later call
 * traps). Decisions not in the cache answer 503 AIOS_AUTHZ_UNAVAILABLE with Retry-After, and
 * /readyz 503, until the engine has rebuilt a fresh copy from the active set (its timer runs
 * on a manual clock here); then every decision is right again.
 */

/** Overflows Cedar's stack in `copy` until the copy no longer works. */
function overflow(copy: CedarModule): void {
  const works = () => {
    try {
      return copy.policySetTextToParts('permit (principal, action, resource);').type === 'success';
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 20 && works(); i++) {
    try {
      copy.policySetTextToParts(`permit (principal, action, resource) when { ${'('.repeat(5000)}true${')'.repeat(5000)} };`);
    } catch {
      // a RangeError or a trap: the point
    }
  }
  expect(works(), 'the Cedar copy still works after overflowing its stack').toBe(false);
}

const backends = [
  { name: 'SQLite', available: true },
  { name: 'PostgreSQL', available: await pgAvailable() },
];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a failed Cedar evaluator on ${backend.name}`, () => {
    let t: TestAios;
    let schema: Awaited<ReturnType<typeof freshPgSchema>> | undefined;
    const clock = new ManualClock(Date.now());
    const copies: CedarModule[] = [];
    let breakOnLoad = false;
    const logs: string[] = [];
    const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _enc, cb) => (logs.push(String(chunk)), cb()) }) });
    const engine = new CedarEngine({
      clock,
      logger,
      rebuildDelayMs: 250,
      loadCedar: () => {
        const copy = loadCedarModule();
        copies.push(copy);
        if (breakOnLoad) overflow(copy);
        return copy;
      },
    });
    const as = (key: string) => ({ authorization: `Bearer ${key}` });

    beforeAll(async () => {
      if (backend.name === 'PostgreSQL') schema = await freshPgSchema();
      t = await startTestAios({ rateLimitPrincipal: 0, rateLimitNamespace: 0, ...(schema ? { databaseUrl: schema.url } : {}) }, { policyEngine: engine });
    });
    afterAll(async () => {
      await t?.cleanup();
      await schema?.drop();
    });

    it('answers 503 with Retry-After and /readyz 503 until it is rebuilt, serves cached decisions meanwhile, then decides right again', async () => {
      await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'line' }, headers: { 'x-aios-namespace': 'plant-a' } });
      const key = async (role: string, ns: string) => (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: role, roles: [role] }, headers: { 'x-aios-namespace': ns } })).json().key as string;
      const viewerA = await key('viewer', 'plant-a');
      const engineerB = await key('engineer', 'plant-b');
      const operatorC = await key('operator', 'plant-c');
      const readA = () => t.aios.http.inject({ method: 'GET', url: '/api/v1/topics/line', headers: as(viewerA) });
      expect((await readA()).statusCode).toBe(200); // decided, and cached
      const active = (await t.api({ method: 'GET', url: '/api/v1/policies' })).json();

      for (const copy of copies) overflow(copy); // the one deciding is among them
      const uncached = () => [
        t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/line/events', payload: { data: 1 }, headers: as(viewerA) }),
        t.aios.http.inject({ method: 'POST', url: '/api/v1/topics', payload: { name: 'b-line' }, headers: as(engineerB) }),
        t.aios.http.inject({ method: 'GET', url: '/api/v1/audit', headers: as(operatorC) }),
      ];
      for (let round = 0; round < 2; round++) {
        for (const r of await Promise.all(uncached())) {
          expect(r.statusCode, r.body).toBe(503);
          expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(r.headers['retry-after']).toBe('1');
          expect(r.json()).toMatchObject({ code: 'AIOS_AUTHZ_UNAVAILABLE', status: 503 });
        }
        const ready = await t.aios.http.inject({ method: 'GET', url: '/readyz' });
        expect(ready.statusCode).toBe(503);
        expect(ready.json()).toEqual({ status: 'authorization unavailable' });
        expect((await t.aios.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
        // A decision cached for the active set is still that set's decision.
        expect((await readA()).statusCode).toBe(200);
      }
      expect(logs.join('')).toContain('the Cedar evaluator failed');

      const loaded = copies.length;
      clock.advance(250);
      expect(copies.length).toBe(loaded + 1);
      expect((await t.aios.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      const [append, create, audit] = await Promise.all(uncached());
      expect(append.statusCode, append.body).toBe(403);
      expect(create.statusCode, create.body).toBe(403);
      expect(audit.statusCode, audit.body).toBe(200);
      expect((await readA()).statusCode).toBe(200);
      expect((await t.api({ method: 'GET', url: '/api/v1/policies' })).json()).toMatchObject({ version: active.version, hash: active.hash });
      expect(logs.join('')).toContain('the Cedar evaluator was rebuilt');
    });

    it('waits longer while rebuilds fail, and a policy set stored meanwhile replaces the failed evaluator at once', async () => {
      const viewer = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'v', roles: ['viewer'] }, headers: { 'x-aios-namespace': 'plant-d' } })).json().key as string;
      const read = () => t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: as(viewer) });
      const ready = async () => (await t.aios.http.inject({ method: 'GET', url: '/readyz' })).statusCode;
      for (const copy of copies) overflow(copy);
      breakOnLoad = true; // every rebuild fails
      expect((await read()).statusCode).toBe(503);
      let loaded = copies.length;
      clock.advance(249);
      expect(copies.length).toBe(loaded);
      clock.advance(1); // the first rebuild, after 250 ms
      expect(copies.length).toBe(++loaded);
      clock.advance(499);
      expect(copies.length).toBe(loaded);
      clock.advance(1); // the second, 500 ms later
      expect(copies.length).toBe(++loaded);
      expect(await ready()).toBe(503);
      expect((await read()).statusCode).toBe(503);
      expect(logs.join('')).toContain('could not rebuild the Cedar evaluator');

      // A set stored meanwhile (here through the store, as a refresh of another process's version
      // would) is compiled on a copy of its own and decides at once.
      breakOnLoad = false;
      const text = (await t.api({ method: 'GET', url: '/api/v1/policies' })).json().text as string;
      const put = await t.aios.governance.policies.put(`${text}\n// again\n`);
      expect(await ready()).toBe(200);
      expect((await read()).statusCode).toBe(200);
      expect((await t.api({ method: 'GET', url: '/api/v1/policies' })).json().version).toBe(put.version);
      clock.advance(60_000); // no rebuild is left pending
      expect(copies.length).toBe(loaded + 1);
    });
  });
}
