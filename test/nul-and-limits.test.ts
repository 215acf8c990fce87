import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineWorkflow } from '../src/workflows/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';

/*
 * NUL characters (U+0000), huge integers, odd times and over-long identifiers, the same on both
 * engines: refused with a 400 naming the field over HTTP, with AIOS_VALIDATION in process, and
 * per item in an append; never a driver error, and nothing stored.
 */

const N = '\u0000';
const NS = 'default';
const flow = defineWorkflow('nul-check', { version: '1' }, async (ctx) => {
  await ctx.waitForSignal('go');
});

const pgUp = await pgAvailable();
const engines: { name: string; config: () => Promise<{ config: Record<string, string | number>; drop(): Promise<void> }> }[] = [
  { name: 'SQLite', config: async () => ({ config: {}, drop: async () => undefined }) },
  ...(pgUp
    ? [
        {
          name: 'PostgreSQL',
          config: async () => {
            const s = await freshPgSchema();
            return { config: { databaseUrl: s.url }, drop: () => s.drop() };
          },
        },
      ]
    : []),
];

for (const engine of engines) {
  describe(`NUL characters and limits on ${engine.name}`, () => {
    let t: TestAios;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      const c = await engine.config();
      drop = c.drop;
      t = await startTestAios({ ...c.config, workflowConcurrency: 0, scheduler: 0, rateLimitPrincipal: 0, rateLimitNamespace: 0 });
      t.aios.register(flow);
      await t.aios.events.createTopic(NS, { name: 'plant', keyField: 'machine' });
      await t.aios.workflows.submit(NS, flow.name, { a: 1 }, { id: 'run-1' });
    });
    afterAll(async () => {
      await t?.cleanup();
      await drop?.();
    });

    /** The answer's status, code and field paths. */
    async function refusal(opts: InjectOptions, auth = true) {
      const res = auth ? await t.api(opts) : await t.aios.http.inject(opts);
      const body = res.json() as { code?: string; errors?: { path: string }[] };
      return { status: res.statusCode, code: body.code, paths: (body.errors ?? []).map((e) => e.path), type: res.headers['content-type'] };
    }

    it('a NUL in any body field, at any depth or in a key, is a 400 naming it, and nothing is stored', async () => {
      const cases: [InjectOptions, string][] = [
        [{ method: 'POST', url: '/api/v1/topics', payload: { name: 'nul-1', description: `a${N}b` } }, '/body/description'],
        [{ method: 'POST', url: '/api/v1/topics', payload: { name: 'nul-2', schema: { type: 'object', properties: { x: { description: N } } } } }, '/body/schema/properties/x/description'],
        [{ method: 'POST', url: '/api/v1/topics', payload: { name: 'nul-3', schema: { properties: { [`x${N}`]: {} } } } }, '/body/schema/properties'],
        [{ method: 'PATCH', url: '/api/v1/topics/plant', payload: { description: N } }, '/body/description'],
        [{ method: 'PUT', url: '/api/v1/secrets/nul-secret', payload: { value: 'v', description: `d${N}` } }, '/body/description'],
        [{ method: 'POST', url: '/api/v1/keys', payload: { name: `k${N}`, roles: ['viewer'] } }, '/body/name'],
        [{ method: 'PUT', url: '/api/v1/policies', payload: { text: 'permit(principal, action, resource);', comment: `c${N}` } }, '/body/comment'],
        [{ method: 'POST', url: '/api/v1/workflows', payload: { name: flow.name, id: 'nul-run', input: { label: [`a${N}`] } } }, '/body/input/label/0'],
        [{ method: 'POST', url: '/api/v1/workflows/run-1/signals/go', payload: { note: `x${N}` } }, '/body/note'],
        [{ method: 'POST', url: '/api/v1/workflows/run-1/cancel', payload: { reason: `because${N}` } }, '/body/reason'],
        [{ method: 'POST', url: '/api/v1/schedules', payload: { id: 'nul-schedule', workflow: flow.name, cron: '@daily', input: { [`k${N}`]: 1 } } }, '/body/input'],
        [{ method: 'POST', url: '/api/v1/schedules', payload: { id: 'nul-schedule', workflow: flow.name, cron: `@daily${N}` } }, '/body/cron'],
        // NDJSON, on a route that takes it besides appends (other routes refuse it with 415 unread).
        [{ method: 'POST', url: '/api/v1/audit/verify', payload: `{"name":"nul-4"}\n{"name":"x${'\\u0000'}"}`, headers: { 'content-type': 'application/x-ndjson' } }, '/body/1/name'],
      ];
      for (const [opts, path] of cases) {
        const r = await refusal(opts);
        expect(r, `${opts.method} ${opts.url} ${JSON.stringify(opts.payload)}`).toMatchObject({ status: 400, code: 'AIOS_VALIDATION', paths: [path] });
        expect(r.type).toMatch(/^application\/problem\+json/);
      }
      expect((await t.api({ method: 'GET', url: '/api/v1/topics' })).json().topics.map((x: { name: string }) => x.name)).toEqual(['plant']);
      expect((await t.aios.events.getTopic(NS, 'plant')).description).toBeNull();
      await expect(t.aios.governance.secrets.get(NS, 'nul-secret')).rejects.toMatchObject({ code: 'AIOS_SECRETS_NOT_FOUND' });
      expect(await t.aios.workflows.getRun(NS, 'nul-run')).toBeUndefined();
      expect(await t.aios.schedules.get(NS, 'nul-schedule')).toBeUndefined();
      expect((await t.aios.workflows.getRun(NS, 'run-1'))!.cancelRequested).toBe(false);
      expect((await t.aios.workflows.history(NS, 'run-1')).length).toBe(0);
    });

    it('a NUL in a path parameter, the query string or a header is a 400 naming it, before authentication', async () => {
      const cases: [InjectOptions, string][] = [
        [{ method: 'GET', url: '/api/v1/topics/a%00b' }, '/params/topic'],
        [{ method: 'DELETE', url: '/api/v1/topics/plant%00' }, '/params/topic'],
        [{ method: 'GET', url: '/api/v1/topics?after=%00' }, '/querystring/after'],
        [{ method: 'GET', url: '/api/v1/workflows?after=x&name=a%00' }, '/querystring/name'],
        [{ method: 'POST', url: '/api/v1/topics/plant/events?atomic=true&x=%00', payload: { data: {} } }, '/querystring/x'],
        [{ method: 'POST', url: '/api/v1/workflows', payload: { name: flow.name }, headers: { 'idempotency-key': `k${N}` } }, '/headers/idempotency-key'],
        [{ method: 'GET', url: '/api/v1/topics', headers: { 'x-aios-namespace': `a${N}` } }, '/headers/x-aios-namespace'],
        [{ method: 'GET', url: '/api/v1/topics', headers: { 'x-aios-lineage-id': `a${N}` } }, '/headers/x-aios-lineage-id'],
      ];
      for (const [opts, path] of cases) {
        for (const auth of [true, false]) {
          const r = await refusal(opts, auth);
          expect(r, `${opts.method} ${opts.url} (authenticated: ${auth})`).toMatchObject({ status: 400, code: 'AIOS_VALIDATION', paths: [path] });
        }
      }
      expect((await t.aios.events.getTopic(NS, 'plant')).name).toBe('plant');
    });

    it('an append rejects each event holding a NUL by its index and keeps the others', async () => {
      const before = (await t.aios.events.read(NS, 'plant', { partition: 0, fromOffset: 0, limit: 1000 })).events.length;
      const batch = [
        { data: { machine: 'm1', v: 1 } },
        { data: { machine: 'm1', label: `a${N}` } },
        { id: `id${N}`, data: { machine: 'm1' } },
        { key: `k${N}`, data: { machine: 'm1' } },
        { headers: { source: `s${N}` }, data: { machine: 'm1' } },
        { headers: { [`h${N}`]: 'x' }, data: { machine: 'm1' } },
        { data: { machine: `m${N}` } },
        { data: { [`k${N}`]: 1 } },
        { data: { machine: 'm2', v: 2 } },
      ];
      const res = await t.api({ method: 'POST', url: '/api/v1/topics/plant/events', payload: batch });
      expect(res.statusCode, res.body).toBe(207);
      const body = res.json() as { accepted: { index: number }[]; rejected: { index: number; code: string; reason: string }[] };
      expect(body.accepted.map((a) => a.index)).toEqual([0, 8]);
      expect(body.rejected.map((r) => [r.index, r.code, r.reason.split(' ')[0]])).toEqual([
        [1, 'AIOS_EVENTS_INVALID_EVENT', '/data/label'],
        [2, 'AIOS_EVENTS_INVALID_EVENT', '/id'],
        [3, 'AIOS_EVENTS_INVALID_EVENT', '/key'],
        [4, 'AIOS_EVENTS_INVALID_EVENT', '/headers/source'],
        [5, 'AIOS_EVENTS_INVALID_EVENT', '/headers'],
        [6, 'AIOS_EVENTS_INVALID_EVENT', '/data/machine'],
        [7, 'AIOS_EVENTS_INVALID_EVENT', '/data'],
      ]);
      for (const r of body.rejected) expect(r.reason).toContain('NUL character (U+0000)');
      // One event alone is atomic: 422, nothing appended. NDJSON and CloudEvents batches reject per item too.
      expect((await t.api({ method: 'POST', url: '/api/v1/topics/plant/events', payload: { data: { machine: N } } })).statusCode).toBe(422);
      const ndjson = await t.api({ method: 'POST', url: '/api/v1/topics/plant/events', payload: `{"data":{"machine":"m3"}}\n{"data":{"machine":"\\u0000"}}\n`, headers: { 'content-type': 'application/x-ndjson' } });
      expect([ndjson.statusCode, ndjson.json().rejected.map((r: { index: number }) => r.index)]).toEqual([207, [1]]);
      const ce = [{ specversion: '1.0', id: 'ce-1', source: 's', type: 't', data: { machine: 'm4' } }, { specversion: '1.0', id: 'ce-2', source: `s${N}`, type: 't', data: { machine: 'm4' } }];
      const ceRes = await t.api({ method: 'POST', url: '/api/v1/topics/plant/events', payload: JSON.stringify(ce), headers: { 'content-type': 'application/cloudevents-batch+json' } });
      expect([ceRes.statusCode, ceRes.json().rejected.map((r: { index: number; reason: string }) => [r.index, r.reason.split(' ')[0]])]).toEqual([207, [[1, '/headers/ce-source']]]);
      const after = (await t.aios.events.read(NS, 'plant', { partition: 0, fromOffset: 0, limit: 1000 })).events;
      expect(after.length - before).toBe(4);
      // In process, the same rejections.
      const inProcess = await t.aios.events.append(NS, 'plant', [{ data: { machine: 'ok' } }, { data: { machine: `x${N}` } }]);
      expect([inProcess.accepted.length, inProcess.rejected.map((r) => r.reason.split(' ')[0])]).toEqual([1, ['/data/machine']]);
    });

    it('in process, every API that stores text refuses a NUL with AIOS_VALIDATION, not a driver error', async () => {
      const validation = { code: 'AIOS_VALIDATION' };
      const refusals: [string, () => Promise<unknown>][] = [
        ['createTopic description', () => t.aios.events.createTopic(NS, { name: 'nul-topic', description: N })],
        ['createTopic schema', () => t.aios.events.createTopic(NS, { name: 'nul-topic', schema: { title: N } })],
        ['updateTopic schema', () => t.aios.events.updateTopic(NS, 'plant', { schema: { [`a${N}`]: {} } })],
        ['workflow input', () => t.aios.workflows.submit(NS, flow.name, { label: N }, { id: 'nul-run-2' })],
        ['workflow id', () => t.aios.workflows.submit(NS, flow.name, {}, { id: `r${N}` })],
        ['signal payload', () => t.aios.workflows.signal(NS, 'run-1', 'go', [N])],
        ['signal name', () => t.aios.workflows.signal(NS, 'run-1', `go${N}`, 1)],
        ['cancel reason', () => t.aios.workflows.cancel(NS, 'run-1', { reason: N })],
        ['schedule input', () => t.aios.schedules.create(NS, { id: 'nul-sched', workflow: flow.name, cron: '@daily', input: { x: N }, createdBy: 'test' })],
        ['schedule id', () => t.aios.schedules.create(NS, { id: `s${N}`, workflow: flow.name, cron: '@daily', createdBy: 'test' })],
        ['secret description', () => t.aios.governance.secrets.put(NS, 'nul-secret', 'v', { description: N })],
        ['key name', () => t.aios.governance.keys.create(NS, { name: N, roles: ['viewer'] })],
        ['key principal', () => t.aios.governance.keys.create(NS, { name: 'k', roles: ['viewer'], principalId: `p${N}` })],
        ['policy comment', () => t.aios.governance.policies.put('permit(principal, action, resource);', { comment: N })],
        ['a lookup', () => t.aios.events.getTopic(NS, `plant${N}`)],
      ];
      for (const [what, call] of refusals) await expect(call(), what).rejects.toMatchObject(validation);
      expect(await t.aios.workflows.getRun(NS, 'nul-run-2')).toBeUndefined();
      expect((await t.aios.workflows.getRun(NS, 'run-1'))!.cancelRequested).toBe(false);
      expect(await t.aios.schedules.get(NS, 'nul-sched')).toBeUndefined();
      expect((await t.aios.governance.policies.history({ limit: 100 })).length).toBe(1);
      // A NUL the caller put in a secret's value is sealed, not stored as text: that one is kept as given.
      await t.aios.governance.secrets.put(NS, 'binary', `a${N}b`);
      expect(await t.aios.governance.secrets.reveal(NS, 'binary', { actor: { type: 'user', id: 't', authMethod: 'none', keyId: null } })).toBe(`a${N}b`);
    });

    it('identifiers have limits well under what an index takes, in multi-byte UTF-8 too', async () => {
      const validation = { code: 'AIOS_VALIDATION' };
      await expect(t.aios.workflows.submit(NS, flow.name, {}, { id: 'x'.repeat(501) })).rejects.toMatchObject(validation);
      await expect(t.aios.workflows.submit(NS, flow.name, {}, { id: '😀'.repeat(251) })).rejects.toMatchObject(validation);
      await expect(t.aios.workflows.signal(NS, 'run-1', '€'.repeat(201), 1)).rejects.toMatchObject(validation);
      await expect(t.aios.schedules.create(NS, { id: 'é'.repeat(201), workflow: flow.name, cron: '@daily', createdBy: 'test' })).rejects.toMatchObject(validation);
      await expect(t.aios.governance.keys.create(NS, { name: 'k', roles: ['viewer'], principalId: '€'.repeat(201) })).rejects.toMatchObject(validation);
      // The longest each takes fits in every index.
      const id = '€'.repeat(500);
      expect((await t.aios.workflows.submit(NS, flow.name, {}, { id })).created).toBe(true);
      expect((await t.aios.workflows.signal(NS, id, '😀'.repeat(100), 1)).seq).toBeGreaterThan(0);
      expect((await t.aios.schedules.create(NS, { id: 'é'.repeat(200), workflow: flow.name, cron: '@daily', createdBy: 'test' })).id.length).toBe(200);
      // Over HTTP the route schemas hold them shorter still.
      const http: InjectOptions[] = [
        { method: 'POST', url: '/api/v1/workflows', payload: { name: flow.name, id: 'x'.repeat(101) } },
        { method: 'POST', url: '/api/v1/keys', payload: { name: '😀'.repeat(201), roles: ['viewer'] } },
        { method: 'POST', url: '/api/v1/topics', payload: { name: 'long-key-field', keyField: 'a'.repeat(201) } },
        { method: 'PUT', url: `/api/v1/secrets/${'s'.repeat(201)}`, payload: { value: 'v' } },
        { method: 'POST', url: '/api/v1/schedules', payload: { id: 'x'.repeat(81), workflow: flow.name, cron: '@daily' } },
      ];
      for (const opts of http) expect((await refusal(opts)).status, `${opts.method} ${opts.url}`).toBe(400);
    });

    it('a value too long for an index is a 400, not a driver error, wherever it comes from', async () => {
      // Random, so that PostgreSQL cannot compress it into an index row; SQLite has no such limit.
      const name = randomBytes(2000).toString('hex');
      const insert = () =>
        t.aios.database.db
          .insertInto('aios_lineage_nodes')
          .values({ id: `n-${name.slice(0, 8)}`, ns: NS, lineage_id: name, kind: 'ingest', name: 'x', ref: null, attrs: null, created_at: 0 })
          .execute();
      if (engine.name === 'PostgreSQL') await expect(insert()).rejects.toMatchObject({ code: 'AIOS_VALIDATION', message: 'a value is too long for the database to index' });
      else await insert();
    });

    it('integers beyond 2^53 and beyond int8, and times no clock reaches, are 400s', async () => {
      const cases: InjectOptions[] = [
        { method: 'POST', url: '/api/v1/topics/plant/groups/g/commit', payload: '{"offsets":[{"partition":0,"offset":9223372036854775808}]}', headers: { 'content-type': 'application/json' } },
        { method: 'POST', url: '/api/v1/topics/plant/groups/g/reset', payload: { offsets: [{ partition: 0, offset: 2 ** 53 }] } },
        { method: 'PATCH', url: '/api/v1/topics/plant', payload: '{"retention":{"ms":100000000000000000000}}', headers: { 'content-type': 'application/json' } },
        { method: 'GET', url: '/api/v1/audit?after=99999999999999999999' },
        { method: 'GET', url: '/api/v1/topics/plant/events?partition=0&fromOffset=9223372036854775808' },
        { method: 'GET', url: '/api/v1/policies/versions?before=1e30' },
        { method: 'POST', url: '/api/v1/keys', payload: { name: 'k', roles: ['viewer'], expiresAt: '2030-12-31T23:59:60Z' } },
      ];
      for (const opts of cases) {
        const r = await refusal(opts);
        expect(r, `${opts.method} ${opts.url}`).toMatchObject({ status: 400, code: 'AIOS_VALIDATION' });
      }
      expect((await t.aios.events.groupState(NS, 'plant', 'g')).partitions.every((p) => p.committed === null)).toBe(true);
      expect((await t.aios.events.getTopic(NS, 'plant')).retention.ms).toBeNull();
    });
  });
}
