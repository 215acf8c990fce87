import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aios } from '../src/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

let aios: Aios;
let cleanup: () => Promise<void>;
let api: TestAios['api'];

beforeAll(async () => {
  ({ aios, api, cleanup } = await startTestAios({ bodyLimitBytes: 64 * 1024 }));
  const r = await api({
    method: 'POST',
    url: '/api/v1/topics',
    payload: { name: 'vibration', keyField: 'turbineId', partitions: 2, schema: { type: 'object', required: ['turbineId', 'rms'], properties: { turbineId: { type: 'string' }, rms: { type: 'number' } } } },
  });
  expect(r.statusCode).toBe(201);
});
afterAll(() => cleanup());

async function count(topic = 'vibration'): Promise<number> {
  const r = await api({ method: 'GET', url: `/api/v1/topics/${topic}/events?limit=10000` });
  return r.json().events.length;
}

function expectProblem(r: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number, code: string) {
  expect(r.statusCode).toBe(status);
  expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const p = r.json();
  expect(p).toMatchObject({ status, code, type: `urn:aios:error:${code}` });
  expect(typeof p.title).toBe('string');
  expect(typeof p.detail).toBe('string');
  return p;
}

describe('append over HTTP', () => {
  it('appends one event, an array, NDJSON and CloudEvents', async () => {
    const before = await count();
    const one = await api({ method: 'POST', url: '/api/v1/topics/vibration/events', payload: { id: 'h1', data: { turbineId: 't1', rms: 0.4 } } });
    expect(one.statusCode).toBe(200);
    expect(one.json().accepted[0]).toMatchObject({ index: 0, id: 'h1', duplicate: false });
    const arr = await api({ method: 'POST', url: '/api/v1/topics/vibration/events', payload: [{ data: { turbineId: 't2', rms: 1 } }, { data: { turbineId: 't3', rms: 2 } }] });
    expect(arr.json().accepted).toHaveLength(2);
    const nd = await api({
      method: 'POST',
      url: '/api/v1/topics/vibration/events',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: '{"id":"n1","data":{"turbineId":"t1","rms":3}}\n{"id":"n2","data":{"turbineId":"t2","rms":4}}\n',
    });
    expect(nd.json().accepted.map((a: { id: string }) => a.id)).toEqual(['n1', 'n2']);
    const ce = await api({
      method: 'POST',
      url: '/api/v1/topics/vibration/events',
      headers: { 'content-type': 'application/cloudevents+json' },
      payload: { specversion: '1.0', id: 'ce-1', source: '/plant/a', type: 'vibration.sample', time: '2026-03-01T00:00:00Z', data: { turbineId: 't9', rms: 5 } },
    });
    expect(ce.statusCode).toBe(200);
    const batch = await api({
      method: 'POST',
      url: '/api/v1/topics/vibration/events',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      payload: [{ specversion: '1.0', id: 'ce-2', source: '/plant/a', type: 'vibration.sample', data: { turbineId: 't9', rms: 6 } }],
    });
    expect(batch.json().accepted[0].id).toBe('ce-2');
    const binary = await api({
      method: 'POST',
      url: '/api/v1/topics/vibration/events',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'ce-3', 'ce-source': '/plant/b', 'ce-type': 'vibration.sample' },
      payload: { turbineId: 't8', rms: 7 },
    });
    expect(binary.json().accepted[0].id).toBe('ce-3');
    expect(await count()).toBe(before + 8);
    const read = await api({ method: 'GET', url: '/api/v1/topics/vibration/events?limit=1000' });
    const ce1 = read.json().events.find((e: { id: string }) => e.id === 'ce-1');
    expect(ce1).toMatchObject({ time: '2026-03-01T00:00:00.000Z', key: 't9', headers: { 'ce-source': '/plant/a', 'ce-type': 'vibration.sample' } });
    expect(ce1.ingestedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('answers a duplicate id with the first offset and stores it once', async () => {
    const a = await api({ method: 'POST', url: '/api/v1/topics/vibration/events', payload: { id: 'dup-1', data: { turbineId: 't1', rms: 1 } } });
    const b = await api({ method: 'POST', url: '/api/v1/topics/vibration/events', payload: { id: 'dup-1', data: { turbineId: 't1', rms: 1 } } });
    expect(b.json().accepted[0]).toMatchObject({ offset: a.json().accepted[0].offset, partition: a.json().accepted[0].partition, duplicate: true });
    const all = (await api({ method: 'GET', url: '/api/v1/topics/vibration/events?limit=10000' })).json().events;
    expect(all.filter((e: { id: string }) => e.id === 'dup-1')).toHaveLength(1);
  });

  it('reports each rejected item of a batch with index, code and reason (207)', async () => {
    const before = await count();
    const r = await api({ method: 'POST', url: '/api/v1/topics/vibration/events', payload: [{ data: { turbineId: 't1', rms: 1 } }, { data: { turbineId: 't1' } }, { nope: 1 }] });
    expect(r.statusCode).toBe(207);
    const body = r.json();
    expect(body.accepted.map((a: { index: number }) => a.index)).toEqual([0]);
    expect(body.rejected).toMatchObject([
      { index: 1, code: 'AIOS_EVENTS_SCHEMA_VIOLATION', reason: expect.stringContaining('rms') },
      { index: 2, code: 'AIOS_EVENTS_INVALID_EVENT', reason: expect.stringContaining('nope') },
    ]);
    expect(await count()).toBe(before + 1);
  });

  describe('bad input gets a 4xx problem and appends nothing', () => {
    const cases: [string, () => Record<string, unknown>, number, string][] = [
      ['a schema violation', () => ({ payload: { data: { turbineId: 't1', rms: 'loud' } } }), 422, 'AIOS_EVENTS_SCHEMA_VIOLATION'],
      ['malformed JSON', () => ({ headers: { 'content-type': 'application/json' }, payload: '{"data": {"turbineId": "t1", ' }), 400, 'AIOS_MALFORMED_JSON'],
      ['a broken NDJSON line', () => ({ headers: { 'content-type': 'application/x-ndjson' }, payload: '{"data":{"turbineId":"t1","rms":1}}\n{"data":{"turbineId":\n{"data":{"turbineId":"t1","rms":2}}\n' }), 400, 'AIOS_MALFORMED_JSON'],
      ['an unknown topic', () => ({ url: '/api/v1/topics/no-such-topic/events', payload: { data: {} } }), 404, 'AIOS_EVENTS_TOPIC_NOT_FOUND'],
      ['an oversized body', () => ({ payload: Array.from({ length: 2000 }, (_, i) => ({ data: { turbineId: `t${i}`, rms: i, pad: 'x'.repeat(30) } })) }), 413, 'AIOS_PAYLOAD_TOO_LARGE'],
      ['a wrong content type', () => ({ headers: { 'content-type': 'text/csv' }, payload: 'turbineId,rms\nt1,1\n' }), 415, 'AIOS_UNSUPPORTED_MEDIA_TYPE'],
      ['an atomic batch with one bad event', () => ({ url: '/api/v1/topics/vibration/events?atomic=true', payload: [{ data: { turbineId: 't1', rms: 1 } }, { data: { rms: 1 } }] }), 422, 'AIOS_EVENTS_BATCH_REJECTED'],
      ['an invalid CloudEvent', () => ({ headers: { 'content-type': 'application/cloudevents+json' }, payload: { specversion: '0.3', id: 'x', data: {} } }), 400, 'AIOS_BAD_REQUEST'],
      ['an empty array', () => ({ payload: [] }), 400, 'AIOS_BAD_REQUEST'],
      ['a bad event time', () => ({ payload: { time: 'yesterday', data: { turbineId: 't1', rms: 1 } } }), 422, 'AIOS_EVENTS_INVALID_EVENT'],
    ];
    for (const [name, req, status, code] of cases) {
      it(name, async () => {
        const before = await count();
        const r = await api({ method: 'POST', url: '/api/v1/topics/vibration/events', ...req() } as never);
        const p = expectProblem(r, status, code);
        if (code === 'AIOS_MALFORMED_JSON' && name.includes('NDJSON')) expect(p.detail).toContain('line 2');
        expect(await count()).toBe(before);
      });
    }
  });
});

describe('topics over HTTP', () => {
  it('creates idempotently, refuses a conflicting definition and bad names', async () => {
    const again = await api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'vibration', keyField: 'turbineId', partitions: 2, schema: { type: 'object', required: ['turbineId', 'rms'], properties: { turbineId: { type: 'string' }, rms: { type: 'number' } } } } });
    expect(again.statusCode).toBe(200);
    expectProblem(await api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'vibration', partitions: 3 } }), 409, 'AIOS_EVENTS_TOPIC_EXISTS');
    const bad = expectProblem(await api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'Bad Name!' } }), 400, 'AIOS_VALIDATION');
    expect(bad.errors[0].path).toContain('name');
    expectProblem(await api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'x', schema: { type: 'no-such-type' } } }), 400, 'AIOS_EVENTS_SCHEMA_INVALID');
    expectProblem(await api({ method: 'GET', url: '/api/v1/topics/missing' }), 404, 'AIOS_EVENTS_TOPIC_NOT_FOUND');
  });

  it('changes a schema only compatibly, naming the incompatibility', async () => {
    await api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'evolve', schema: { type: 'object', properties: { a: { type: 'number' } } } } });
    const ok = await api({ method: 'PATCH', url: '/api/v1/topics/evolve', payload: { schema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'string' } } } } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().schemaVersion).toBe(2);
    const no = expectProblem(await api({ method: 'PATCH', url: '/api/v1/topics/evolve', payload: { schema: { type: 'object', properties: { a: { type: 'string' } } } } }), 409, 'AIOS_EVENTS_SCHEMA_INCOMPATIBLE');
    expect(no.detail).toContain('/properties/a');
    expectProblem(await api({ method: 'PATCH', url: '/api/v1/topics/evolve', payload: { partitions: 4 } }), 400, 'AIOS_VALIDATION');
    const versions = (await api({ method: 'GET', url: '/api/v1/topics/evolve/schemas' })).json().versions;
    expect(versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    const list = (await api({ method: 'GET', url: '/api/v1/topics' })).json();
    expect(list.topics.map((t: { name: string }) => t.name)).toEqual(['evolve', 'vibration']);
  });
});

