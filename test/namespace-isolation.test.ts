import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capability } from '../src/capability/index.ts';
import { CAPABILITIES } from '../src/runtime/index.ts';
import { routeInventory } from '../src/server/index.ts';
import { defineWorkflow } from '../src/workflows/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

let t: TestAios;
let keyA: string;
let keyB: string;
let keyIdB: string;
let lineageB: string;

const as = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  t = await startTestAios();
  const mk = async (ns: string) => (await t.api({ method: 'POST', url: '/api/v1/keys', headers: { 'x-aios-namespace': ns }, payload: { name: `admin of ${ns}`, roles: ['admin'] } })).json();
  keyA = (await mk('plant-a')).key;
  const b = await mk('plant-b');
  keyB = b.key;
  const inB = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => t.aios.http.inject({ method, url, payload: payload as object, headers: as(keyB) });
  expect((await inB('POST', '/api/v1/topics', { name: 'only-b' })).statusCode).toBe(201);
  const appended = await inB('POST', '/api/v1/topics/only-b/events', [{ id: 'b1', data: 1 }, { id: 'b2', data: 2 }]);
  lineageB = appended.headers['x-aios-lineage-id'] as string;
  await inB('POST', '/api/v1/topics/only-b/groups/g/fetch', { max: 1 });
  expect((await inB('PUT', '/api/v1/secrets/sec-b', { value: 'b-secret-value' })).statusCode).toBe(200);
  keyIdB = (await inB('POST', '/api/v1/keys', { name: 'b service', roles: ['service'] })).json().info.id;
  // Workflows are registered per process, not per namespace: the name says nothing about B.
  t.aios.register(defineWorkflow('isolation-check', { version: '1' }, async (ctx) => ctx.waitForSignal('done')));
  expect((await inB('POST', '/api/v1/workflows', { name: 'isolation-check', id: 'only-b-run' })).statusCode).toBe(201);
  expect((await inB('POST', '/api/v1/workflows/only-b-run/signals/only-b-signal', { from: 'plant-b' })).statusCode).toBe(202);
  expect((await inB('POST', '/api/v1/schedules', { id: 'only-b-schedule', workflow: 'isolation-check', cron: '@yearly' })).statusCode).toBe(201);
  // Namespace A has a topic too, so that its lists are not trivially empty.
  expect((await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics', payload: { name: 'only-a' }, headers: as(keyA) })).statusCode).toBe(201);
  expect((await t.aios.http.inject({ method: 'POST', url: '/api/v1/workflows', payload: { name: 'isolation-check', id: 'only-a-run' }, headers: as(keyA) })).statusCode).toBe(201);
  expect((await t.aios.http.inject({ method: 'POST', url: '/api/v1/schedules', payload: { id: 'only-a-schedule', workflow: 'isolation-check', cron: '@yearly' }, headers: as(keyA) })).statusCode).toBe(201);
});
afterAll(() => t.cleanup());

type Check = { path: string; expect: 'not-found' | 'forbidden' | { listExcludes: (body: string) => void } };

/**
 * Every GET route, asked by namespace A's admin about namespace B's things. A route missing
 * from this table fails the test, so a new route cannot skip its isolation check.
 */
function checks(): Record<string, Check> {
  const excludesB = (body: string) => {
    expect(body).not.toContain('only-b');
    expect(body).not.toContain('plant-b');
    expect(body).not.toContain('sec-b');
    expect(body).not.toContain(keyIdB);
    expect(body).not.toContain(lineageB);
  };
  // A's own records are there (so the check is not passing on an empty answer), B's are not.
  const ownOnly = (body: string) => {
    expect(body).toContain('"namespace":"plant-a"');
    excludesB(body);
  };
  return {
    // The routes not named below, by the sample request their capability declares.
    ...fixtureChecks(excludesB),
    '/api/v1/auth/whoami': { path: '/api/v1/auth/whoami', expect: { listExcludes: excludesB } },
    '/api/v1/topics': { path: '/api/v1/topics', expect: { listExcludes: excludesB } },
    '/api/v1/topics/:topic': { path: '/api/v1/topics/only-b', expect: 'not-found' },
    '/api/v1/topics/:topic/schemas': { path: '/api/v1/topics/only-b/schemas', expect: 'not-found' },
    '/api/v1/topics/:topic/events': { path: '/api/v1/topics/only-b/events', expect: 'not-found' },
    '/api/v1/topics/:topic/stream': { path: '/api/v1/topics/only-b/stream', expect: 'not-found' },
    '/api/v1/topics/:topic/groups': { path: '/api/v1/topics/only-b/groups', expect: 'not-found' },
    '/api/v1/topics/:topic/groups/:group': { path: '/api/v1/topics/only-b/groups/g', expect: 'not-found' },
    '/api/v1/keys': { path: '/api/v1/keys', expect: { listExcludes: excludesB } },
    '/api/v1/keys/:id': { path: `/api/v1/keys/${keyIdB}`, expect: 'not-found' },
    '/api/v1/secrets': { path: '/api/v1/secrets', expect: { listExcludes: excludesB } },
    '/api/v1/secrets/:name': { path: '/api/v1/secrets/sec-b', expect: 'not-found' },
    '/api/v1/lineage/:id': { path: `/api/v1/lineage/${lineageB}`, expect: 'not-found' },
    '/api/v1/lineage/:id/openlineage': { path: `/api/v1/lineage/${lineageB}/openlineage`, expect: 'not-found' },
    '/api/v1/workflows': { path: '/api/v1/workflows?limit=1000', expect: { listExcludes: ownOnly } },
    '/api/v1/workflows/definitions': { path: '/api/v1/workflows/definitions', expect: { listExcludes: excludesB } },
    '/api/v1/workflows/:id': { path: '/api/v1/workflows/only-b-run', expect: 'not-found' },
    '/api/v1/workflows/:id/history': { path: '/api/v1/workflows/only-b-run/history', expect: 'not-found' },
    '/api/v1/schedules': { path: '/api/v1/schedules?limit=1000', expect: { listExcludes: ownOnly } },
    '/api/v1/schedules/:id': { path: '/api/v1/schedules/only-b-schedule', expect: 'not-found' },
    '/api/v1/audit': { path: '/api/v1/audit?limit=10000', expect: { listExcludes: ownOnly } },
    '/api/v1/audit/export': { path: '/api/v1/audit/export', expect: { listExcludes: ownOnly } },
    // Global resources: only principals of namespace "*" may read them.
    '/api/v1/audit/verify': { path: '/api/v1/audit/verify', expect: 'forbidden' },
    '/api/v1/policies': { path: '/api/v1/policies', expect: 'forbidden' },
    '/api/v1/policies/schema': { path: '/api/v1/policies/schema', expect: 'forbidden' },
    '/api/v1/policies/versions': { path: '/api/v1/policies/versions', expect: 'forbidden' },
    '/metrics': { path: '/metrics', expect: 'forbidden' },
  };
}

