import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/index.ts';
import { EventLog, SqlEventStore } from '../src/events/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, TerminalError, defineWorkflow, type WorkflowRun, type WorkflowTables } from '../src/workflows/index.ts';
import { createLogger } from '../src/core/index.ts';
import { NATS_URL, natsAvailable, randomName } from './support/services.ts';
import { conformance, SQL_BACKENDS, sqlDatabase, type BackendEnv } from './support/conformance.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { until } from './support/until.ts';

/**
 * The transactional outbox (`ctx.emit`, a step's `emit`) and event waits (`ctx.waitForEvent`)
 * through createAios, on SQLite and PostgreSQL; and the outbox's atomicity at the store level.
 */

const NS = 'default';
let failFirstAttempt = true;

const outbox = defineWorkflow('outbox', { version: '1' }, async (ctx, input: { asset: string }) => {
  const wo = await ctx.step(
    'open-work-order',
    ({ attempt, emit }) => {
      emit('work-orders', { key: input.asset, data: { asset: input.asset, attempt } });
      if (failFirstAttempt && attempt === 1) throw new Error('CMMS timed out');
      return `WO-${input.asset}`;
    },
    { retry: { maxAttempts: 3, initialIntervalMs: 10 } },
  );
  const sent = await ctx.emit('work-orders', [{ data: { asset: input.asset, wo, note: 'parts ordered' } }, { data: { asset: input.asset, wo, note: 'crew booked' } }]);
  return { wo, sent };
});

const badEmit = defineWorkflow('bad-emit', { version: '1' }, async (ctx) => {
  await ctx.step('emit-wrong', ({ emit }) => emit('work-orders', { data: { asset: 42 } }), { retry: { maxAttempts: 1 } });
});

const awaitInspection = defineWorkflow('await-inspection', { version: '1' }, async (ctx, input: { asset: string; timeoutMs?: number }) => {
  await ctx.step('ask', () => 'asked');
  const r = await ctx.waitForEvent('inspections', { match: `event.data.asset == '${input.asset}' && event.data.vibration < 0.5`, ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}) });
  if (r.timedOut) return { outcome: 'escalated' };
  return { outcome: 'cleared', by: r.event.data, offset: r.event.offset, lineage: Object.keys(r.event.headers) };
});

const badMatch = defineWorkflow('bad-match', { version: '1' }, async (ctx) => {
  try {
    await ctx.waitForEvent('inspections', { match: 'event.data.asset ==' });
    return 'waited';
  } catch (e) {
    return (e as { code?: string }).code;
  }
});

/** AIOS on the backend (PostgreSQL: a fresh schema; SQLite: the file in its own data directory), stopped at teardown. */
async function aiosOn(env: BackendEnv): Promise<TestAios> {
  const fresh = await env.freshDatabase();
  const t = await startTestAios(fresh.url ? { databaseUrl: fresh.url } : {});
  env.onTeardown(() => t.cleanup());
  return t;
}

await conformance('outbox and event waits through createAios', { backends: SQL_BACKENDS, factory: aiosOn }, (h) => {
  const { it } = h;
  let t: TestAios;
  const ended = (id: string) => until(async () => {
    const r = await t.aios.workflows.getRun(NS, id);
    return r && ['completed', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
  }, `run ${id} to end`);
  const read = async (topic: string) => (await t.aios.events.read(NS, topic, { limit: 1000 })).events;

  beforeAll(async () => {
    t = h.fixture;
    t.aios.register(outbox, badEmit, awaitInspection, badMatch);
    await t.aios.events.createTopic(NS, { name: 'work-orders', schema: { type: 'object', required: ['asset'], properties: { asset: { type: 'string' } } } });
    await t.aios.events.createTopic(NS, { name: 'inspections', partitions: 2, keyField: 'asset' });
  });

  it('appends what a step emits with its result only (a failed attempt emits nothing), and ctx.emit once, with the run\'s lineage', async () => {
    failFirstAttempt = true;
    const run = await t.aios.workflows.startRun(NS, 'outbox', { asset: 'T-7' }, { id: 'ob-1' });
    const done = await ended('ob-1');
    expect(done.status).toBe('completed');
    const events = await read('work-orders');
    expect(events.map((e) => e.data)).toEqual([
      { asset: 'T-7', attempt: 2 },
      { asset: 'T-7', wo: 'WO-T-7', note: 'parts ordered' },
      { asset: 'T-7', wo: 'WO-T-7', note: 'crew booked' },
    ]);
    expect(events.map((e) => e.id)).toEqual(['ob-1:0:0', 'ob-1:1:0', 'ob-1:1:1']);
    expect(new Set(events.map((e) => e.headers['x-aios-lineage-id']))).toEqual(new Set([run.lineageId]));
    expect((done.output as { sent: unknown }).sent).toEqual({ topic: 'work-orders', ids: ['ob-1:1:0', 'ob-1:1:1'] });
    const history = await t.aios.workflows.history(NS, 'ob-1');
    expect(history.map((e) => `${e.kind}:${e.name}`)).toEqual(['step:open-work-order', 'emit:work-orders']);
  });

  it('fails a step whose emitted event breaks the topic\'s contract, and appends nothing', async () => {
    const before = (await read('work-orders')).length;
    const done = await (async () => {
      await t.aios.workflows.startRun(NS, 'bad-emit', {}, { id: 'be-1' });
      return ended('be-1');
    })();
    expect(done.status).toBe('failed');
    expect(done.error?.message).toContain('asset');
    expect((await read('work-orders')).length).toBe(before);
  });

  it('resumes a wait on the first matching event appended after the wait began, and times out into its branch', async () => {
    await t.aios.events.publish(NS, 'inspections', [{ data: { asset: 'T-9', vibration: 0.1 } }]); // before the wait: not matched
    await t.aios.workflows.startRun(NS, 'await-inspection', { asset: 'T-9' }, { id: 'ai-1' });
    await t.aios.workflows.startRun(NS, 'await-inspection', { asset: 'T-404', timeoutMs: 300 }, { id: 'ai-2' });
    await until(async () => (await t.aios.workflows.history(NS, 'ai-1')).some((e) => e.kind === 'wait'), 'the wait to be recorded');
    await t.aios.events.publish(NS, 'inspections', [{ data: { asset: 'T-9', vibration: 0.9 } }, { data: { asset: 'T-8', vibration: 0.1 } }]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.aios.workflows.getRun(NS, 'ai-1'))?.status).not.toBe('completed');
    await t.aios.events.publish(NS, 'inspections', [{ data: { asset: 'T-9', vibration: 0.2, inspector: 'ana' } }, { data: { asset: 'T-9', vibration: 0.3 } }]);
    const done = await ended('ai-1');
    expect(done.output).toMatchObject({ outcome: 'cleared', by: { asset: 'T-9', vibration: 0.2, inspector: 'ana' } });
    expect((await ended('ai-2')).output).toEqual({ outcome: 'escalated' });
    const waits = await t.aios.database.db.selectFrom('aios_wf_event_waits').selectAll().execute();
    expect(waits).toEqual([]);
  });

  it('throws AIOS_VALIDATION into the code for a match that is not CEL', async () => {
    await t.aios.workflows.startRun(NS, 'bad-match', {}, { id: 'bm-1' });
    expect((await ended('bm-1')).output).toBe('AIOS_VALIDATION');
  });
});

