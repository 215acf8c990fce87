import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError, defineWorkflow } from '../src/workflows/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { LIVENESS_MS } from './support/until.ts';

/*
 * The workflow and schedule routes, on a real embedded AIOS (SQLite, the engine's worker loop
 * and the scheduler running on the system clock).
 */

let t: TestAios;
const PAYLOAD_LIMIT = 4096;

/** Flipped by the tests: the 'charge' step of `flaky` fails terminally while it is true. */
let declineCharges = true;
let chargeCalls = 0;

const greet = defineWorkflow(
  'greet',
  { version: '1', input: { type: 'object', required: ['who'], properties: { who: { type: 'string' } }, additionalProperties: false } },
  async (ctx, input: { who: string }) => {
    const greeting = await ctx.step('hello', () => `hello ${input.who}`);
    await ctx.setState({ greeted: input.who });
    return { greeting };
  },
);
const greetV2 = defineWorkflow('greet', { version: '2' }, async (ctx, input: { who: string }) => ({ greeting: await ctx.step('hello', () => `hi ${input.who}`) }));

const typed = defineWorkflow('typed', { version: '1', input: { type: 'object', required: ['who'], properties: { who: { type: 'string' } } } }, async (_ctx, input: { who: string }) => input.who);

/** Waits for two signals in order; the test sends the second before its wait starts. */
const approval = defineWorkflow('approval', { version: '1' }, async (ctx) => {
  await ctx.setState({ phase: 'waiting for review' });
  const review = await ctx.waitForSignal<{ ok: boolean }>('reviewed');
  await ctx.setState({ phase: 'waiting for approval' });
  const approved = await ctx.waitForSignal<{ by: string }>('approved');
  return { review: review.timedOut ? null : review.payload, approved: approved.timedOut ? null : approved.payload };
});

/** Waits until told, for cancel and terminate. */
const idle = defineWorkflow('idle', { version: '1' }, async (ctx) => {
  await ctx.waitForSignal('never');
  return 'woke';
});

const flaky = defineWorkflow('flaky', { version: '1' }, async (ctx) => {
  await ctx.step('reserve', () => 'reserved');
  const receipt = await ctx.step('charge', () => {
    chargeCalls++;
    if (declineCharges) throw new TerminalError('card declined');
    return 'charged';
  });
  return { receipt };
});

const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

function api(opts: InjectOptions): Promise<LightMyRequestResponse> {
  return t.api(opts);
}