describe('consumer groups over HTTP', () => {
  it('fetches, commits, reports lag and replays', async () => {
    await api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'work' } });
    await api({ method: 'POST', url: '/api/v1/topics/work/events', payload: [{ data: 1 }, { data: 2 }, { data: 3 }] });
    const f = await api({ method: 'POST', url: '/api/v1/topics/work/groups/billing/fetch', payload: { max: 2 } });
    expect(f.json().events.map((e: { data: number }) => e.data)).toEqual([1, 2]);
    const last = f.json().events[1];
    const c = await api({ method: 'POST', url: '/api/v1/topics/work/groups/billing/commit', payload: { offsets: [{ partition: last.partition, offset: last.offset }] } });
    expect(c.json()).toMatchObject({ group: 'billing', lag: 1 });
    const g = await api({ method: 'GET', url: '/api/v1/topics/work/groups' });
    expect(g.json().groups[0]).toMatchObject({ group: 'billing', lag: 1 });
    const rs = await api({ method: 'POST', url: '/api/v1/topics/work/groups/billing/reset', payload: { to: 'earliest' } });
    expect(rs.json().lag).toBe(3);
    const again = await api({ method: 'POST', url: '/api/v1/topics/work/groups/billing/fetch', payload: { max: 10 } });
    expect(again.json().events.map((e: { data: number }) => e.data)).toEqual([1, 2, 3]);
    expectProblem(await api({ method: 'POST', url: '/api/v1/topics/work/groups/billing/reset', payload: { to: 'earliest', time: '2026-01-01T00:00:00Z' } }), 400, 'AIOS_VALIDATION');
    const metrics = await api({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/aios_consumer_lag\{ns="default",topic="work",group="billing"\} \d+/);
  });
});

describe('system routes', () => {
  it('serves health, readiness, metrics, OpenAPI and docs', async () => {
    expect((await api({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await api({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
    const m = await api({ method: 'GET', url: '/metrics' });
    expect(m.body).toContain('aios_events_appended_total');
    expect(m.body).toContain('aios_events_append_queue_depth');
    const doc = (await api({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/topics', '/api/v1/topics/{topic}/events', '/api/v1/topics/{topic}/stream']));
    const docs = await api({ method: 'GET', url: '/docs/' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
    expectProblem(await api({ method: 'GET', url: '/api/v1/nothing-here' }), 404, 'AIOS_NOT_FOUND');
  });
});
