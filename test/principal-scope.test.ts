import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../src/index.ts';
import { defineWorkflow } from '../src/workflows/index.ts';
import { AIOS_BIN, freePort } from './support/child.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/**
 * A principal id means something only within its namespace: what a namespace admin can mint
 * never stands for another namespace's principal (or AIOS's own) in audit records, createdBy
 * fields or rate limits, and never carries more rights than its creator's. On both engines: the
 * key store and the rate limiter differ per engine.
 */

const run = promisify(execFile);
const pgUp = await pgAvailable();
const RATE = 5;

const ENGINES = [
  { name: 'SQLite', skip: false, databaseUrl: async () => undefined as string | undefined },
  { name: 'PostgreSQL', skip: !pgUp, databaseUrl: async () => (await schemaFor()).url },
];
const schemas: { drop(): Promise<void> }[] = [];
async function schemaFor() {
  const s = await freshPgSchema();
  schemas.push(s);
  return s;
}
afterAll(async () => {
  for (const s of schemas) await s.drop();
});

const as = (key: string, ns?: string) => ({ authorization: `Bearer ${key}`, ...(ns ? { 'x-aios-namespace': ns } : {}) });
const RESERVED = ['admin', 'Admin', 'aios-system', 'AIOS-x', 'aios_x', 'anonymous', 'system', 'systemd', 'System-Admin', 'workflow-engine', 'key:aios_abcdefghijkm'];

