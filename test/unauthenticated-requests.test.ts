import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ManualClock } from '../src/core/index.ts';
import { AuditTrail, AuthFailures, clientOf, loadAuditSigningKey, type AuditRecord } from '../src/governance/index.ts';
import { createDatabase } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { until } from './support/until.ts';

/**
 * Requests without valid credentials cannot write into a tenant's audit trail, cannot make AIOS
 * write a record each, and are answered 429 per client address after a number of failures; a
 * malformed namespace header is refused before anything is looked up or written. On SQLite and
 * PostgreSQL: the audit trail and the database limits differ per engine.
 */

const pgUp = await pgAvailable();
const LIMIT = 20;
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const ENGINES = [
  { name: 'SQLite', skip: false, databaseUrl: async () => undefined as string | undefined },
  {
    name: 'PostgreSQL',
    skip: !pgUp,
    async databaseUrl() {
      const s = await freshPgSchema();
      cleanups.push(() => s.drop());
      return s.url;
    },
  },
];

const forgedKey = () => `aios_${'abcdefghijkmnpqr'.slice(0, 12)}_${randomBytes(32).toString('base64url')}`;

for (const engine of ENGINES) {
  describe.skipIf(engine.skip)(`unauthenticated requests (${engine.name})`, () => {
    let t: TestAios;
    beforeAll(async () => {
      const databaseUrl = await engine.databaseUrl();
      // A window far longer than the test: every count below is of requests, never of seconds.
      t = await startTestAios({ authFailureLimit: LIMIT, authFailureWindowMs: 3_600_000, rateLimitPrincipal: 0, rateLimitNamespace: 0, ...(databaseUrl ? { databaseUrl } : {}) });
      await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'line-1' }, headers: { 'x-aios-namespace': 'plant-b' } });
    });
    afterAll(async () => t?.cleanup());

    const everything = () => t.aios.governance.audit.query('*', { limit: 10_000 });

    it('a flood naming plant-b adds nothing to plant-b\'s trail, one record in all, and is answered 429 past the limit', async () => {
      const before = await everything();
      const plantB = before.filter((r) => r.ns === 'plant-b').length;
      const statuses: number[] = [];
      const retryAfter: string[] = [];
      for (let i = 0; i < 300; i++) {
        const credentials = [{}, { authorization: `Bearer ${forgedKey()}` }, { authorization: 'Basic YWRtaW46YWRtaW4=' }][i % 3];
        const r = await t.aios.http.inject({
          method: i % 2 ? 'POST' : 'GET',
          url: `/api/v1/topics/line-1/events?attacker=${'x'.repeat(200)}-${i}`,
          payload: i % 2 ? { data: i } : undefined,
          headers: { 'x-aios-namespace': 'plant-b', 'x-request-id': `flood-${i}`, ...credentials },
          remoteAddress: '203.0.113.7',
        });
        statuses.push(r.statusCode);
        if (r.statusCode === 429) {
          expect(r.json().code).toBe('AIOS_AUTH_FAILURES_LIMITED');
          retryAfter.push(r.headers['retry-after'] as string);
        }
      }
      expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(401));
      expect(statuses.slice(LIMIT)).toEqual(Array(300 - LIMIT).fill(429));
      expect(retryAfter.every((s) => Number(s) >= 1)).toBe(true);

      const after = await everything();
      expect(after.filter((r) => r.ns === 'plant-b').length).toBe(plantB);
      const added = after.slice(before.length);
      expect(added).toHaveLength(1);
      expect(added[0]).toMatchObject({ ns: 'aios-system', action: 'auth:authenticate', resource: 'client:203.0.113.7', outcome: 'denied', error: 'AIOS_AUTH_UNAUTHENTICATED', actor: { type: 'anonymous', id: 'anonymous' }, requestId: 'flood-0' });
      expect(JSON.stringify(added)).not.toContain('attacker');
      // The flood is counted: every failure, and those left to the window's summary.
      const metrics = await t.aios.metrics.metrics();
      expect(metrics).toMatch(/aios_auth_failures_summarized_total \d+/);
      expect(Number(/aios_auth_failures_summarized_total (\d+)/.exec(metrics)![1])).toBeGreaterThanOrEqual(299);
      // The first admin reads AIOS's own records by naming the namespace.
      const system = (await t.api({ method: 'GET', url: '/api/v1/audit?limit=1000', headers: { 'x-aios-namespace': 'aios-system' } })).json().records;
      expect(system.map((r: AuditRecord) => r.resource)).toContain('client:203.0.113.7');
    });

    it('concurrent floods from many addresses add at most one record per address, and valid credentials from a flooding address still pass', async () => {
      const before = (await everything()).length;
      const addresses = Array.from({ length: 12 }, (_, i) => `198.51.100.${i + 1}`);
      const results = await Promise.all(
        addresses.flatMap((address) => Array.from({ length: 30 }, () => t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: { 'x-aios-namespace': 'plant-b' }, remoteAddress: address }))),
      );
      const statuses = results.map((r) => r.statusCode);
      expect(statuses.filter((s) => s === 401)).toHaveLength(12 * LIMIT);
      expect(statuses.filter((s) => s === 429)).toHaveLength(12 * (30 - LIMIT));
      const added = (await everything()).slice(before);
      expect(added.map((r) => r.resource).sort()).toEqual(addresses.map((a) => `client:${a}`).sort());
      expect(added.every((r) => r.ns === 'aios-system')).toBe(true);
      const ok = await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: { authorization: `Bearer ${t.adminKey}`, 'x-aios-namespace': 'plant-b' }, remoteAddress: addresses[0] });
      expect(ok.statusCode).toBe(200);
    });

    it('refuses a malformed or over-long namespace header with 400 before anything is looked up or written', async () => {
      const before = (await everything()).length;
      const bad = ['x'.repeat(3000), 'x'.repeat(8000), 'a'.repeat(64), 'Plant-B', 'plant b', 'plant/b', '../etc', '-plant', 'plant-b,plant-c', 'aios-system\\'];
      for (const ns of bad) {
        for (const [who, authorization] of [['anonymous', undefined], ['admin', `Bearer ${t.adminKey}`], ['forged', `Bearer ${forgedKey()}`]] as const) {
          for (const method of ['GET', 'POST'] as const) {
            const r = await t.aios.http.inject({ method, url: '/api/v1/topics', payload: method === 'POST' ? { name: 'made-anyway' } : undefined, headers: { 'x-aios-namespace': ns, ...(authorization ? { authorization } : {}) }, remoteAddress: '192.0.2.99' });
            const what = `${who} ${method} with a ${ns.length}-character namespace ${JSON.stringify(ns.slice(0, 20))}`;
            expect(r.statusCode, what).toBe(400);
            expect(r.headers['content-type'], what).toContain('application/problem+json');
            expect(r.json().code, what).toBe('AIOS_NAMESPACE_INVALID');
            expect(r.json().detail, what).toContain('x-aios-namespace');
            expect(r.body.length, what).toBeLessThan(1000);
          }
        }
      }
      // The same header twice is refused too.
      const twice = await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: { authorization: `Bearer ${t.adminKey}`, 'x-aios-namespace': ['plant-a', 'plant-b'] } });
      expect(twice.statusCode).toBe(400);
      expect(await everything()).toHaveLength(before);
      expect((await t.api({ method: 'GET', url: '/api/v1/topics/made-anyway' })).statusCode).toBe(404);
      // The longest valid name works.
      const longest = 'n'.repeat(63);
      expect((await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'fits' }, headers: { 'x-aios-namespace': longest } })).statusCode).toBe(201);
    });
  });

  describe.skipIf(engine.skip)(`failed authentications, aggregated per window (${engine.name})`, () => {
    const logger = createLogger({ level: 'silent' });
    async function trail(clock: ManualClock) {
      const dataDir = mkdtempSync(join(tmpdir(), 'aios-authfail-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const database = createDatabase({ url: await engine.databaseUrl(), sqliteFile: join(dataDir, 'aios.db') });
      await migrate(database);
      const audit = new AuditTrail({ database, clock, logger, signingKey: loadAuditSigningKey({ dataDir, env: {} }) });
      cleanups.push(async () => {
        await audit.close();
        await database.close();
      });
      return audit;
    }

    it('records at most maxRecordsPerWindow failures and one summary per window, however many addresses fail', async () => {
      const clock = new ManualClock();
      const audit = await trail(clock);
      const failures = new AuthFailures({ audit, clock, logger, limit: 5, windowMs: 60_000, maxAddresses: 4, maxRecordsPerWindow: 3 });
      const retry: (number | undefined)[][] = [];
      for (let a = 0; a < 10; a++) {
        const row: (number | undefined)[] = [];
        for (let i = 0; i < 20; i++) row.push((await failures.failed({ address: `10.0.0.${a}`, error: 'AIOS_AUTH_UNAUTHENTICATED', route: '/api/v1/topics' })).retryAfterSeconds);
        retry.push(row);
        clock.advance(1_000);
      }
      const records = await audit.query('*', { limit: 1000 });
      expect(records.map((r) => r.resource)).toEqual(['client:10.0.0.0', 'client:10.0.0.1', 'client:10.0.0.2']);
      // Tracked addresses: 429 from their sixth failure on. The others share one count.
      for (let a = 0; a < 4; a++) expect(retry[a].map((s) => s !== undefined)).toEqual([...Array(5).fill(false), ...Array(15).fill(true)]);
      expect(retry.slice(4).flat().filter((s) => s === undefined)).toHaveLength(5);
      expect(retry[0][5]).toBe(60);
      expect(retry[9][19]).toBe(51);

      clock.advance(60_000);
      const summary = await until(async () => (await audit.query('*', { limit: 1000 }))[3], 'the summary record');
      expect(summary).toMatchObject({ ns: 'aios-system', action: 'auth:authenticate', resource: 'failures:197', outcome: 'denied', actor: { type: 'anonymous' } });
      // A new window records an address's first failure again.
      await failures.failed({ address: '10.0.0.0', error: 'AIOS_AUTH_UNAUTHENTICATED' });
      expect((await audit.query('*', { limit: 1000 })).map((r) => r.resource)).toEqual(['client:10.0.0.0', 'client:10.0.0.1', 'client:10.0.0.2', 'failures:197', 'client:10.0.0.0']);
      await failures.close();
      expect(await audit.query('*', { limit: 1000 })).toHaveLength(5); // nothing left unrecorded: no summary
    });

    it('counts an IPv6 client by its /64 network, and an IPv4-mapped address as IPv4', () => {
      expect(clientOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
      expect(clientOf('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
      expect(clientOf('::1')).toBe('0:0:0:0::/64');
      expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
      expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
      expect(clientOf('not an address')).toBe('unknown');
    });
  });
}
