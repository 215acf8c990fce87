import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../src/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { until } from './support/until.ts';

let t: TestAios;
beforeAll(async () => {
  t = await startTestAios({ rateLimitPrincipal: 50, rateLimitNamespace: 0 });
});
afterAll(() => t.cleanup());

const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

describe('the first admin key', () => {
  it('is written once to <data-dir>/admin.key with mode 0600, and only its path is logged', () => {
    const file = join(t.dataDir, 'admin.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toBe(t.adminKey);
    const logs = t.logs.join('');
    expect(logs).toContain(file);
    expect(logs).not.toContain(t.adminKey);
    expect(logs).not.toContain(t.adminKey.slice(18));
  });

  it('is not created again on a restart', async () => {
    expect(await t.aios.governance.keys.bootstrapAdmin(t.aios.database.flags)).toBeUndefined();
  });
});

describe('API keys', () => {
  it('are shown once, listed without secret or hash, used, and revoked', async () => {
    const created = await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'gateway', roles: ['service'] }, headers: { 'x-aios-namespace': 'plant-a' } });
    expect(created.statusCode).toBe(201);
    const { key, info } = created.json();
    expect(key).toMatch(/^aios_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(info.id)).toBe(true);
    expect(info).toMatchObject({ namespace: 'plant-a', name: 'gateway', roles: ['service'], revokedAt: null, lastUsedAt: null });

    const listed = await t.api({ method: 'GET', url: '/api/v1/keys', headers: { 'x-aios-namespace': 'plant-a' } });
    expect(listed.body).toContain(info.id);
    expect(listed.body).not.toContain(key.slice(18));
    const row = t.aios.database.sqlite!.prepare('select * from aios_api_keys where id = ?').get(info.id) as Record<string, unknown>;
    expect(JSON.stringify(row)).not.toContain(key.slice(18));
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);

    const who = await t.aios.http.inject({ method: 'GET', url: '/api/v1/auth/whoami', headers: as(key) });
    expect(who.json()).toMatchObject({ principal: { type: 'service', namespace: 'plant-a', roles: ['service'], keyId: info.id, authMethod: 'api_key' } });
    await until(async () => (await t.api({ method: 'GET', url: `/api/v1/keys/${info.id}`, headers: { 'x-aios-namespace': 'plant-a' } })).json().lastUsedAt !== null, 'the key\'s last use to be recorded');

    const revoked = await t.api({ method: 'DELETE', url: `/api/v1/keys/${info.id}`, headers: { 'x-aios-namespace': 'plant-a' } });
    expect(revoked.json().revokedAt).not.toBeNull();
    const after = await t.aios.http.inject({ method: 'GET', url: '/api/v1/auth/whoami', headers: as(key) });
    expect(after.statusCode).toBe(401);
  });

  it('expire', async () => {
    // Used once before its expiry and once after it. A machine too slow to make the first call in
    // time gets a fresh key that lives twice as long, instead of a verdict on its speed.
    for (let lifeMs = 1000, attempt = 0; ; lifeMs *= 2, attempt++) {
      expect(attempt, 'no call made it before the key expired').toBeLessThan(6);
      const expiresAt = Date.now() + lifeMs;
      const { key } = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: `brief-${attempt}`, roles: ['viewer'], expiresAt: new Date(expiresAt).toISOString() } })).json();
      const before = (await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: as(key) })).statusCode;
      if (Date.now() >= expiresAt) continue;
      expect(before).toBe(200);
      await until(() => Date.now() > expiresAt, 'the expiry time to pass');
      expect((await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: as(key) })).statusCode).toBe(401);
      break;
    }
    const past = await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'late', roles: ['viewer'], expiresAt: '2001-01-01T00:00:00Z' } });
    expect(past.statusCode).toBe(400);
    expect(past.json().code).toBe('AIOS_AUTH_KEY_INVALID');
  });

  it('refuse unknown roles, and key management to non-admins', async () => {
    const bad = await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'x', roles: ['root'] } });
    expect(bad.statusCode).toBe(400);
    const { key } = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'op', roles: ['operator'] } })).json();
    const r = await t.aios.http.inject({ method: 'POST', url: '/api/v1/keys', payload: { name: 'y', roles: ['admin'] }, headers: as(key) });
    expect(r.statusCode).toBe(403);
    expect((await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics', payload: { name: 'op-topic' }, headers: as(key) })).statusCode).toBe(201);
  });
});

