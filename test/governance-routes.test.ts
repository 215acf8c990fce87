import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeInventory } from '../src/server/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

let t: TestAios;
beforeAll(async () => {
  t = await startTestAios();
});
afterAll(() => t.cleanup());

const OPEN = new Set(['/healthz', '/readyz', '/openapi.json', '/docs']);
const isOpen = (url: string) => OPEN.has(url) || url.startsWith('/docs/');
const SAMPLE: Record<string, string> = { topic: 'some-topic', group: 'g', id: 'aios_abcdefghijkm', name: 'some-secret', '*': 'x' };
const concrete = (url: string) => url.replace(/:(\w+)/g, (_, p: string) => SAMPLE[p] ?? 'x').replace(/\*$/, 'x');

describe('route inventory', () => {
  it('every registered route declares an authorization action, or is one of the open four', () => {
    const routes = routeInventory(t.aios.http);
    expect(routes.length).toBeGreaterThan(30);
    const unguarded = routes.filter((r) => !r.action && !isOpen(r.url));
    expect(unguarded).toEqual([]);
    const open = [...new Set(routes.filter((r) => !r.action).map((r) => (r.url.startsWith('/docs') ? '/docs' : r.url)))].sort();
    expect(open).toEqual(['/docs', '/healthz', '/openapi.json', '/readyz']);
  });

  it('every guarded route answers 401 without credentials, and with a wrong key', async () => {
    const guarded = routeInventory(t.aios.http).filter((r) => r.action);
    for (const r of guarded) {
      const url = concrete(r.url);
      const anon = await t.aios.http.inject({ method: r.method as 'GET', url, payload: ['GET', 'HEAD', 'DELETE'].includes(r.method) ? undefined : {} });
      expect(anon.statusCode, `${r.method} ${r.url}`).toBe(401);
      if (r.method !== 'HEAD') expect(anon.json().code, `${r.method} ${r.url}`).toBe('AIOS_AUTH_UNAUTHENTICATED');
      const forged = await t.aios.http.inject({ method: r.method as 'GET', url, headers: { authorization: `Bearer ${t.adminKey.slice(0, -4)}AAAA` } });
      expect(forged.statusCode, `${r.method} ${r.url} with a forged key`).toBe(401);
    }
  });

  it('the open routes answer without credentials', async () => {
    for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs/']) {
      expect((await t.aios.http.inject({ method: 'GET', url })).statusCode, url).toBeLessThan(400);
    }
  });

  it('an unknown API path needs credentials before it is reported missing', async () => {
    expect((await t.aios.http.inject({ method: 'GET', url: '/api/v1/no-such-thing' })).statusCode).toBe(401);
    expect((await t.api({ method: 'GET', url: '/api/v1/no-such-thing' })).statusCode).toBe(404);
  });

  it('denied requests are audited, with the decision for a 403', async () => {
    const before = (await t.api({ method: 'GET', url: '/api/v1/audit?action=topics:list&limit=1000' })).json().records.length;
    await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics' });
    const viewer = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'v', roles: ['viewer'] }, headers: { 'x-aios-namespace': 'default' } })).json().key as string;
    const denied = await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics', payload: { name: 'nope' }, headers: { authorization: `Bearer ${viewer}` } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('AIOS_AUTH_FORBIDDEN');
    const records = (await t.api({ method: 'GET', url: '/api/v1/audit?limit=10000' })).json().records as { action: string; outcome: string; error: string; actor: { id: string }; decision: { decision: string; policySetHash: string } | null }[];
    const anon = records.filter((r) => r.actor.id === 'anonymous' && r.outcome === 'denied');
    expect(anon.length).toBeGreaterThan(before);
    const forbidden = records.find((r) => r.action === 'topics:create' && r.error === 'AIOS_AUTH_FORBIDDEN');
    expect(forbidden).toMatchObject({ error: 'AIOS_AUTH_FORBIDDEN', decision: { decision: 'deny' } });
    expect(forbidden!.decision!.policySetHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await t.api({ method: 'GET', url: '/api/v1/topics/nope' })).statusCode).toBe(404);
  });
});