await conformance('the outbox is atomic with the journal entry (store level)', { backends: SQL_BACKENDS, factory: sqlDatabase }, (h) => {
  h.it('events appended in a journal transaction that rolls back are not in the log', async () => {
    const { database } = h.fixture;
    const clock = new ManualClock();
    const log = new EventLog({ database, store: new SqlEventStore(database, { clock }), clock, logger: createLogger({ level: 'silent' }) });
    await log.createTopic(NS, { name: 'orders' });
    const store = new SqlRunStore({ database, clock });
    await store.createRun({ ns: NS, id: 'r', name: 'x', version: '1', createdBy: 'test' });
    const [run] = (await store.claim('w', { leaseMs: 1000, limit: 1 })) as WorkflowRun[];
    const batch = await log.prepareBatch(NS, 'orders', [{ id: 'e1', data: { n: 1 } }]);
    const appendThen = (fail: boolean) => async (trx: Kysely<WorkflowTables>) => {
      await log.appendInTransaction(trx, [batch]);
      if (fail) throw new TerminalError('the journal transaction fails after the append');
    };
    await expect(store.appendJournal(NS, 'r', run.epoch, [{ seq: 0, kind: 'emit', name: 'orders', status: 'ok', result: { ids: ['e1'] } }], { also: appendThen(true) })).rejects.toThrow('fails after the append');
    expect((await log.read(NS, 'orders')).events).toEqual([]);
    expect(await store.journal(NS, 'r')).toEqual([]);
    await store.appendJournal(NS, 'r', run.epoch, [{ seq: 0, kind: 'emit', name: 'orders', status: 'ok', result: { ids: ['e1'] } }], { also: appendThen(false) });
    expect((await log.read(NS, 'orders')).events.map((e) => e.id)).toEqual(['e1']);
    expect((await store.journal(NS, 'r')).map((e) => e.kind)).toEqual(['emit']);
    await log.close();
  });
});

describe.skipIf(!(await natsAvailable()))('the outbox with the event log on NATS JetStream', () => {
  let t: TestAios;
  const ns = randomName('wfnats');
  beforeAll(async () => {
    t = await startTestAios({ natsUrl: NATS_URL });
    t.aios.register(outbox);
    await t.aios.events.createTopic(ns, { name: 'work-orders', schema: { type: 'object', required: ['asset'], properties: { asset: { type: 'string' } } } });
  });
  afterAll(async () => {
    await t?.aios.events.deleteTopic(ns, 'work-orders').catch(() => undefined);
    await t?.cleanup();
  });

  it('writes emitted events to the outbox in the journal transaction; the relay publishes each once, also when it publishes a row again', async () => {
    failFirstAttempt = true;
    await t.aios.workflows.startRun(ns, 'outbox', { asset: 'T-5' }, { id: 'nats-1' });
    await until(async () => (await t.aios.workflows.getRun(ns, 'nats-1'))?.status === 'completed', 'the run to complete');
    const read = async () => (await t.aios.events.read(ns, 'work-orders', { limit: 100 })).events;
    await until(async () => (await read()).length === 3, 'the relay to publish the three events');
    expect((await read()).map((e) => e.id)).toEqual(['nats-1:0:0', 'nats-1:1:0', 'nats-1:1:1']);
    expect(await t.aios.database.db.selectFrom('aios_wf_outbox').selectAll().execute()).toEqual([]);
    // A relay that dies between publishing and deleting publishes the row again: nothing is appended twice.
    const { OutboxRelay } = await import('../src/workflows/index.ts');
    const relay = new OutboxRelay({ database: t.aios.database, events: t.aios.events, logger: t.aios.logger });
    await t.aios.database.db.transaction().execute((trx) => relay.write(trx, ns, 'nats-1:1:0', 'work-orders', [{ id: 'nats-1:1:0', data: { asset: 'T-5', note: 'again' } }]));
    expect(await relay.relay()).toBe(1);
    expect((await read()).map((e) => e.id)).toEqual(['nats-1:0:0', 'nats-1:1:0', 'nats-1:1:1']);
  });
});