describe('roles under the default policy set', () => {
  it('give each role its rights', async () => {
    await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'roles' }, headers: { 'x-aios-namespace': 'plant-r' } });
    const keyOf = async (role: string) => (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: role, roles: [role] }, headers: { 'x-aios-namespace': 'plant-r' } })).json().key as string;
    const matrix: Record<string, { read: number; append: number; create: number; reveal: number; audit: number }> = {
      admin: { read: 200, append: 200, create: 201, reveal: 404, audit: 200 },
      operator: { read: 200, append: 200, create: 201, reveal: 403, audit: 200 },
      engineer: { read: 200, append: 200, create: 403, reveal: 403, audit: 403 },
      service: { read: 200, append: 200, create: 403, reveal: 403, audit: 403 },
      viewer: { read: 200, append: 403, create: 403, reveal: 403, audit: 403 },
    };
    for (const [role, want] of Object.entries(matrix)) {
      const k = await keyOf(role);
      const go = (method: 'GET' | 'POST', url: string, payload?: object) => t.aios.http.inject({ method, url, payload, headers: as(k) }).then((r) => r.statusCode);
      expect(await go('GET', '/api/v1/topics/roles'), `${role} read`).toBe(want.read);
      expect(await go('POST', '/api/v1/topics/roles/events', { data: role }), `${role} append`).toBe(want.append);
      expect(await go('POST', '/api/v1/topics', { name: `by-${role}` }), `${role} create`).toBe(want.create);
      expect(await go('POST', '/api/v1/secrets/none/reveal'), `${role} reveal`).toBe(want.reveal);
      expect(await go('GET', '/api/v1/audit'), `${role} audit`).toBe(want.audit);
    }
  });
});

describe('policies as data', () => {
  it('refuses a policy set that does not validate, with Cedar\'s message, and keeps the active one', async () => {
    const before = (await t.api({ method: 'GET', url: '/api/v1/policies' })).json();
    expect(before.version).toBe(1);
    expect(before.policyIds).toContain('namespace-isolation');
    const bad = await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text: 'permit(principal, action == AIOS::Action::"topics:fly", resource);' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('AIOS_POLICY_INVALID');
    expect(JSON.stringify(bad.json().errors)).toContain('topics:fly');
    const syntax = await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text: 'permit(principal, action' } });
    expect(syntax.json().code).toBe('AIOS_POLICY_INVALID');
    expect((await t.api({ method: 'GET', url: '/api/v1/policies' })).json().version).toBe(1);
  });

  it('stores a valid set as the next version, applies it at once, and audits decisions with its hash and policy ids', async () => {
    await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'guarded' }, headers: { 'x-aios-namespace': 'plant-p' } });
    const { key } = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'eng', roles: ['engineer'] }, headers: { 'x-aios-namespace': 'plant-p' } })).json();
    const append = () => t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/guarded/events', payload: { data: 1 }, headers: as(key) });
    expect((await append()).statusCode).toBe(200);
    const text = `${DEFAULT_POLICIES}\n@id("guarded-is-read-only")\nforbid (principal, action == AIOS::Action::"events:append", resource == AIOS::Topic::"guarded") unless { principal in AIOS::Role::"admin" };\n`;
    const put = await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text, comment: 'freeze guarded' } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ version: 2, comment: 'freeze guarded' });
    expect(put.json().policyIds).toContain('guarded-is-read-only');
    const denied = await append();
    expect(denied.statusCode).toBe(403);
    const audit = (await t.api({ method: 'GET', url: '/api/v1/audit?action=events:append&limit=1000', headers: { 'x-aios-namespace': 'plant-p' } })).json().records;
    const last = audit[audit.length - 1];
    expect(last).toMatchObject({ outcome: 'denied', decision: { decision: 'deny', policySetHash: put.json().hash, policyIds: ['guarded-is-read-only'] } });
    const allowed = audit.find((r: { outcome: string }) => r.outcome === 'success');
    expect(allowed.decision).toMatchObject({ decision: 'allow', policyIds: ['engineer'] });
    const versions = (await t.api({ method: 'GET', url: '/api/v1/policies/versions' })).json().versions;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    await t.api({ method: 'PUT', url: '/api/v1/policies', payload: { text: DEFAULT_POLICIES } });
    expect((await append()).statusCode).toBe(200);
  });
});

