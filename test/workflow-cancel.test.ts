import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, createLogger, isAiosError, type Clock } from '../src/core/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import {
  CancelledError,
  SqlRunStore,
  TerminalError,
  WorkflowEngine,
  createTestWorkflowEnv,
  defineWorkflow,
  type TestWorkflowEnv,
  type WorkflowDefinition,
} from '../src/workflows/index.ts';
import { useWorkflowFiles } from './support/workflow-files.ts';
import { until } from './support/until.ts';

const NS = 'plant-a';
const logger = createLogger({ level: 'silent' });


const kinds = (h: { kind: string; name: string }[]) => h.map((e) => `${e.kind}:${e.name}`);

let env: TestWorkflowEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('cancellation on the test kit (virtual clock, SQLite)', () => {
  it('cancels a held sleep: CancelledError at the await, compensation journaled, run cancelled', async () => {
    const effects: string[] = [];
    let caught: CancelledError | undefined;
    let secondWait: unknown;
    const wf = defineWorkflow('held', { version: '1' }, async (ctx) => {
      await ctx.step('reserve', () => effects.push('reserve'));
      try {
        await ctx.sleep(10_000);
        await ctx.step('never', () => effects.push('never'));
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        caught = e;
        await ctx.step('release', () => effects.push('release'));
        secondWait = await ctx.sleep(1).then(
          () => 'slept',
          (err: unknown) => err,
        );
        throw e;
      }
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'held', {});
    await env.runUntilIdle();
    expect(env.engine.inMemory).toBe(1);
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('running');

    const asked = await env.engine.cancel(NS, run.id, { reason: 'asset retired', by: 'user:ana' });
    expect(asked.cancelRequested).toBe(true);
    await env.runUntilIdle();

    const done = await env.engine.getRun(NS, run.id);
    expect(done?.status).toBe('cancelled');
    expect(done?.error).toMatchObject({ name: 'CancelledError', code: 'AIOS_WF_CANCELLED' });
    expect(caught).toBeInstanceOf(CancelledError);
    expect(caught).toMatchObject({ code: 'AIOS_WF_CANCELLED', status: 409, retryable: false, reason: 'asset retired', by: 'user:ana' });
    expect(isAiosError(secondWait, 'AIOS_WF_CANCELLED')).toBe(true);
    expect(effects).toEqual(['reserve', 'release']);
    const history = await env.engine.history(NS, run.id);
    expect(kinds(history)).toEqual(['step:reserve', 'sleep:sleep', 'cancel:cancel', 'step:release']);
    expect(history[2]?.result).toEqual({ reason: 'asset retired', by: 'user:ana' });
    expect(env.engine.inMemory).toBe(0);
  });

  it('ends cancelled with the output when the code handles the cancel and returns', async () => {
    const wf = defineWorkflow('handles', { version: '1' }, async (ctx) => {
      try {
        await ctx.waitForSignal('go', { timeoutMs: 5_000 });
        return 'went';
      } catch (e) {
        if (e instanceof CancelledError) return { undone: true };
        throw e;
      }
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'handles', {});
    await env.runUntilIdle();
    await env.engine.cancel(NS, run.id);
    await env.runUntilIdle();
    expect(await env.engine.getRun(NS, run.id)).toMatchObject({ status: 'cancelled', output: { undone: true } });
    expect(kinds(await env.engine.history(NS, run.id))).toEqual(['wait:go', 'cancel:cancel']);
  });

  it('cancels a released signal wait: the store wakes it, the replay gets CancelledError, compensations run once', async () => {
    const effects: string[] = [];
    const wf = defineWorkflow('released', { version: '1' }, async (ctx) => {
      const saga = ctx.saga();
      await saga.step('book', () => (effects.push('book'), 'B-1'), { compensate: ['unbook', (id) => effects.push(`unbook:${id}`)] });
      try {
        await ctx.waitForSignal('approved');
        return 'approved';
      } catch (e) {
        await saga.compensate();
        throw e;
      }
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'released', {});
    await env.runUntilIdle();
    const waiting = await env.engine.getRun(NS, run.id);
    expect(waiting).toMatchObject({ status: 'waiting' });
    expect(waiting?.owner).toBeUndefined();
    expect(env.engine.inMemory).toBe(0);

    await env.engine.cancel(NS, run.id, { reason: 'no longer needed' });
    expect((await env.engine.getRun(NS, run.id))?.wakeAt).toBe(env.clock.now());
    await env.runUntilIdle();
    await env.runUntilIdle();

    expect(await env.engine.getRun(NS, run.id)).toMatchObject({ status: 'cancelled', error: { code: 'AIOS_WF_CANCELLED' } });
    expect(effects).toEqual(['book', 'unbook:B-1']);
    const history = await env.engine.history(NS, run.id);
    expect(kinds(history)).toEqual(['step:book', 'wait:approved', 'cancel:cancel', 'step:unbook']);
    // The reason came through the store, from a process that did not hold the run.
    expect(history[2]?.result).toEqual({ reason: 'no longer needed' });
    // A later signal is refused: the run is finished.
    await expect(env.engine.signal(NS, run.id, 'approved')).rejects.toMatchObject({ code: 'AIOS_CONFLICT' });
  });

  it('a wait timeout returns { timedOut: true } and never cancels', async () => {
    const wf = defineWorkflow('timeout', { version: '1' }, async (ctx) => {
      const r = await ctx.waitForSignal('approved', { timeoutMs: 60_000 });
      return ctx.step('after', () => (r.timedOut ? 'escalated' : 'approved'));
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'timeout', {});
    await env.runUntilIdle();
    await env.advance(60_001);
    const done = await env.engine.getRun(NS, run.id);
    expect(done).toMatchObject({ status: 'completed', output: 'escalated', cancelRequested: false });
    const history = await env.engine.history(NS, run.id);
    expect(kinds(history)).toEqual(['wait:approved', 'signal:approved', 'step:after']);
    expect(history[1]?.result).toEqual({ timedOut: true });
  });

  it('terminates a held run at once: status terminated, nothing runs after, even when time passes', async () => {
    const effects: string[] = [];
    const wf = defineWorkflow('term', { version: '1' }, async (ctx) => {
      await ctx.step('a', () => effects.push('a'));
      try {
        await ctx.sleep(10_000);
      } finally {
        await ctx.step('cleanup', () => effects.push('cleanup'));
      }
      await ctx.step('b', () => effects.push('b'));
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'term', {});
    await env.runUntilIdle();
    expect(env.engine.inMemory).toBe(1);
    const before = await env.engine.getRun(NS, run.id);
    const t = await env.engine.terminate(NS, run.id, { reason: 'stuck', by: 'user:ops' });
    expect(t).toMatchObject({ status: 'terminated', epoch: before!.epoch + 1, error: { name: 'TerminatedError' } });
    expect(t.owner).toBeUndefined();
    expect(env.engine.inMemory).toBe(0);
    await env.advance(60_000);
    expect(effects).toEqual(['a']);
    expect(kinds(await env.engine.history(NS, run.id))).toEqual(['step:a', 'sleep:sleep']);
    // Terminating or cancelling a finished run changes nothing.
    expect((await env.engine.terminate(NS, run.id)).status).toBe('terminated');
    expect((await env.engine.cancel(NS, run.id)).status).toBe('terminated');
  });
});

describe('cancellation, sagas and terminate across engines (SQLite file, ManualClock)', () => {
  const files = useWorkflowFiles('aios-wf-cancel-');
  const tempDb = () => files.database();
  const engineOn = (database: Database, clock: Clock, workerId: string, defs: WorkflowDefinition[]) => {
    const e = new WorkflowEngine({ store: new SqlRunStore({ database, clock }), clock, logger, workerId, pollMs: 10, leaseMs: 10_000 }).register(...defs);
    return files.track(e);
  };

  it('saga: step 3 fails terminally, compensations 2 then 1 run once each across a crash in the middle of compensating', async () => {
    const database = await tempDb();
    const clock = new ManualClock();
    const effects: string[] = [];
    const keys: string[] = [];
    let unblockA!: () => void;
    const blockA = new Promise<void>((r) => (unblockA = r));
    const def = (who: string) =>
      defineWorkflow('saga3', { version: '1' }, async (ctx) => {
        const saga = ctx.saga();
        await saga.step('reserve-1', () => (effects.push('do-1'), 'R1'), { compensate: ['undo-1', async (r, { idempotencyKey }) => {
          keys.push(idempotencyKey);
          // Engine A "crashes" here, before the side effect; only B's attempt does it.
          if (who === 'a') {
            await blockA;
            return 'a-late';
          }
          effects.push(`undo-1:${r}`);
          return 'undone-1';
        }] });
        await ctx.step('reserve-2', () => effects.push('do-2'));
        saga.add('undo-2', () => effects.push('undo-2'));
        try {
          await saga.step('reserve-3', () => {
            effects.push('do-3');
            throw new TerminalError('no capacity');
          });
        } catch (e) {
          expect(saga.pending).toEqual(['undo-2', 'undo-1']);
          await saga.compensate();
          throw e;
        }
      });
    const a = engineOn(database, clock, 'engine-a', [def('a')]);
    a.start();
    const run = await a.startRun(NS, 'saga3', {});
    await until(() => keys.length === 1);
    await a.stop({ removeWorker: false });
    expect(effects).toEqual(['do-1', 'do-2', 'do-3', 'undo-2']);
    clock.advance(10_001);

    const b = engineOn(database, clock, 'engine-b', [def('b')]);
    await b.drain();
    const done = await b.getRun(NS, run.id);
    expect(done).toMatchObject({ status: 'failed', error: { message: 'no capacity' }, epoch: 2 });
    expect(effects).toEqual(['do-1', 'do-2', 'do-3', 'undo-2', 'undo-1:R1']);
    expect(keys).toEqual([`${NS}/${run.id}/4`, `${NS}/${run.id}/4`]);

    // A's late attempt is fenced out: nothing is recorded twice, nothing more runs.
    unblockA();
    await until(() => a.inMemory === 0);
    const history = await b.history(NS, run.id);
    expect(history.map((e) => [e.name, e.status, e.result])).toEqual([
      ['reserve-1', 'ok', 'R1'],
      ['reserve-2', 'ok', 2],
      ['reserve-3', 'error', undefined],
      ['undo-2', 'ok', 4],
      ['undo-1', 'ok', 'undone-1'],
    ]);
    expect(effects).toEqual(['do-1', 'do-2', 'do-3', 'undo-2', 'undo-1:R1']);
  });

  it('replays a journaled cancel after a crash: CancelledError at the same point, compensation once, one marker', async () => {
    const database = await tempDb();
    const clock = new ManualClock();
    const effects: string[] = [];
    let unblockA!: () => void;
    const blockA = new Promise<void>((r) => (unblockA = r));
    const def = (who: string) =>
      defineWorkflow('crash-cancel', { version: '1' }, async (ctx) => {
        await ctx.step('open-valve', () => effects.push(`open:${who}`));
        try {
          // The replay must throw from this await, not from the next step (which is outside the try).
          await ctx.sleep(5_000);
        } catch (e) {
          if (!(e instanceof CancelledError)) throw e;
          effects.push(`caught:${who}:${e.reason}`);
          await ctx.step('close-valve', async () => {
            if (who === 'a') {
              await blockA;
              return 'a-late';
            }
            effects.push(`close:${who}`);
            return 'closed';
          });
          throw e;
        }
        await ctx.step('work', () => effects.push(`work:${who}`));
      });
    const a = engineOn(database, clock, 'engine-a', [def('a')]);
    a.start();
    const run = await a.startRun(NS, 'crash-cancel', {});
    await until(async () => (await a.history(NS, run.id)).length === 2);
    await a.cancel(NS, run.id, { reason: 'leak' });
    await until(() => effects.includes('caught:a:leak'));
    await a.stop({ removeWorker: false });
    clock.advance(10_001);

    const b = engineOn(database, clock, 'engine-b', [def('b')]);
    await b.drain();
    expect(await b.getRun(NS, run.id)).toMatchObject({ status: 'cancelled', error: { code: 'AIOS_WF_CANCELLED' } });
    unblockA();
    await until(() => a.inMemory === 0);
    expect(effects).toEqual(['open:a', 'caught:a:leak', 'caught:b:leak', 'close:b']);
    expect(kinds(await b.history(NS, run.id))).toEqual(['step:open-valve', 'sleep:sleep', 'cancel:cancel', 'step:close-valve']);
  });

  it("terminate fences out another engine holding the run: its later write is rejected and nothing runs after", async () => {
    const database = await tempDb();
    const clock = new ManualClock();
    const effects: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const wf = defineWorkflow('term-remote', { version: '1' }, async (ctx) => {
      await ctx.step('slow', async () => {
        effects.push('slow:start');
        await gate;
        return 'slow-done';
      });
      await ctx.step('next', () => effects.push('next'));
    });
    const a = engineOn(database, clock, 'engine-a', [wf]);
    const b = engineOn(database, clock, 'engine-b', [wf]);
    a.start();
    const run = await a.startRun(NS, 'term-remote', {});
    await until(() => effects.includes('slow:start'));
    const t = await b.terminate(NS, run.id, { reason: 'operator' });
    expect(t).toMatchObject({ status: 'terminated', epoch: 2 });
    release();
    await until(() => a.inMemory === 0);
    await b.drain();
    expect(effects).toEqual(['slow:start']);
    expect(await b.history(NS, run.id)).toEqual([]);
    expect(await b.getRun(NS, run.id)).toMatchObject({ status: 'terminated', epoch: 2, error: { message: expect.stringContaining('operator') } });
  });
});

const pgUp = await pgAvailable();
describe.skipIf(!pgUp)('cancellation on PostgreSQL', () => {
  it('cancels a released signal wait and runs its compensation once', async () => {
    const schema = await freshPgSchema();
    const database = createDatabase({ url: schema.url });
    try {
      const effects: string[] = [];
      const wf = defineWorkflow('pg-cancel', { version: '1' }, async (ctx) => {
        const saga = ctx.saga();
        await saga.step('book', () => 'B', { compensate: ['unbook', () => effects.push('unbook')] });
        try {
          await ctx.waitForSignal('go');
        } catch (e) {
          await saga.compensate();
          throw e;
        }
      });
      env = await createTestWorkflowEnv({ database, workflows: [wf] });
      const run = await env.engine.startRun(NS, 'pg-cancel', {});
      await env.runUntilIdle();
      expect((await env.engine.getRun(NS, run.id))?.status).toBe('waiting');
      await env.engine.cancel(NS, run.id, { by: 'user:pg' });
      await env.runUntilIdle();
      await env.runUntilIdle();
      expect(await env.engine.getRun(NS, run.id)).toMatchObject({ status: 'cancelled' });
      expect(effects).toEqual(['unbook']);
      expect(kinds(await env.engine.history(NS, run.id))).toEqual(['step:book', 'wait:go', 'cancel:cancel', 'step:unbook']);
    } finally {
      await env?.close();
      env = undefined;
      await database.close();
      await schema.drop();
    }
  });
});