const start = (payload: unknown, headers: Record<string, string> = {}) =>
  api({ method: 'POST', url: '/api/v1/workflows', payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
const get = (id: string, headers: Record<string, string> = {}) => api({ method: 'GET', url: `/api/v1/workflows/${encodeURIComponent(id)}`, headers });

/** Polls the run until `ok` holds for it. */
async function until(id: string, ok: (run: { status: string; state?: unknown }) => boolean, timeoutMs = LIVENESS_MS): Promise<Record<string, any>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const run = (await get(id)).json();
    if (ok(run)) return run;
    if (Date.now() > end) throw new Error(`run ${id} did not get there in time; last seen ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const status = (s: string) => (run: { status: string }) => run.status === s;

let requester: string;

beforeAll(async () => {
  t = await startTestAios({ rateLimitPrincipal: 0, rateLimitNamespace: 0, maxWorkflowPayloadBytes: PAYLOAD_LIMIT });
  t.aios.register(greet, greetV2, approval, idle, flaky, typed);
  const who = (await api({ method: 'GET', url: '/api/v1/auth/whoami' })).json().principal;
  // Principals are recorded by namespace and id: the first admin is user:*/admin.
  requester = `${who.type}:${who.namespace}/${who.id}`;
});
afterAll(() => t.cleanup());

describe('starting runs', () => {
  it('starts a run (201), which completes with its output, state and history', async () => {
    const r = await start({ name: 'greet', version: '1', input: { who: 'ana' }, id: 'greet-ana' }, { 'x-aios-lineage-id': 'mes:order-4711' });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ id: 'greet-ana', namespace: 'default', name: 'greet', version: '1', input: { who: 'ana' }, createdBy: requester, lineageId: 'mes:order-4711', cancelRequested: false });
    expect(r.json().createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const done = await until('greet-ana', status('completed'));
    expect(done).toMatchObject({ output: { greeting: 'hello ana' }, state: { greeted: 'ana' }, error: null });
    expect(Date.parse(done.completedAt)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));

    const history = await api({ method: 'GET', url: '/api/v1/workflows/greet-ana/history' });
    expect(history.statusCode).toBe(200);
    const steps = history.json().entries.filter((e: { kind: string }) => e.kind === 'step');
    expect(steps).toEqual([expect.objectContaining({ name: 'hello', status: 'ok', result: 'hello ana' })]);
    expect(steps[0].createdAt).toMatch(/Z$/);
  });

  it('is idempotent by id: the same start again answers 200 with the same run; another workflow or input under it is a conflict', async () => {
    const body = { name: 'greet', version: '1', input: { who: 'ben' }, id: 'greet-ben' };
    const first = await start(body);
    expect(first.statusCode).toBe(201);
    const again = await start(body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: 'greet-ben', createdAt: first.json().createdAt, lineageId: first.json().lineageId });
    expect((await start({ ...body, input: { who: 'eve' } })).statusCode).toBe(409);
    expect((await start({ name: 'idle', id: 'greet-ben' })).json().code).toBe('AIOS_CONFLICT');
    const runs = (await api({ method: 'GET', url: '/api/v1/workflows?name=greet&limit=1000' })).json().runs.filter((r: { id: string }) => r.id === 'greet-ben');
    expect(runs).toHaveLength(1);
  });

  it('takes the run id from an Idempotency-Key header too, and refuses one that differs from the body\'s or is not a valid id', async () => {
    const post = (headers: Record<string, string>, body: Record<string, unknown>) => api({ method: 'POST', url: '/api/v1/workflows', headers, payload: body });
    const first = await post({ 'idempotency-key': 'greet-by-header' }, { name: 'greet', version: '1', input: { who: 'dee' } });
    expect(first.statusCode).toBe(201);
    expect(first.json().id).toBe('greet-by-header');
    expect((await post({ 'idempotency-key': 'greet-by-header' }, { name: 'greet', version: '1', input: { who: 'dee' } })).statusCode).toBe(200);
    expect((await post({ 'idempotency-key': 'a' }, { name: 'greet', input: { who: 'x' }, id: 'b' })).json()).toMatchObject({ status: 400, code: 'AIOS_VALIDATION' });
    expect((await post({ 'idempotency-key': 'no spaces please' }, { name: 'greet', input: { who: 'x' } })).json()).toMatchObject({ status: 400, code: 'AIOS_VALIDATION' });
    expect((await api({ method: 'GET', url: '/api/v1/workflows/b' })).statusCode).toBe(404);
  });

  it('pins the highest registered version by default, or the one asked for', async () => {
    expect((await start({ name: 'greet', input: { who: 'cy' } })).json().version).toBe('2');
    const defs = await api({ method: 'GET', url: '/api/v1/workflows/definitions' });
    expect(defs.statusCode).toBe(200);
    expect(defs.json().workflows).toEqual(expect.arrayContaining([{ name: 'greet', versions: ['1', '2'] }, { name: 'flaky', versions: ['1'] }]));
  });

  it('refuses an unknown workflow or version (404), an input the schema refuses and a malformed body (400)', async () => {
    const unknown = await start({ name: 'no-such-workflow' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('AIOS_NOT_FOUND');
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await start({ name: 'greet', version: '9' })).statusCode).toBe(404);

    const invalid = await start({ name: 'greet', version: '1', input: { who: 42 } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 'AIOS_VALIDATION', errors: [{ path: '/who' }] });
    expect((await start({ name: 'greet', version: '1' })).json().code).toBe('AIOS_VALIDATION');

    for (const body of [{}, { name: '' }, { name: 'greet', extra: 1 }, { name: 'greet', id: 'has space' }, { name: 'greet', id: 'x'.repeat(101) }, [], 'greet']) {
      const r = await start(body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
    }
    // Ids AIOS gives its own runs are not for clients to take.
    for (const id of ['sched:nightly:1767225600000', 'parent:child:0', 'definitions']) {
      const r = await start({ name: 'idle', id });
      expect(r.statusCode, id).toBe(400);
      expect(r.json().errors).toEqual([{ path: '/body/id', message: 'is reserved' }]);
    }
    expect((await get('definitions')).statusCode).toBe(200); // the definitions route, not a run
  });

  it('refuses an input over the payload limit with 413', async () => {
    const r = await start({ name: 'idle', input: { blob: 'x'.repeat(PAYLOAD_LIMIT) } });
    expect(r.statusCode).toBe(413);
    expect(r.json().code).toBe('AIOS_WF_PAYLOAD_TOO_LARGE');
  });

  it('answers 404 for a run that does not exist', async () => {
    for (const url of ['/api/v1/workflows/nope', '/api/v1/workflows/nope/history']) expect((await api({ method: 'GET', url })).statusCode, url).toBe(404);
    for (const url of ['/api/v1/workflows/nope/signals/go', '/api/v1/workflows/nope/cancel', '/api/v1/workflows/nope/terminate', '/api/v1/workflows/nope/retry']) {
      const r = await api({ method: 'POST', url });
      expect(r.statusCode, url).toBe(404);
      expect(r.json().code, url).toBe('AIOS_NOT_FOUND');
    }
  });
});

describe('listing runs', () => {
  const NS = { 'x-aios-namespace': 'listing' };
  const list = async (query: string) => {
    const r = await api({ method: 'GET', url: `/api/v1/workflows?${query}`, headers: NS });
    expect(r.statusCode, query).toBe(200);
    return r.json() as { runs: { id: string; name: string; status: string; createdAt: string; input?: unknown }[]; next: string | null };
  };

  it('filters by name, status and creation time, and pages with a cursor that neither skips nor repeats', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await start({ name: 'greet', version: '1', input: { who: `p${i}` }, id: `list-greet-${i}` }, NS)).json().id);
      ids.push((await start({ name: 'idle', id: `list-idle-${i}` }, NS)).json().id);
    }
    const end = Date.now() + LIVENESS_MS;
    while ((await list('name=greet&status=completed')).runs.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));

    const all = await list('limit=1000');
    expect(all.runs.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(all.next).toBeNull();
    expect(all.runs[0]).not.toHaveProperty('input'); // summaries
    expect((await list('name=greet')).runs.map((r) => r.id).sort()).toEqual(ids.filter((i) => i.startsWith('list-greet')).sort());
    expect((await list('name=greet&status=completed')).runs).toHaveLength(5);
    expect((await list('status=failed')).runs).toEqual([]);

    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await list(`limit=3${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      seen.push(...page.runs.map((r) => r.id));
      after = page.next;
      pages++;
    } while (after);
    expect(pages).toBe(4);
    expect(seen).toEqual(all.runs.map((r) => r.id));

    // Times: RFC 3339 or epoch ms, from inclusive, to exclusive.
    const times = all.runs.map((r) => Date.parse(r.createdAt));
    const mid = times[5];
    expect((await list(`from=${mid}&limit=1000`)).runs.every((r) => Date.parse(r.createdAt) >= mid)).toBe(true);
    expect((await list(`to=${new Date(mid).toISOString()}&limit=1000`)).runs.every((r) => Date.parse(r.createdAt) < mid)).toBe(true);
    expect((await list(`from=${times[0]}&to=${times[9] + 1}&limit=1000`)).runs).toHaveLength(10);
    expect((await list(`from=${Date.now() + 3_600_000}`)).runs).toEqual([]);
  });

  it('refuses a bad time, status, limit or cursor with 400', async () => {
    for (const q of ['from=yesterday', 'to=2026-13-45T00:00:00Z', 'status=done', 'limit=0', 'limit=1001', 'after=not-a-cursor', 'unknown=1']) {
      const r = await api({ method: 'GET', url: `/api/v1/workflows?${q}`, headers: NS });
      expect(r.statusCode, q).toBe(400);
      expect(r.headers['content-type'], q).toMatch(/^application\/problem\+json/);
    }
  });
});

