import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeInventory } from '../src/server/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

let t: TestAios;
beforeAll(async () => {
  // Two failed authentications per route, all from one address: more than the default limit of failures.
  t = await startTestAios({ authFailureLimit: 0 });
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
    // Failed authentications go to AIOS's own namespace, never the one the request named.
    const anonymousIn = async (ns: string) => ((await t.api({ method: 'GET', url: '/api/v1/audit?actor=anonymous&limit=1000', headers: { 'x-aios-namespace': ns } })).json().records as { outcome: string; action: string }[]).filter((r) => r.outcome === 'denied');
    const inDefault = (await anonymousIn('default')).length;
    await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', remoteAddress: '192.0.2.44' });
    expect((await anonymousIn('aios-system')).map((r) => r.action)).toContain('auth:authenticate');
    expect(await anonymousIn('default')).toHaveLength(inDefault);
    const viewer = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'v', roles: ['viewer'] }, headers: { 'x-aios-namespace': 'default' } })).json().key as string;
    const denied = await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics', payload: { name: 'nope' }, headers: { authorization: `Bearer ${viewer}` } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('AIOS_AUTH_FORBIDDEN');
    const records = (await t.api({ method: 'GET', url: '/api/v1/audit?limit=10000' })).json().records as { action: string; outcome: string; error: string; actor: { id: string }; decision: { decision: string; policySetHash: string } | null }[];
    const forbidden = records.find((r) => r.action === 'topics:create' && r.error === 'AIOS_AUTH_FORBIDDEN');
    expect(forbidden).toMatchObject({ error: 'AIOS_AUTH_FORBIDDEN', decision: { decision: 'deny' } });
    expect(forbidden!.decision!.policySetHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await t.api({ method: 'GET', url: '/api/v1/topics/nope' })).statusCode).toBe(404);
  });
});
