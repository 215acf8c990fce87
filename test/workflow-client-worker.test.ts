import { describe, expect, it } from 'vitest';
import { ManualClock, createLogger } from '../src/core/index.ts';
import { createDatabase } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, defineWorkflow } from '../src/workflows/index.ts';
import { DefinitionRegistry, WorkflowClient, WorkflowWorker } from '../src/workflows/engine/index.ts';

const NS = 'plant-a';
const logger = createLogger({ level: 'silent' });

const approve = defineWorkflow('approve', { version: '1' }, async (ctx, input: { n: number }) => {
  const s = await ctx.waitForSignal<{ ok: boolean }>('approved');
  return ctx.step('done', () => ({ n: input.n, ok: !s.timedOut && s.payload.ok }));
});

function registry(): DefinitionRegistry {
  const defs = new DefinitionRegistry();
  defs.add(approve);
  return defs;
}

/*
 * The client and the worker apart, as two processes on one database would have them: the client
 * executes nothing, and its changes reach the worker's runs through the store alone.
 */
describe('workflow client and worker, each alone', () => {
  it('a client without a worker starts, signals and cancels runs that a worker elsewhere executes', async () => {
    const database = createDatabase({ sqliteFile: ':memory:' });
    await migrate(database);
    const clock = new ManualClock();
    const store = new SqlRunStore({ database, clock });
    const client = new WorkflowClient({ store, logger, definitions: registry() });

    const first = await client.startRun(NS, 'approve', { n: 1 });
    expect((await client.getRun(NS, first.id))?.status).toBe('pending');

    // The worker's own client starts children and sends their ends; this one never sees it.
    const workerDefs = registry();
    const worker = new WorkflowWorker({ store, clock, logger, definitions: workerDefs, client: new WorkflowClient({ store, logger, definitions: workerDefs }), workerId: 'worker-apart' });
    await worker.drain();
    expect((await client.getRun(NS, first.id))?.status).toBe('waiting');
    expect(worker.inMemory).toBe(0);

    await client.signal(NS, first.id, 'approved', { ok: true }, { by: 'ana' });
    await worker.drain();
    const done = await client.getRun(NS, first.id);
    expect(done?.status).toBe('completed');
    expect(done?.output).toEqual({ n: 1, ok: true });

    const second = await client.startRun(NS, 'approve', { n: 2 });
    await worker.drain();
    await client.cancel(NS, second.id, { reason: 'asset decommissioned', by: 'ana' });
    await worker.drain();
    expect((await client.getRun(NS, second.id))?.status).toBe('cancelled');
    expect((await client.history(NS, second.id)).map((e) => e.kind)).toEqual(['wait', 'cancel']);
    expect((await client.listRuns(NS, { limit: 10 })).runs.map((r) => [r.id, r.status])).toEqual([
      [first.id, 'completed'],
      [second.id, 'cancelled'],
    ]);

    await worker.stop();
    await database.close();
  });
});