describe('signals', () => {
  it('are taken by a wait whether they arrive before it or while it waits; the body is the payload', async () => {
    const id = (await start({ name: 'approval', id: 'approval-1' })).json().id;
    await until(id, (r) => r.status === 'waiting' && (r.state as { phase?: string })?.phase === 'waiting for review');
    // 'approved' arrives before its wait exists: it is stored and taken later.
    const early = await api({ method: 'POST', url: `/api/v1/workflows/${id}/signals/approved`, payload: { by: 'ana' } });
    expect(early.statusCode).toBe(202);
    expect(early.json()).toEqual({ seq: expect.any(Number) });
    const late = await api({ method: 'POST', url: `/api/v1/workflows/${id}/signals/reviewed`, payload: { ok: true } });
    expect(late.statusCode).toBe(202);
    expect(late.json().seq).toBeGreaterThan(early.json().seq);
    const done = await until(id, status('completed'));
    expect(done.output).toEqual({ review: { ok: true }, approved: { by: 'ana' } });
    const history = (await api({ method: 'GET', url: `/api/v1/workflows/${id}/history` })).json().entries;
    expect(history.map((e: { kind: string; name: string }) => `${e.kind}:${e.name}`)).toEqual(['wait:reviewed', 'signal:reviewed', 'wait:approved', 'signal:approved']);
    expect(history[3].result).toEqual({ timedOut: false, payload: { by: 'ana' } });

    // A finished run takes no more signals.
    const after = await api({ method: 'POST', url: `/api/v1/workflows/${id}/signals/approved`, payload: { by: 'bo' } });
    expect(after.statusCode).toBe(409);
    expect(after.json().code).toBe('AIOS_CONFLICT');
  });

  it('take any JSON or no body, and only JSON', async () => {
    const id = (await start({ name: 'idle' })).json().id;
    const send = (payload: string | undefined, type?: string) =>
      api({ method: 'POST', url: `/api/v1/workflows/${id}/signals/note`, payload, headers: type ? { 'content-type': type } : {} });
    for (const p of ['42', '"text"', 'null', '[1,2]', '{"a":{"b":[true]}}']) expect((await send(p, 'application/json')).statusCode, p).toBe(202);
    expect((await send(undefined)).statusCode).toBe(202);
    expect((await send('', 'application/json')).statusCode).toBe(202);
    expect((await send('{"a":', 'application/json')).statusCode).toBe(400);
    expect((await send('hello', 'text/plain')).statusCode).toBe(415);
    const big = await send(JSON.stringify({ blob: 'x'.repeat(PAYLOAD_LIMIT) }), 'application/json');
    expect(big.statusCode).toBe(413);
  });

  it('refuses the reserved "aios." names with 400', async () => {
    const id = (await start({ name: 'idle' })).json().id;
    for (const name of ['aios.cancel', `aios.child:${id}`, 'AIOS.cancel']) {
      const r = await api({ method: 'POST', url: `/api/v1/workflows/${id}/signals/${encodeURIComponent(name)}`, payload: { status: 'completed' } });
      expect(r.statusCode, name).toBe(400);
      expect(r.json().errors, name).toEqual([{ path: '/params/name', message: 'is reserved' }]);
    }
    expect((await get(id)).json()).toMatchObject({ status: expect.stringMatching(/pending|running|waiting/), cancelRequested: false });
  });
});