/** A GET route not named above, from its capability's fixture: it answers A, and shows nothing of B. */
function fixtureChecks(excludesB: (body: string) => void): Record<string, Check> {
  const out: Record<string, Check> = {};
  for (const c of CAPABILITIES as readonly Capability[]) {
    for (const [route, f] of Object.entries(c.http?.fixtures ?? {})) {
      const [method, url] = route.split(' ');
      if (method === 'GET') out[url] = { path: f.url, expect: f.expect === 'not-found' ? 'not-found' : { listExcludes: excludesB } };
    }
  }
  return out;
}

/** The same path with B's identifiers replaced by ones that exist nowhere. */
const nowhere = (path: string) => path.replace('only-b', 'no-such-topic').replace('sec-b', 'no-such-secret').replace(keyIdB, 'aios_zzzzzzzzzzzz').replace(lineageB, 'no-such-lineage');

describe('namespace isolation on every list and get route', () => {
  it('covers every GET route of the API', () => {
    const table = checks();
    const gets = routeInventory(t.aios.http).filter((r) => r.method === 'GET' && r.action);
    const missing = gets.map((r) => r.url).filter((u) => !(u in table));
    expect(missing).toEqual([]);
  });

  it('a principal never sees another namespace\'s data, and a 404 does not reveal that it exists', async () => {
    for (const [route, c] of Object.entries(checks())) {
      const r = await t.aios.http.inject({ method: 'GET', url: c.path, headers: as(keyA) });
      if (c.expect === 'not-found') {
        expect(r.statusCode, route).toBe(404);
        const absent = await t.aios.http.inject({ method: 'GET', url: nowhere(c.path), headers: as(keyA) });
        expect(absent.statusCode, `${route} (absent everywhere)`).toBe(404);
        expect(r.json().code, route).toBe(absent.json().code);
        expect(r.body, route).not.toContain('plant-b');
      } else if (c.expect === 'forbidden') {
        expect(r.statusCode, route).toBe(403);
      } else {
        expect(r.statusCode, route).toBe(200);
        c.expect.listExcludes(r.body);
      }
    }
  });

  it('B sees its own things through the same routes', async () => {
    const get = (url: string) => t.aios.http.inject({ method: 'GET', url, headers: as(keyB) });
    expect((await get('/api/v1/topics/only-b')).statusCode).toBe(200);
    expect((await get(`/api/v1/lineage/${lineageB}`)).json().nodes.length).toBeGreaterThan(0);
    expect((await get('/api/v1/secrets')).body).toContain('sec-b');
    expect((await get('/api/v1/audit?limit=1000')).body).toContain('only-b');
    expect((await get('/api/v1/topics')).body).not.toContain('only-a');
    expect((await get('/api/v1/workflows/only-b-run')).json()).toMatchObject({ namespace: 'plant-b', status: expect.stringMatching(/pending|running|waiting/) });
    expect((await get('/api/v1/workflows/only-b-run/history')).statusCode).toBe(200);
    expect((await get('/api/v1/schedules')).body).toContain('only-b-schedule');
    expect((await get('/api/v1/workflows?limit=1000')).body).not.toContain('only-a');
  });

  it('a namespaced principal cannot pick another namespace with the header, nor write into it', async () => {
    const r = await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics/only-b', headers: { ...as(keyA), 'x-aios-namespace': 'plant-b' } });
    expect(r.statusCode).toBe(403);
    const w = await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/only-b/events', payload: { data: 3 }, headers: { ...as(keyA), 'x-aios-namespace': 'plant-b' } });
    expect(w.statusCode).toBe(403);
    const k = await t.aios.http.inject({ method: 'POST', url: '/api/v1/keys', payload: { name: 'escalate', roles: ['admin'] }, headers: { ...as(keyA), 'x-aios-namespace': '*' } });
    expect(k.statusCode).toBe(403);
    const events = await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics/only-b/events', headers: as(keyB) });
    expect(events.json().events.map((e: { id: string }) => e.id)).toEqual(['b1', 'b2']);
  });
});
