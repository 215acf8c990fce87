import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../src/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { LIVENESS_MS, until } from './support/until.ts';

const up = await pgAvailable();

describe.skipIf(!up)('governance on PostgreSQL, two processes sharing one database', () => {
  let schema: Awaited<ReturnType<typeof freshPgSchema>>;
  let a: TestAios;
  let b: TestAios;
  let sharedEnv: Record<string, string>;
  beforeAll(async () => {
    schema = await freshPgSchema();
    // A cluster shares its audit signing key and master key through the environment.
    const { privateKey } = generateKeyPairSync('ed25519');
    sharedEnv = { AIOS_AUDIT_SIGNING_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), AIOS_MASTER_KEY: randomBytes(32).toString('base64') };
    const config = { databaseUrl: schema.url, rateLimitPrincipal: 30, auditCheckpointEvery: 10 };
    a = await startTestAios(config, { env: sharedEnv });
    // The second process finds keys in the database, so it writes no admin key of its own.
    b = await startTestAios(config, { env: sharedEnv, adminKey: a.adminKey });
  });
  afterAll(async () => {
    await a?.cleanup();
    await b?.cleanup();
    await schema?.drop();
  });

  it('creates one admin key for the database, usable on both', async () => {
    expect(existsSync(join(b.dataDir, 'admin.key'))).toBe(false);
    expect((await b.api({ method: 'GET', url: '/api/v1/auth/whoami' })).statusCode).toBe(200);
  });

  it('a key made on one process works on the other; its revocation reaches the other (within the 5 s cache time on an idle machine)', async () => {
    const { key, info } = (await a.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'k', roles: ['viewer'] } })).json();
    const onB = () => b.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: { authorization: `Bearer ${key}` } }).then((r) => r.statusCode);
    expect(await onB()).toBe(200);
    await a.api({ method: 'DELETE', url: `/api/v1/keys/${info.id}` });
    // Within the cache time on an idle machine; the bound is only liveness.
    expect(await until(async () => (await onB()) === 401 && 401, 'the revocation to reach the other process', LIVENESS_MS, 100)).toBe(401);
  });

  it('a policy set stored on one process is applied by the other', async () => {
    await a.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'frozen' } });
    const text = `${DEFAULT_POLICIES}\n@id("freeze")\nforbid (principal, action == AIOS::Action::"topics:delete", resource == AIOS::Topic::"frozen");\n`;
    expect((await a.api({ method: 'PUT', url: '/api/v1/policies', payload: { text } })).statusCode).toBe(200);
    const status = await until(async () => {
      const s = (await b.api({ method: 'DELETE', url: '/api/v1/topics/frozen' })).statusCode;
      return s === 403 && s;
    }, 'the other process to apply the policy set', LIVENESS_MS, 100);
    expect(status).toBe(403);
  });

  it('counts rate limits across processes', async () => {
    // Two more processes on the same database, limits counted over an hour: every request of the
    // test falls in one window however slow the machine, so the shared count is exact.
    const config = { databaseUrl: schema.url, rateLimitPrincipal: 30, rateLimitWindowSeconds: 3600 };
    const c = await startTestAios(config, { env: sharedEnv, adminKey: a.adminKey });
    const d = await startTestAios(config, { env: sharedEnv, adminKey: a.adminKey });
    try {
      const { key } = (await a.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'busy', roles: ['viewer'] } })).json();
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++) {
        for (const p of [c, d]) statuses.push((await p.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: { authorization: `Bearer ${key}` } })).statusCode);
      }
      expect(statuses.filter((s) => s === 200)).toHaveLength(30);
      expect(statuses.slice(30)).toEqual(Array(20).fill(429));
    } finally {
      await c.cleanup();
      await d.cleanup();
    }
  });

  it('both processes write one audit chain, which verifies', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).api({ method: 'POST', url: '/api/v1/topics', payload: { name: `t${i}` } })));
    const v = (await b.api({ method: 'GET', url: '/api/v1/audit/verify' })).json();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.records).toBeGreaterThan(20);
    expect(v.checkpoints).toBeGreaterThan(1);
  });

  it('a secret written on one process is revealed on the other', async () => {
    await a.api({ method: 'PUT', url: '/api/v1/secrets/historian-password', payload: { value: 'pg-shared-secret' } });
    const r = await b.api({ method: 'POST', url: '/api/v1/secrets/historian-password/reveal' });
    expect(r.json()).toEqual({ name: 'historian-password', value: 'pg-shared-secret' });
  });
});