describe('cancel, terminate and retry', () => {
  it('cancels a waiting run with a reason and the caller recorded', async () => {
    const id = (await start({ name: 'idle' })).json().id;
    await until(id, status('waiting'));
    const r = await api({ method: 'POST', url: `/api/v1/workflows/${id}/cancel`, payload: { reason: 'asset decommissioned' } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ id, cancelRequested: true });
    const done = await until(id, status('cancelled'));
    expect(done.error).toMatchObject({ code: 'AIOS_WF_CANCELLED' });
    expect(done.error.message).toContain('asset decommissioned');
    expect(done.error.message).toContain(requester);
    // A finished run is returned unchanged; without a body too.
    const again = await api({ method: 'POST', url: `/api/v1/workflows/${id}/cancel` });
    expect(again.statusCode).toBe(200);
    expect(again.json().status).toBe('cancelled');
    expect((await api({ method: 'POST', url: `/api/v1/workflows/${id}/cancel`, payload: { why: 'x' } })).statusCode).toBe(400);
  });

  it('terminates a run at once', async () => {
    const id = (await start({ name: 'idle' })).json().id;
    await until(id, status('waiting'));
    const r = await api({ method: 'POST', url: `/api/v1/workflows/${id}/terminate`, payload: { reason: 'stuck' } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'terminated', error: { name: 'TerminatedError' } });
    expect(r.json().error.message).toContain('stuck');
    expect((await get(id)).json().status).toBe('terminated');
    expect((await api({ method: 'POST', url: `/api/v1/workflows/${id}/signals/never` })).statusCode).toBe(409);
  });

  it('retries a failed run from its failed step, which runs again', async () => {
    declineCharges = true;
    chargeCalls = 0;
    const id = (await start({ name: 'flaky', id: 'flaky-1' })).json().id;
    const failed = await until(id, status('failed'));
    expect(failed.error).toMatchObject({ name: 'TerminalError', message: 'card declined' });
    expect(chargeCalls).toBe(1);
    // Only a failed run can be retried.
    const notFailed = (await start({ name: 'greet', version: '1', input: { who: 'z' } })).json().id;
    await until(notFailed, status('completed'));
    expect((await api({ method: 'POST', url: `/api/v1/workflows/${notFailed}/retry` })).statusCode).toBe(409);

    declineCharges = false;
    const retried = await api({ method: 'POST', url: `/api/v1/workflows/${id}/retry` });
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toMatchObject({ id, status: 'pending', error: null });
    const done = await until(id, status('completed'));
    expect(done.output).toEqual({ receipt: 'charged' });
    expect(chargeCalls).toBe(2);
    const steps = (await api({ method: 'GET', url: `/api/v1/workflows/${id}/history` })).json().entries.filter((e: { kind: string }) => e.kind === 'step');
    expect(steps.map((e: { name: string; status: string }) => `${e.name}:${e.status}`)).toEqual(['reserve:ok', 'charge:ok']);
  });
});

