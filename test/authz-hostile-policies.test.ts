import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAios, DEFAULT_POLICIES } from '../src/index.ts';
import { createLogger } from '../src/core/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/*
 * Policy sets Cedar cannot take (nesting or chains that overflow its stack, too many policies,
 * huge strings) are refused before Cedar sees them, however often they are sent; every decision
 * afterwards, in every namespace, is still right, and the active set is the one before. A
 * version written into the table by another writer is passed over the same way.
 */

const P = 'principal.namespace == "nowhere"';
const forbid = (condition: string) => `${DEFAULT_POLICIES}\n@id("hostile")\nforbid (principal, action, resource) when { ${condition} };\n`;
const HOSTILE: Record<string, string> = {
  '80 nested parentheses': forbid(`${'('.repeat(80)}${P}${')'.repeat(80)}`),
  'a chain of 200 &&': forbid(Array(200).fill(P).join(' && ')),
  'a chain of 200 ||': forbid(Array(200).fill(P).join(' || ')),
  '60 nested if-then-else': forbid(`${`if ${P} then true else `.repeat(60)}false`),
  '100 nested sets': forbid(`${'['.repeat(100)}1${']'.repeat(100)}.contains(1)`),
  '5,000-character string': forbid(`principal.namespace == "${'a'.repeat(5000)}"`),
  '1,001 policies': 'permit (principal in AIOS::Role::"admin", action, resource);\n'.repeat(1001),
};

const backends = [
  { name: 'SQLite', available: true, url: async () => undefined as string | undefined },
  { name: 'PostgreSQL', available: await pgAvailable(), url: async () => (schema = await freshPgSchema()).url },
];
let schema: Awaited<ReturnType<typeof freshPgSchema>> | undefined;
afterAll(async () => schema?.drop());