describe('rate limits', () => {
  // An hour's window: every request of the test falls in it however slow the machine, so the counts are exact.
  let limited: TestAios;
  beforeAll(async () => {
    limited = await startTestAios({ rateLimitPrincipal: 50, rateLimitNamespace: 0, rateLimitWindowSeconds: 3600 });
  });
  afterAll(() => limited.cleanup());

  it('answer 429 with Retry-After per principal past the limit of the window, and other principals go on', async () => {
    const { key } = (await limited.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'chatty', roles: ['viewer'] } })).json();
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 80; i++) {
      const r = await limited.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: as(key) });
      statuses.push(r.statusCode);
      if (r.statusCode === 429) {
        retryAfter = r.headers['retry-after'] as string;
        expect(r.json().code).toBe('AIOS_AUTH_RATE_LIMITED');
      }
    }
    expect(statuses.slice(0, 50)).toEqual(Array(50).fill(200));
    expect(statuses.slice(50)).toEqual(Array(30).fill(429));
    // The rest of the hour's window, give or take the test's own duration.
    expect(Number(retryAfter)).toBeGreaterThan(60);
    expect(Number(retryAfter)).toBeLessThanOrEqual(3600);
    expect((await limited.api({ method: 'GET', url: '/api/v1/topics' })).statusCode).toBe(200);
  });
});

describe('lineage ids', () => {
  it('are minted per call or taken from the header, returned, carried in event headers, and recorded as an ingest node', async () => {
    await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'traced' } });
    const minted = await t.api({ method: 'POST', url: '/api/v1/topics/traced/events', payload: { id: 'e1', data: 1 } });
    expect(minted.headers['x-aios-lineage-id']).toMatch(/^[0-9a-f-]{36}$/);
    const given = await t.api({ method: 'POST', url: '/api/v1/topics/traced/events', payload: { id: 'e2', data: 2 }, headers: { 'x-aios-lineage-id': 'mes:order-4711' } });
    expect(given.headers['x-aios-lineage-id']).toBe('mes:order-4711');
    const events = (await t.api({ method: 'GET', url: '/api/v1/topics/traced/events' })).json().events;
    expect(events.map((e: { headers: Record<string, string> }) => e.headers['x-aios-lineage-id'])).toEqual([minted.headers['x-aios-lineage-id'], 'mes:order-4711']);
    const graph = (await t.api({ method: 'GET', url: '/api/v1/lineage/mes:order-4711' })).json();
    expect(graph.nodes).toEqual([expect.objectContaining({ kind: 'ingest', name: 'traced', ref: 'topic:traced', direction: 'self' })]);
    const ol = (await t.api({ method: 'GET', url: '/api/v1/lineage/mes:order-4711/openlineage' })).json().events;
    expect(ol[0]).toMatchObject({ eventType: 'COMPLETE', job: { name: 'ingest.traced' } });
    expect((await t.api({ method: 'GET', url: '/api/v1/audit?lineageId=mes:order-4711' })).json().records).toHaveLength(1);
    const bad = await t.api({ method: 'GET', url: '/api/v1/topics', headers: { 'x-aios-lineage-id': 'bad id with spaces' } });
    expect(bad.statusCode).toBe(400);
  });
});