describe('schedules', () => {
  const base = { workflow: 'greet', input: { who: 'shift' }, cron: '0 6,14,22 * * *', timezone: 'Europe/Berlin' };
  const schedules = (method: InjectOptions['method'], path = '', payload?: unknown) => api({ method, url: `/api/v1/schedules${path}`, payload: payload as object });

  it('are created, read, listed, changed, paused and deleted', async () => {
    const created = await schedules('POST', '', { id: 'shift-report', ...base });
    expect(created.statusCode).toBe(201);
    const s = created.json();
    expect(s).toMatchObject({ id: 'shift-report', namespace: 'default', workflow: 'greet', input: { who: 'shift' }, cron: base.cron, timezone: 'Europe/Berlin', overlap: 'skip', catchUp: 'one', catchUpLimit: 10, paused: false, lastFireAt: null, lastRunId: null, createdBy: requester });
    expect(Date.parse(s.nextFireAt)).toBeGreaterThan(Date.now());
    expect((await schedules('POST', '', { id: 'shift-report', ...base })).statusCode).toBe(409);
    expect((await schedules('GET', '/shift-report')).json()).toEqual(s);

    await schedules('POST', '', { id: 'b-nightly', ...base, cron: '@daily', overlap: 'allow', catchUp: 'all', catchUpLimit: 3, paused: true });
    const page1 = (await api({ method: 'GET', url: '/api/v1/schedules?limit=1' })).json();
    expect(page1.schedules.map((x: { id: string }) => x.id)).toEqual(['b-nightly']);
    const page2 = (await api({ method: 'GET', url: `/api/v1/schedules?limit=1&after=${page1.next}` })).json();
    expect(page2.schedules.map((x: { id: string }) => x.id)).toEqual(['shift-report']);

    const paused = await schedules('PATCH', '/shift-report', { paused: true });
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ paused: true, nextFireAt: s.nextFireAt });
    const changed = (await schedules('PATCH', '/shift-report', { cron: '30 7 * * 1-5', timezone: 'UTC', overlap: 'buffer_one', input: { who: 'weekday' } })).json();
    expect(changed).toMatchObject({ cron: '30 7 * * 1-5', timezone: 'UTC', overlap: 'buffer_one', input: { who: 'weekday' }, paused: true });
    expect(new Date(changed.nextFireAt).getUTCHours()).toBe(7);

    expect((await schedules('DELETE', '/shift-report')).statusCode).toBe(204);
    expect((await schedules('GET', '/shift-report')).statusCode).toBe(404);
    expect((await schedules('DELETE', '/shift-report')).statusCode).toBe(404);
    expect((await schedules('PATCH', '/shift-report', { paused: false })).statusCode).toBe(404);
    expect((await schedules('DELETE', '/b-nightly')).statusCode).toBe(204);
  });

  it('refuse a cron or time zone that does not parse, an unknown workflow and malformed bodies', async () => {
    const bad = await schedules('POST', '', { id: 'bad-cron', ...base, cron: 'every tuesday' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'AIOS_VALIDATION', errors: [{ path: '/cron' }] });
    expect((await schedules('POST', '', { id: 'never', ...base, cron: '0 0 30 2 *' })).json().code).toBe('AIOS_VALIDATION'); // no next tick
    expect((await schedules('POST', '', { id: 'bad-tz', ...base, timezone: 'Mars/Olympus' })).json()).toMatchObject({ code: 'AIOS_VALIDATION', errors: [{ path: '/timezone' }] });
    const unknown = await schedules('POST', '', { id: 'orphan', ...base, workflow: 'no-such-workflow' });
    expect(unknown.statusCode).toBe(404);
    // An input the workflow's schema refuses would fail at every tick: refused when the schedule is made or changed.
    const typed = await schedules('POST', '', { id: 'typed', ...base, workflow: 'typed', input: { who: 42 } });
    expect(typed.json()).toMatchObject({ status: 400, code: 'AIOS_VALIDATION' });
    expect((await schedules('POST', '', { id: 'typed', ...base, workflow: 'typed', input: { who: 'ana' } })).statusCode).toBe(201);
    expect((await schedules('PATCH', '/typed', { input: { nobody: true } })).json()).toMatchObject({ status: 400, code: 'AIOS_VALIDATION' });
    expect((await schedules('GET', '/typed')).json().input).toEqual({ who: 'ana' });
    await schedules('DELETE', '/typed');
    for (const body of [{ ...base }, { id: 'has:colon', ...base }, { id: 'x', ...base, overlap: 'sometimes' }, { id: 'x', ...base, catchUpLimit: 0 }, { id: 'x', ...base, extra: true }]) {
      expect((await schedules('POST', '', body)).statusCode, JSON.stringify(body)).toBe(400);
    }
    await schedules('POST', '', { id: 'patch-me', ...base });
    expect((await schedules('PATCH', '/patch-me', { cron: 'nope' })).statusCode).toBe(400);
    expect((await schedules('PATCH', '/patch-me', { workflow: 'idle' })).statusCode).toBe(400);
    expect((await schedules('GET', '/patch-me')).json().cron).toBe(base.cron);
    const listed = (await schedules('GET')).json().schedules.map((x: { id: string }) => x.id);
    expect(listed).not.toContain('bad-cron');
    expect(listed).not.toContain('orphan');
    await schedules('DELETE', '/patch-me');
  });

  it('start runs of their workflow, named after the tick', async () => {
    const created = await schedules('POST', '', { id: 'every-second', workflow: 'greet', input: { who: 'cron' }, cron: '* * * * * *' });
    expect(created.statusCode).toBe(201);
    const end = Date.now() + LIVENESS_MS;
    let runs: { id: string; createdBy: string; status: string }[] = [];
    while (Date.now() < end) {
      runs = (await api({ method: 'GET', url: '/api/v1/workflows?name=greet&limit=1000' })).json().runs.filter((r: { id: string }) => r.id.startsWith('sched:every-second:'));
      if (runs.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await schedules('DELETE', '/every-second');
    expect(runs.length).toBeGreaterThan(0);
    expect(runs[0].createdBy).toBe('schedule:every-second');
    expect((await until(runs[0].id, status('completed'))).output).toEqual({ greeting: 'hi cron' });
  });
});