for (const engine of ENGINES) {
  describe.skipIf(engine.skip)(`principal ids are scoped to their namespace (${engine.name})`, () => {
    let t: TestAios;
    let port: number;
    let adminA: string;
    beforeAll(async () => {
      port = await freePort();
      const databaseUrl = await engine.databaseUrl();
      t = await startTestAios({ port, rateLimitPrincipal: 0, rateLimitNamespace: 0, ...(databaseUrl ? { databaseUrl } : {}) }, { listen: engine.name === 'SQLite' });
      adminA = (await t.api({ method: 'POST', url: '/api/v1/keys', headers: { 'x-aios-namespace': 'plant-a' }, payload: { name: 'admin of plant-a', roles: ['admin'] } })).json().key;
      t.aios.register(defineWorkflow('scope-check', { version: '1' }, async () => 'done'));
    });
    afterAll(async () => t?.cleanup());

    const mint = (key: string, payload: object, ns?: string) => t.aios.http.inject({ method: 'POST', url: '/api/v1/keys', payload, headers: as(key, ns) });

    it('refuses reserved principal ids with 400, from a namespace admin and from the first admin alike', async () => {
      for (const principalId of RESERVED) {
        for (const [who, key, ns] of [['plant-a admin', adminA, undefined], ['* admin', t.adminKey, 'plant-a'], ['* admin in *', t.adminKey, '*']] as const) {
          const r = await mint(key, { name: `as ${principalId}`, roles: ['viewer'], type: 'user', principalId }, ns);
          expect(r.statusCode, `${who}: ${principalId}`).toBe(400);
          expect(r.json().code, `${who}: ${principalId}`).toBe('AIOS_AUTH_KEY_INVALID');
        }
      }
      const listed = (await t.api({ method: 'GET', url: '/api/v1/keys', headers: { 'x-aios-namespace': 'plant-a' } })).json().keys as { principal: { id: string } }[];
      expect(listed.map((k) => k.principal.id).filter((id) => RESERVED.includes(id))).toEqual([]);
      // Nor can a key belong to AIOS's own namespace.
      const reserved = await mint(t.adminKey, { name: 'sys', roles: ['viewer'] }, 'aios-system');
      expect(reserved.statusCode).toBe(400);
      expect(reserved.json().code).toBe('AIOS_AUTH_KEY_INVALID');
    });

    it('records a namespace principal so that it cannot be taken for the * principal of the same id', async () => {
      const xOfA = (await mint(adminA, { name: 'x of plant-a', roles: ['admin'], type: 'user', principalId: 'x' })).json().key as string;
      const xOfAll = (await mint(t.adminKey, { name: 'x of *', roles: ['admin'], type: 'user', principalId: 'x' }, '*')).json().key as string;
      expect(xOfA && xOfAll).toBeTruthy();
      const byA = (await mint(xOfA, { name: 'made by plant-a x', roles: ['viewer'] })).json().info;
      const byAll = (await mint(xOfAll, { name: 'made by * x', roles: ['viewer'] }, 'plant-a')).json().info;
      expect(byA.namespace).toBe('plant-a');
      expect(byAll.namespace).toBe('plant-a');
      expect(byA.createdBy).toBe('plant-a/x');
      expect(byAll.createdBy).toBe('*/x');

      const records = (await t.api({ method: 'GET', url: '/api/v1/audit?action=keys:create&limit=1000', headers: { 'x-aios-namespace': 'plant-a' } })).json().records as { actor: { id: string; keyId: string } }[];
      const actorOf = (key: string) => records.filter((r) => key.startsWith(r.actor.keyId)).map((r) => r.actor.id);
      expect(actorOf(xOfA)).toEqual(['plant-a/x']);
      expect(actorOf(xOfAll)).toEqual(['*/x']);
      // The audit query by actor tells them apart too.
      const byActor = (await t.api({ method: 'GET', url: `/api/v1/audit?actor=${encodeURIComponent('plant-a/x')}&limit=1000`, headers: { 'x-aios-namespace': 'plant-a' } })).json().records;
      expect(byActor.length).toBeGreaterThan(0);
      expect(byActor.every((r: { actor: { keyId: string } }) => xOfA.startsWith(r.actor.keyId))).toBe(true);

      const started = await t.aios.http.inject({ method: 'POST', url: '/api/v1/workflows', payload: { name: 'scope-check', id: 'scope-run' }, headers: as(xOfA) });
      expect(started.statusCode).toBe(201);
      expect(started.json().createdBy).toBe('user:plant-a/x');
      const who = (await t.aios.http.inject({ method: 'GET', url: '/api/v1/auth/whoami', headers: as(xOfA) })).json();
      expect(who.principal).toMatchObject({ id: 'x', namespace: 'plant-a' });
    });

    it('counts a namespace principal\'s requests apart from the * principal of the same id', async () => {
      // Its own AIOS, with a limit so small that counting requests decides, not the clock.
      const databaseUrl = await engine.databaseUrl();
      const limited = await startTestAios({ rateLimitPrincipal: RATE, rateLimitNamespace: 0, ...(databaseUrl ? { databaseUrl } : {}) });
      try {
        const mintIn = (key: string, payload: object, ns?: string) => limited.aios.http.inject({ method: 'POST', url: '/api/v1/keys', payload, headers: as(key, ns) }).then((r) => r.json().key as string);
        const plantAdmin = await mintIn(limited.adminKey, { name: 'admin of plant-a', roles: ['admin'] }, 'plant-a');
        const anaOfAll = await mintIn(limited.adminKey, { name: 'ana of *', roles: ['viewer'], type: 'user', principalId: 'ana' }, '*');
        const anaOfA = await mintIn(plantAdmin, { name: 'ana of plant-a', roles: ['viewer'], type: 'user', principalId: 'ana' });
        const get = (key: string) => limited.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: as(key) }).then((r) => r.statusCode);
        // plant-a's ana sends six times its limit at once...
        const burst = await Promise.all(Array.from({ length: 6 * RATE }, () => get(anaOfA)));
        expect(burst).toContain(429);
        // ...then *'s ana and the first admin (two requests so far) stay under the limit in total: every one passes.
        const others: number[] = [];
        for (let i = 0; i < RATE - 1; i++) others.push(await get(anaOfAll));
        for (let i = 0; i < RATE - 3; i++) others.push(await get(limited.adminKey));
        expect(others).toEqual(Array(2 * RATE - 4).fill(200));
      } finally {
        await limited.cleanup();
      }
    });

    it('refuses a key with more roles or a wider namespace than its creator\'s', async () => {
      // A namespace admin: not for "*", not for another namespace.
      for (const ns of ['*', 'plant-b']) {
        const r = await mint(adminA, { name: 'wider', roles: ['viewer'] }, ns);
        expect(r.statusCode, ns).toBe(403);
        expect(r.json().code).toBe('AIOS_AUTH_FORBIDDEN');
      }
      // A policy set that lets operators create keys: an operator still cannot mint an admin.
      const operatorsMint = `${DEFAULT_POLICIES}\n@id("operators-mint")\npermit (principal in AIOS::Role::"operator", action == AIOS::Action::"keys:create", resource);\n`;
      expect((await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text: operatorsMint } })).statusCode).toBe(200);
      try {
        const operator = (await mint(adminA, { name: 'op', roles: ['operator'] })).json().key as string;
        for (const roles of [['admin'], ['operator', 'admin']]) {
          const r = await mint(operator, { name: 'escalate', roles });
          expect(r.statusCode, roles.join()).toBe(403);
          expect(r.json().code).toBe('AIOS_AUTH_FORBIDDEN');
          expect(r.json().detail).toContain('admin');
        }
        for (const roles of [['operator'], ['engineer', 'viewer'], ['service']]) expect((await mint(operator, { name: 'ok', roles })).statusCode, roles.join()).toBe(201);
        const engineer = (await mint(adminA, { name: 'eng', roles: ['engineer'] })).json().key as string;
        expect((await mint(engineer, { name: 'eng2', roles: ['engineer'] })).statusCode).toBe(403); // the policy: engineers create no keys
        // A "*" operator cannot mint an admin of "*" or of any namespace either.
        const starOperator = (await mint(t.adminKey, { name: 'star op', roles: ['operator'] }, '*')).json().key as string;
        expect((await mint(starOperator, { name: 'root', roles: ['admin'] }, '*')).statusCode).toBe(403);
        expect((await mint(starOperator, { name: 'root', roles: ['admin'] }, 'plant-c')).statusCode).toBe(403);
        expect((await mint(starOperator, { name: 'op-c', roles: ['operator'] }, 'plant-c')).statusCode).toBe(201);
      } finally {
        expect((await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text: DEFAULT_POLICIES } })).statusCode).toBe(200);
      }
      // The first admin mints any role for any namespace.
      for (const ns of ['plant-z', '*']) expect((await mint(t.adminKey, { name: `admin of ${ns}`, roles: ['admin'] }, ns)).statusCode, ns).toBe(201);
    });

    it('records a 403 for another namespace in the principal\'s own trail, naming the namespace it asked for', async () => {
      const r = await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics', payload: { name: 'intrusion' }, headers: as(adminA, 'plant-b') });
      expect(r.statusCode).toBe(403);
      const trail = async (ns: string) => (await t.aios.governance.audit.query(ns, { limit: 10_000 })).filter((x) => x.action === 'topics:create' && x.outcome === 'denied');
      const own = await trail('plant-a');
      expect(own.at(-1)).toMatchObject({ ns: 'plant-a', resource: 'Namespace:plant-b', error: 'AIOS_AUTH_FORBIDDEN' });
      expect(own.at(-1)!.actor.id).toMatch(/^plant-a\/key:aios_/);
      expect(await trail('plant-b')).toEqual([]);
    });

    it.skipIf(engine.name !== 'SQLite')('the CLI\'s aios keys create gets the same refusals', async () => {
      const url = `http://127.0.0.1:${port}`;
      const cli = (key: string, ...args: string[]) => run(process.execPath, [AIOS_BIN, 'keys', 'create', ...args, '--url', url], { timeout: 20_000, env: { ...process.env, AIOS_API_KEY: key } }).catch((e: { code: number; stderr: string }) => e);
      const reserved = (await cli(adminA, 'rogue', '--role', 'viewer', '--user', 'aios-system')) as { code: number; stderr: string };
      expect(reserved.code).toBe(1);
      expect(reserved.stderr).toContain('AIOS_AUTH_KEY_INVALID');
      const wider = (await cli(adminA, 'rogue', '--role', 'admin', '-n', '*')) as { code: number; stderr: string };
      expect(wider.code).toBe(1);
      expect(wider.stderr).toContain('AIOS_AUTH_FORBIDDEN');
      const ok = (await cli(adminA, 'fine', '--role', 'viewer', '--user', 'bo@plant-a')) as { stdout: string; stderr: string };
      expect(ok.stdout.trim()).toMatch(/^aios_/);
      expect(ok.stderr).toContain('in namespace plant-a');
    }, 60_000);
  });
}
