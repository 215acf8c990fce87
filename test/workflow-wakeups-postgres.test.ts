import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, systemClock } from '../src/core/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, WorkflowEngine, defineWorkflow } from '../src/workflows/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { LIVENESS_MS, until } from './support/until.ts';

/**
 * LISTEN/NOTIFY wake-ups on PostgreSQL: a worker whose poll is an hour away still claims a run
 * started, and resumes a run signalled, by another process at once. Without the notification
 * neither would happen before the test's own timeout.
 */

const pg = await pgAvailable();
const HOUR = 3_600_000;
const logger = createLogger({ level: 'silent' });


describe.skipIf(!pg)('workflow wake-ups across processes (PostgreSQL LISTEN/NOTIFY)', () => {
  let schema: { url: string; drop(): Promise<void> };
  let dbA: Database;
  let dbB: Database;
  let worker: WorkflowEngine;
  const approve = defineWorkflow('approve', { version: '1' }, async (ctx) => {
    await ctx.step('ask', () => 'asked');
    const r = await ctx.waitForSignal<string>('decision');
    return r.timedOut ? 'none' : r.payload;
  });

  const held = defineWorkflow('held', { version: '1' }, async (ctx) => {
    try {
      await ctx.waitForSignal('never', { timeoutMs: 50 * 60_000 });
      return 'waited';
    } catch (e) {
      await ctx.step('compensate', () => 'undone');
      throw e;
    }
  });

  beforeAll(async () => {
    schema = await freshPgSchema();
    dbA = createDatabase({ url: schema.url });
    dbB = createDatabase({ url: schema.url });
    await migrate(dbA);
    // The worker polls once an hour and keeps its lease for hours: only a notification can wake it.
    // holdMs of an hour: a wait with a 50-minute timeout stays in this worker's memory.
    worker = new WorkflowEngine({ store: new SqlRunStore({ database: dbA }), clock: systemClock, logger, workerId: 'sleepy', pollMs: HOUR, leaseMs: 3 * HOUR, holdMs: HOUR });
    worker.register(approve, held);
    // Ready when its first claim pass is done and its LISTEN is up: a run made before the start is
    // taken by that pass; after it, only a notification can make the worker take a run.
    const starter = new WorkflowEngine({ store: new SqlRunStore({ database: dbB }), clock: systemClock, logger, workerId: 'probe' }).register(approve);
    const taken = (id: string, ms: number) => until(async () => (await starter.getRun('probe', id))?.status !== 'pending', `the worker to take ${id}`, ms).then(() => true, () => false);
    await starter.startRun('probe', 'approve', {}, { id: 'probe-0' });
    worker.start();
    expect(await taken('probe-0', LIVENESS_MS)).toBe(true);
    let probe = 0;
    await until(async () => {
      const id = `probe-${++probe}`;
      await starter.startRun('probe', 'approve', {}, { id });
      return taken(id, 500 * 2 ** Math.min(probe, 6));
    }, 'the worker to hear notifications', LIVENESS_MS);
  });
  afterAll(async () => {
    await worker?.stop();
    await dbA?.close();
    await dbB?.close();
    await schema?.drop();
  });

  it('claims a run another process started, and resumes it when another process signals it', async () => {
    const other = new WorkflowEngine({ store: new SqlRunStore({ database: dbB }), clock: systemClock, logger, workerId: 'api-only' }).register(approve);
    const run = await other.startRun('plant-a', 'approve', {}, { id: 'wake-1' }); // `other` never starts its loop
    await until(async () => (await other.getRun('plant-a', run.id))?.status === 'waiting', 'the sleepy worker to claim the run');
    expect((await other.history('plant-a', run.id)).map((e) => e.kind)).toEqual(['step', 'wait']);
    await other.signal('plant-a', run.id, 'decision', 'approved by ana', { by: 'user:ana' });
    await until(async () => (await other.getRun('plant-a', run.id))?.status === 'completed', 'the sleepy worker to resume the run');
    expect((await other.getRun('plant-a', run.id))?.output).toBe('approved by ana');
  });

  it('cancels at once a run another process holds in memory', async () => {
    const other = new WorkflowEngine({ store: new SqlRunStore({ database: dbB }), clock: systemClock, logger, workerId: 'api-only-2' }).register(held);
    const run = await other.startRun('plant-a', 'held', {}, { id: 'held-1' });
    await until(async () => (await other.history('plant-a', run.id)).some((e) => e.kind === 'wait'), 'the run to wait in the worker\'s memory');
    expect((await other.getRun('plant-a', run.id))?.owner).toBe('sleepy');
    await other.cancel('plant-a', run.id, { reason: 'asset retired', by: 'user:ana' });
    await until(async () => (await other.getRun('plant-a', run.id))?.status === 'cancelled', 'the holding worker to observe the cancel');
    expect((await other.history('plant-a', run.id)).map((e) => `${e.kind}:${e.name}`)).toEqual(['wait:never', 'cancel:cancel', 'step:compensate']);
  });
});
