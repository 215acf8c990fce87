import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aios } from '../src/index.ts';
import { freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/**
 * Hostile input to the event log over HTTP: catastrophic patterns in data contracts, event
 * times RFC 3339 cannot write (and reads of such times already stored), commits of what was
 * never delivered, and groups of a topic deleted and created again.
 */
let aios: Aios;
let api: TestAios['api'];
let cleanup: () => Promise<void>;
let adminKey: string;

beforeAll(async () => {
  ({ aios, api, cleanup, adminKey } = await startTestAios({ port: await freePort() }, { listen: true }));
});
afterAll(() => cleanup());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => api({ method: 'POST', url: `/api/v1${url}`, payload: payload as never, headers });
const get = (url: string) => api({ method: 'GET', url: `/api/v1${url}` });

async function topicId(name: string): Promise<number> {
  const t = await aios.database.db.selectFrom('aios_topics').select('topic_id').where('ns', '=', 'default').where('name', '=', name).executeTakeFirstOrThrow();
  return Number(t.topic_id);
}

describe('data contracts with catastrophic patterns', () => {
  it('rejects a long adversarial event with 422 while /healthz answers', async () => {
    const r = await post('/topics', { name: 'redos', schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } } });
    expect(r.statusCode).toBe(201);
    // 2^200000 steps for a backtracking engine: this test ends only if the engine is linear.
    const append = post('/topics/redos/events', { data: { s: `${'a'.repeat(200_000)}!` } });
    const health = api({ method: 'GET', url: '/healthz' });
    const [a, h] = await Promise.all([append, health]);
    expect(h.statusCode).toBe(200);
    expect(a.statusCode).toBe(422);
    expect(a.json().code).toBe('AIOS_EVENTS_SCHEMA_VIOLATION');
    expect((await post('/topics/redos/events', { data: { s: 'aaaa' } })).statusCode).toBe(200);
  });

  it('refuses a pattern the linear engine cannot run, and schemas too large or too deep, with 400', async () => {
    const look = await post('/topics', { name: 'lookahead', schema: { properties: { s: { type: 'string', pattern: '^(?!admin).*$' } } } });
    expect(look.statusCode).toBe(400);
    expect(look.json()).toMatchObject({ code: 'AIOS_EVENTS_SCHEMA_INVALID', errors: [{ path: '/schema/properties/s/pattern' }] });
    expect(look.json().detail).toContain('"^(?!admin).*$"');
    const back = await post('/topics', { name: 'backref', schema: { patternProperties: { '^(\\w)\\1$': { type: 'number' } } } });
    expect(back.statusCode).toBe(400);
    expect(back.json().detail).toMatch(/backreference/);
    let deep: object = { type: 'number' };
    for (let i = 0; i < 40; i++) deep = { properties: { a: deep } };
    expect((await post('/topics', { name: 'deep', schema: deep })).json()).toMatchObject({ status: 400, code: 'AIOS_EVENTS_SCHEMA_INVALID' });
    const big = { enum: Array.from({ length: 20_000 }, (_, i) => `value-${i}`) };
    expect((await post('/topics', { name: 'big', schema: big })).json()).toMatchObject({ status: 400, code: 'AIOS_EVENTS_SCHEMA_INVALID' });
    // Nothing was created, and an update is held to the same rules.
    expect((await get('/topics/lookahead')).statusCode).toBe(404);
    const patch = await api({ method: 'PATCH', url: '/api/v1/topics/redos', payload: { schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' }, t: { type: 'string', pattern: '(?<=x)y' } } } } });
    expect(patch.statusCode).toBe(400);
  });
});

describe('event times RFC 3339 cannot write', () => {
  it('refuses them on every content type with 422 and appends nothing', async () => {
    expect((await post('/topics', { name: 'times' })).statusCode).toBe(201);
    for (const time of [9007199254740991, -62167219200001, '+275760-09-13T00:00:00Z', '9999-12-31T23:59:59-00:01', '2026-02-30T00:00:00Z']) {
      const r = await post('/topics/times/events', { data: 1, time });
      expect(r.statusCode).toBe(422);
      expect(r.json().code).toBe('AIOS_EVENTS_INVALID_EVENT');
    }
    const nd = await post('/topics/times/events', `{"data":1,"time":9007199254740991}\n`, { 'content-type': 'application/x-ndjson' });
    expect(nd.statusCode).toBe(422);
    const ce = await post('/topics/times/events', { specversion: '1.0', id: 'ce', source: '/s', type: 't', time: '+275760-09-13T00:00:00Z', data: 1 }, { 'content-type': 'application/cloudevents+json' });
    expect(ce.statusCode).toBe(422);
    const bin = await post('/topics/times/events', { v: 1 }, { 'ce-specversion': '1.0', 'ce-id': 'b1', 'ce-source': '/s', 'ce-type': 't', 'ce-time': '10000-01-01T00:00:00Z' });
    expect(bin.statusCode).toBe(422);
    expect((await get('/topics/times/events')).json().events).toEqual([]);
    const edge = await post('/topics/times/events', [{ data: 'lo', time: '0000-01-01T00:00:00Z' }, { data: 'hi', time: 253402300799999 }]);
    expect(edge.statusCode).toBe(200);
    expect((await get('/topics/times/events')).json().events.map((e: { time: string }) => e.time)).toEqual(['0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']);
  });
});

describe('reads and commits of stored times out of range', () => {
  beforeAll(async () => {
    // Written by an older build, or straight into the database.
    expect((await post('/topics', { name: 'stored' })).statusCode).toBe(201);
    expect((await post('/topics/stored/events', [{ id: 'e0', data: 0 }, { id: 'e1', data: 1 }, { id: 'e2', data: 2 }])).statusCode).toBe(200);
    await aios.database.db.updateTable('aios_events').set({ time: 9007199254740991 }).where('topic_id', '=', await topicId('stored')).execute();
  });

  it('reads the topic, rendering the time at the RFC 3339 bound', async () => {
    const r = await get('/topics/stored/events');
    expect(r.statusCode).toBe(200);
    expect(r.json().events.map((e: { id: string; time: string }) => [e.id, e.time])).toEqual([
      ['e0', '9999-12-31T23:59:59.999Z'],
      ['e1', '9999-12-31T23:59:59.999Z'],
      ['e2', '9999-12-31T23:59:59.999Z'],
    ]);
  });

  it('streams them over SSE without an error', async () => {
    const res = await fetch(`${aios.url}/api/v1/topics/stored/stream?from=earliest`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^event: (event|error)$/gm) ?? []).length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).not.toMatch(/^event: error$/m);
    expect([...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]).id)).toEqual(['e0', 'e1', 'e2']);
  });

  it('fetches them for a group, and a commit without a body commits exactly what was fetched', async () => {
    // Nothing fetched yet: a bare commit commits nothing.
    expect((await post('/topics/stored/groups/g/commit', undefined)).json().lag).toBe(3);
    const f = await post('/topics/stored/groups/g/fetch', { max: 2 });
    expect(f.statusCode).toBe(200);
    expect(f.json().events.map((e: { id: string }) => e.id)).toEqual(['e0', 'e1']);
    const c = await post('/topics/stored/groups/g/commit', undefined);
    expect(c.statusCode).toBe(200);
    expect(c.json().lag).toBe(1);
    const rest = await post('/topics/stored/groups/g/fetch', {});
    expect(rest.json().events.map((e: { id: string }) => e.id)).toEqual(['e2']);
    expect((await post('/topics/stored/groups/g/commit', undefined)).json().lag).toBe(0);
  });
});

describe('a topic deleted and created again', () => {
  it('does not hand the old groups to the new topic', async () => {
    expect((await post('/topics', { name: 'again' })).statusCode).toBe(201);
    await post('/topics/again/events', [{ data: 1 }, { data: 2 }, { data: 3 }]);
    expect((await post('/topics/again/groups/g/fetch', {})).json().events).toHaveLength(3);
    expect((await post('/topics/again/groups/g/commit', undefined)).json().lag).toBe(0);
    expect((await api({ method: 'DELETE', url: '/api/v1/topics/again' })).statusCode).toBe(204);
    expect((await post('/topics', { name: 'again' })).statusCode).toBe(201);
    await post('/topics/again/events', Array.from({ length: 6 }, (_, i) => ({ data: i })));
    expect((await get('/topics/again/groups/g')).json().lag).toBe(6);
    const f = await post('/topics/again/groups/g/fetch', {});
    expect(f.json().events.map((e: { data: number }) => e.data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await post('/topics/again/groups/g/commit', undefined)).json().lag).toBe(0);
  });
});