for (const backend of backends) {
  describe.skipIf(!backend.available)(`hostile policy sets on ${backend.name}`, () => {
    let t: TestAios;
    const keys: Record<string, string> = {};
    /** A key of `role` in `ns`, made once. */
    const keyOf = async (role: string, ns: string) => {
      const id = `${role}@${ns}`;
      keys[id] ??= (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: id, roles: [role] }, headers: { 'x-aios-namespace': ns } })).json().key;
      return keys[id];
    };
    const as = (key: string) => ({ authorization: `Bearer ${key}` });

    /**
     * Requests whose decisions no earlier request made (a new namespace, role or action each
     * time the caller gives a new `round`), with the answer the default policy set gives.
     */
    async function decisionsAreRight(round: string) {
      const ns = `plant-${round}`;
      const other = `other-${round}`;
      expect((await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'line' }, headers: { 'x-aios-namespace': ns } })).statusCode).toBe(201);
      const checks: [string, number, Promise<{ statusCode: number; body: string }>][] = [];
      const check = (what: string, want: number, res: Promise<{ statusCode: number; body: string }>) => checks.push([what, want, res]);
      const viewer = await keyOf('viewer', ns);
      const engineer = await keyOf('engineer', ns);
      const operator = await keyOf('operator', ns);
      const outsider = await keyOf('viewer', other);
      check('viewer reads', 200, t.aios.http.inject({ method: 'GET', url: '/api/v1/topics/line', headers: as(viewer) }));
      check('viewer appends', 403, t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/line/events', payload: { data: 1 }, headers: as(viewer) }));
      check('engineer appends', 200, t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/line/events', payload: { data: 2 }, headers: as(engineer) }));
      check('engineer reads the audit trail', 403, t.aios.http.inject({ method: 'GET', url: '/api/v1/audit', headers: as(engineer) }));
      check('operator reads the audit trail', 200, t.aios.http.inject({ method: 'GET', url: '/api/v1/audit', headers: as(operator) }));
      check('operator lists keys', 403, t.aios.http.inject({ method: 'GET', url: '/api/v1/keys', headers: as(operator) }));
      check('the admin acts in a new namespace', 200, t.api({ method: 'GET', url: '/api/v1/topics', headers: { 'x-aios-namespace': `admin-${round}` } }));
      check('another namespace lists its topics', 200, t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: as(outsider) }));
      check("another namespace reads this one's topic", 404, t.aios.http.inject({ method: 'GET', url: '/api/v1/topics/line', headers: as(outsider) }));
      for (const [what, want, res] of checks) {
        const r = await res;
        expect(r.statusCode, `${what}: ${r.body.slice(0, 300)}`).toBe(want);
      }
    }

    beforeAll(async () => {
      const url = await backend.url();
      t = await startTestAios({ rateLimitPrincipal: 0, rateLimitNamespace: 0, ...(url ? { databaseUrl: url } : {}) });
    });
    afterAll(() => t?.cleanup());

    it('refuses each shape with 400 problem+json, twice in a row, and keeps deciding right with the set it had', async () => {
      await decisionsAreRight('before');
      const before = (await t.api({ method: 'GET', url: '/api/v1/policies' })).json();
      for (const [shape, text] of Object.entries(HOSTILE)) {
        for (const attempt of [1, 2]) {
          const r = await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text } });
          expect(r.statusCode, `${shape}, attempt ${attempt}: ${r.body.slice(0, 300)}`).toBe(400);
          expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(r.json()).toMatchObject({ code: 'AIOS_POLICY_TOO_COMPLEX', status: 400, limit: expect.any(String), max: expect.any(Number) });
        }
      }
      await decisionsAreRight('after');
      const after = (await t.api({ method: 'GET', url: '/api/v1/policies' })).json();
      expect(after).toMatchObject({ version: before.version, hash: before.hash });
      expect((await t.api({ method: 'GET', url: '/api/v1/policies/versions' })).json().versions.map((v: { version: number }) => v.version)).toEqual([before.version]);
      expect((await t.aios.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    });

    it('passes over a version another writer stored that does not compile, here and in a process started after it', async () => {
      const active = (await t.api({ method: 'GET', url: '/api/v1/policies' })).json();
      const bad = HOSTILE['80 nested parentheses'];
      await t.aios.database.db
        .insertInto('aios_policy_sets')
        .values({ version: active.version + 1, ns: '*', text: bad, hash: createHash('sha256').update(bad).digest('hex'), created_at: Date.now(), created_by: 'elsewhere', comment: 'written directly' })
        .execute();
      // What the refresh timer does on PostgreSQL (on SQLite one process owns the file); twice, as the timer would.
      await t.aios.governance.policies.refresh();
      await t.aios.governance.policies.refresh();
      expect(t.logs.join('')).toContain('a stored policy set version does not compile');
      expect((await t.api({ method: 'GET', url: '/api/v1/policies' })).json()).toMatchObject({ version: active.version, hash: active.hash });
      const listed = (await t.api({ method: 'GET', url: '/api/v1/policies/versions' })).json().versions;
      expect(listed.map((v: { version: number; policyIds: string[] }) => [v.version, v.policyIds.length])).toEqual([
        [active.version + 1, 0],
        [active.version, active.policyIds.length],
      ]);
      await decisionsAreRight('bad-row');
      expect((await t.aios.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);

      // Another process on the same database, started now, activates the newest version that compiles.
      const second = await createAios({ config: { dataDir: t.dataDir, databaseUrl: t.aios.config.databaseUrl, retentionIntervalMs: 0, rateLimitPrincipal: 0 }, env: {}, logger: createLogger({ level: 'silent' }) });
      try {
        await second.start();
        expect((await second.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
        expect((await second.http.inject({ method: 'GET', url: '/api/v1/policies', headers: as(t.adminKey) })).json()).toMatchObject({ version: active.version, hash: active.hash });
      } finally {
        await second.stop();
      }

      // A valid set stored through the API goes above the bad row, and is applied.
      const text = `${DEFAULT_POLICIES}\n@id("no-deletes")\nforbid (principal, action == AIOS::Action::"topics:delete", resource);\n`;
      const put = await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text } });
      expect(put.statusCode).toBe(200);
      expect(put.json().version).toBe(active.version + 2);
      expect((await t.api({ method: 'DELETE', url: '/api/v1/topics/line', headers: { 'x-aios-namespace': 'plant-after' } })).statusCode).toBe(403);
    });
  });
}