describe('governance', () => {
  let viewer: string;
  let engineer: string;
  let other: string;
  beforeAll(async () => {
    const key = async (roles: string[], ns = 'default') => (await api({ method: 'POST', url: '/api/v1/keys', payload: { name: `${roles[0]}-${ns}`, roles }, headers: { 'x-aios-namespace': ns } })).json().key as string;
    viewer = await key(['viewer']);
    engineer = await key(['engineer']);
    other = await key(['admin'], 'plant-b');
  });

  it('audits start, signal and cancel with the principal, one record each', async () => {
    const started = await start({ name: 'idle', id: 'audited-1' });
    const lineageId = started.headers['x-aios-lineage-id'];
    expect(started.json().lineageId).toBe(lineageId);
    await api({ method: 'POST', url: '/api/v1/workflows/audited-1/signals/note', payload: { n: 1 } });
    await api({ method: 'POST', url: '/api/v1/workflows/audited-1/cancel', payload: { reason: 'audit test' } });
    const records = (await api({ method: 'GET', url: '/api/v1/audit?limit=10000' })).json().records as { action: string; resource: string; outcome: string; actor: { id: string; type: string }; lineageId: string; inputHash: string | null }[];
    const startRecords = records.filter((r) => r.action === 'workflows:start' && r.lineageId === lineageId);
    expect(startRecords).toHaveLength(1);
    expect(startRecords[0]).toMatchObject({ outcome: 'success', actor: { id: requester.split(':')[1] } });
    expect(startRecords[0].inputHash).toMatch(/^[0-9a-f]{64}$/);
    for (const action of ['workflows:signal', 'workflows:cancel']) {
      const mine = records.filter((r) => r.action === action && r.resource === 'Workflow:audited-1');
      expect(mine, action).toHaveLength(1);
      expect(mine[0], action).toMatchObject({ outcome: 'success', actor: { id: requester.split(':')[1] } });
    }
    // Refused writes are audited as failures.
    await api({ method: 'POST', url: '/api/v1/workflows/audited-1/signals/aios.cancel' });
    expect((await api({ method: 'GET', url: '/api/v1/audit?action=workflows:signal&resource=Workflow:audited-1&limit=100' })).json().records.map((r: { outcome: string }) => r.outcome)).toEqual(['success', 'failure']);
  });

  it('a viewer reads runs and schedules but may not start, signal, cancel or schedule (403)', async () => {
    const id = (await start({ name: 'idle' })).json().id;
    const v = (method: InjectOptions['method'], url: string, payload?: unknown) => t.aios.http.inject({ method, url, payload: payload as object, headers: as(viewer) });
    expect((await v('GET', `/api/v1/workflows/${id}`)).statusCode).toBe(200);
    expect((await v('GET', `/api/v1/workflows/${id}/history`)).statusCode).toBe(200);
    expect((await v('GET', '/api/v1/workflows')).statusCode).toBe(200);
    expect((await v('GET', '/api/v1/workflows/definitions')).statusCode).toBe(200);
    expect((await v('GET', '/api/v1/schedules')).statusCode).toBe(200);
    const denied = await v('POST', '/api/v1/workflows', { name: 'idle' });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({ code: 'AIOS_AUTH_FORBIDDEN', action: 'workflows:start' });
    expect((await v('POST', `/api/v1/workflows/${id}/signals/go`)).statusCode).toBe(403);
    expect((await v('POST', `/api/v1/workflows/${id}/cancel`)).statusCode).toBe(403);
    expect((await v('POST', '/api/v1/schedules', { id: 'viewer-s', ...{ workflow: 'idle', cron: '@daily' } })).statusCode).toBe(403);
    expect((await get(id)).json().cancelRequested).toBe(false);
  });

  it('an engineer starts and signals runs, but cancel, terminate, retry and schedules are for operators', async () => {
    const e = (method: InjectOptions['method'], url: string, payload?: unknown) => t.aios.http.inject({ method, url, payload: payload as object, headers: as(engineer) });
    const started = await e('POST', '/api/v1/workflows', { name: 'idle' });
    expect(started.statusCode).toBe(201);
    expect(started.json().createdBy).toMatch(/^service:/);
    const id = started.json().id;
    expect((await e('POST', `/api/v1/workflows/${id}/signals/note`, { x: 1 })).statusCode).toBe(202);
    for (const verb of ['cancel', 'terminate', 'retry']) expect((await e('POST', `/api/v1/workflows/${id}/${verb}`)).statusCode, verb).toBe(403);
    expect((await e('POST', '/api/v1/schedules', { id: 'eng-s', workflow: 'idle', cron: '@daily' })).statusCode).toBe(403);
  });

  it('another namespace sees none of it: 404, as for a run that does not exist', async () => {
    const id = (await start({ name: 'idle', id: 'default-only' })).json().id;
    await createDefaultSchedule();
    const o = (method: InjectOptions['method'], url: string, payload?: unknown) => t.aios.http.inject({ method, url, payload: payload as object, headers: as(other) });
    for (const [method, url] of [
      ['GET', `/api/v1/workflows/${id}`],
      ['GET', `/api/v1/workflows/${id}/history`],
      ['POST', `/api/v1/workflows/${id}/signals/never`],
      ['POST', `/api/v1/workflows/${id}/cancel`],
      ['POST', `/api/v1/workflows/${id}/terminate`],
      ['POST', `/api/v1/workflows/${id}/retry`],
      ['GET', '/api/v1/schedules/default-schedule'],
      ['PATCH', '/api/v1/schedules/default-schedule'],
      ['DELETE', '/api/v1/schedules/default-schedule'],
    ] as const) {
      const r = await o(method, url, method === 'PATCH' ? { paused: true } : undefined);
      expect(r.statusCode, `${method} ${url}`).toBe(404);
      expect(r.body, `${method} ${url}`).not.toContain('"namespace":"default"');
    }
    expect((await o('GET', '/api/v1/workflows?limit=1000')).json().runs).toEqual([]);
    expect((await o('GET', '/api/v1/schedules')).json().schedules).toEqual([]);
    // Its own start of the same id is another run, in its namespace.
    const own = await o('POST', '/api/v1/workflows', { name: 'idle', id });
    expect(own.statusCode).toBe(201);
    expect(own.json().namespace).toBe('plant-b');
    expect((await get(id)).json()).toMatchObject({ namespace: 'default', status: expect.stringMatching(/pending|running|waiting/), cancelRequested: false });
    expect((await api({ method: 'GET', url: '/api/v1/schedules/default-schedule' })).json().paused).toBe(false);
  });

  async function createDefaultSchedule() {
    const r = await api({ method: 'POST', url: '/api/v1/schedules', payload: { id: 'default-schedule', workflow: 'idle', cron: '@yearly' } });
    expect(r.statusCode).toBe(201);
  }
});
