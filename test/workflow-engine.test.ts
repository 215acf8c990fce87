import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, createLogger, isAiosError, systemClock, type Clock, type ErrorCode } from '../src/core/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import {
  SqlRunStore,
  TerminalError,
  WorkflowEngine,
  createTestWorkflowEnv,
  defineWorkflow,
  type StepInfo,
  type TestWorkflowEnv,
  type WorkflowDefinition,
} from '../src/workflows/index.ts';
import { until } from './support/until.ts';

const NS = 'plant-a';
const DAY = 24 * 3600_000;
const logger = createLogger({ level: 'silent' });

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | unknown> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isAiosError(err) ? err.code : err;
}


let env: TestWorkflowEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('workflow engine on the test kit (virtual clock, SQLite)', () => {
  it('completes a 3-step workflow, journaling each step once', async () => {
    const calls: string[] = [];
    const wf = defineWorkflow('three', { version: '1' }, async (ctx, input: { n: number }) => {
      const a = await ctx.step('a', () => (calls.push('a'), input.n + 1));
      const b = await ctx.step('b', () => (calls.push('b'), a * 2));
      return ctx.step('c', () => (calls.push('c'), { total: b + 1 }));
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'three', { n: 1 });
    await env.runUntilIdle();
    await env.runUntilIdle();
    const done = await env.engine.getRun(NS, run.id);
    expect(done?.status).toBe('completed');
    expect(done?.output).toEqual({ total: 5 });
    expect(calls).toEqual(['a', 'b', 'c']);
    const history = await env.engine.history(NS, run.id);
    expect(history.map((e) => [e.seq, e.kind, e.name, e.result])).toEqual([
      [0, 'step', 'a', 2],
      [1, 'step', 'b', 4],
      [2, 'step', 'c', { total: 5 }],
    ]);
  });

  it('sleeps 30 days of virtual time without waiting for them', async () => {
    const wf = defineWorkflow('renewal', { version: '1' }, async (ctx) => {
      const t0 = ctx.now();
      await ctx.sleep(30 * DAY);
      return { slept: ctx.now() - t0 };
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'renewal', {});
    await env.runUntilIdle();
    const waiting = await env.engine.getRun(NS, run.id);
    expect(waiting?.status).toBe('waiting');
    expect(waiting?.owner).toBeUndefined();
    await env.advance(30 * DAY - 1);
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('waiting');
    await env.advance(1);
    const done = await env.engine.getRun(NS, run.id);
    expect(done?.status).toBe('completed');
    expect((done?.output as { slept: number }).slept).toBe(30 * DAY);
    expect((await env.engine.history(NS, run.id)).map((e) => e.kind)).toEqual(['now', 'sleep', 'now']);
  });

  it('holds a short sleep in memory and wakes it on the virtual clock', async () => {
    const wf = defineWorkflow('short', { version: '1' }, async (ctx) => {
      await ctx.sleep(5_000);
      return 'woke';
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'short', {});
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('running');
    expect(env.engine.inMemory).toBe(1);
    await env.advance(5_000);
    expect((await env.engine.getRun(NS, run.id))?.output).toBe('woke');
  });

  it('gives a wait the signal sent before it, and takes the timeout branch when none comes', async () => {
    const wf = defineWorkflow('approval', { version: '1' }, async (ctx, input: { timeoutMs: number }) => {
      await ctx.step('prepare', () => 'ok');
      const r = await ctx.waitForSignal<{ by: string }>('approved', { timeoutMs: input.timeoutMs });
      return r.timedOut ? 'timed-out' : `approved by ${r.payload.by}`;
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const early = await env.engine.startRun(NS, 'approval', { timeoutMs: 3_600_000 });
    await env.engine.signal(NS, early.id, 'approved', { by: 'ana' });
    const late = await env.engine.startRun(NS, 'approval', { timeoutMs: 3_600_000 });
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, early.id))?.output).toBe('approved by ana');
    expect((await env.engine.getRun(NS, late.id))?.status).toBe('waiting');
    await env.advance(3_600_000);
    expect((await env.engine.getRun(NS, late.id))?.output).toBe('timed-out');
    const h = await env.engine.history(NS, late.id);
    expect(h.at(-1)).toMatchObject({ kind: 'signal', name: 'approved', result: { timedOut: true } });
  });

  it('wakes a wait held in memory at once when the signal is sent through the engine', async () => {
    const wf = defineWorkflow('quick', { version: '1' }, async (ctx) => {
      const r = await ctx.waitForSignal<number>('go', { timeoutMs: 10_000 });
      return r.timedOut ? 'timed-out' : r.payload;
    });
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const run = await env.engine.startRun(NS, 'quick', {});
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('running');
    await env.engine.signal(NS, run.id, 'go', 42);
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, run.id))?.output).toBe(42);
  });

  it('retries a failing step with the same idempotency key, and stops at a TerminalError', async () => {
    const seen: StepInfo[] = [];
    const flaky = defineWorkflow('flaky', { version: '1' }, async (ctx) =>
      ctx.step(
        'call',
        (info) => {
          seen.push(info);
          if (info.attempt < 3) throw new Error(`boom ${info.attempt}`);
          return 'ok';
        },
        { retry: { maxAttempts: 5, initialIntervalMs: 1_000, backoff: 2, maxIntervalMs: 10_000 } },
      ),
    );
    let terminalCalls = 0;
    const terminal = defineWorkflow('terminal', { version: '1' }, async (ctx) =>
      ctx.step('charge', () => {
        terminalCalls++;
        throw new TerminalError('card declined');
      }),
    );
    env = await createTestWorkflowEnv({ workflows: [flaky, terminal] });
    const run = await env.engine.startRun(NS, 'flaky', {});
    await env.runUntilIdle();
    expect(seen.map((s) => s.attempt)).toEqual([1]);
    await env.advance(1_000);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    await env.advance(2_000);
    expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(new Set(seen.map((s) => s.idempotencyKey))).toEqual(new Set([`${NS}/${run.id}/0`]));
    expect((await env.engine.getRun(NS, run.id))?.output).toBe('ok');
    expect(await env.engine.history(NS, run.id)).toHaveLength(1);

    const t = await env.engine.startRun(NS, 'terminal', {});
    await env.runUntilIdle();
    const failed = await env.engine.getRun(NS, t.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({ name: 'TerminalError', message: 'card declined' });
    expect(terminalCalls).toBe(1);
  });

  it('fails a run whose code changed under it, naming both calls; ctx.patched keeps old runs on the old path', async () => {
    const mk = (body: WorkflowDefinition['fn']) => defineWorkflow('order', { version: '1' }, body);
    const v1 = mk(async (ctx) => {
      await ctx.step('charge', () => 'charged');
      await ctx.waitForSignal('go');
      await ctx.step('ship', () => 'shipped');
      return 'v1';
    });
    const reordered = mk(async (ctx) => {
      await ctx.step('ship', () => 'shipped');
      await ctx.waitForSignal('go');
      await ctx.step('charge', () => 'charged');
      return 'v2';
    });
    const patched = mk(async (ctx) => {
      if (ctx.patched('reorder')) {
        await ctx.step('ship', () => 'shipped');
        await ctx.waitForSignal('go');
        await ctx.step('charge', () => 'charged');
        return 'v2';
      }
      await ctx.step('charge', () => 'charged');
      await ctx.waitForSignal('go');
      await ctx.step('ship', () => 'shipped');
      return 'v1';
    });
    env = await createTestWorkflowEnv({ workflows: [v1] });
    const broken = await env.engine.startRun(NS, 'order', {}, { id: 'old-1' });
    const old = await env.engine.startRun(NS, 'order', {}, { id: 'old-2' });
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, broken.id))?.status).toBe('waiting');

    env.engine.register(reordered);
    await env.engine.signal(NS, broken.id, 'go');
    await env.runUntilIdle();
    const failed = await env.engine.getRun(NS, broken.id);
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBe('AIOS_WF_NON_DETERMINISM');
    expect(failed?.error?.name).toBe('NonDeterminismError');
    expect(failed?.error?.message).toContain('at position 0 the journal has step "charge" but the code now calls step "ship"');

    env.engine.register(patched);
    const fresh = await env.engine.startRun(NS, 'order', {}, { id: 'new-1' });
    await env.runUntilIdle();
    await env.engine.signal(NS, old.id, 'go');
    await env.engine.signal(NS, fresh.id, 'go');
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, old.id))?.output).toBe('v1');
    expect((await env.engine.getRun(NS, fresh.id))?.output).toBe('v2');
    expect((await env.engine.history(NS, old.id)).map((e) => `${e.kind}:${e.name}`)).toEqual(['step:charge', 'wait:go', 'signal:go', 'step:ship']);
    expect((await env.engine.history(NS, fresh.id)).map((e) => `${e.kind}:${e.name}`)).toEqual(['patch:reorder', 'step:ship', 'wait:go', 'signal:go', 'step:charge']);
  });

  it('starts idempotently by id, and refuses unknown names and invalid input', async () => {
    const wf = defineWorkflow(
      'inspect',
      { version: '3', input: { type: 'object', required: ['asset'], properties: { asset: { type: 'string' } }, additionalProperties: false } },
      async (ctx, input: { asset: string }) => ctx.step('read', () => input.asset),
    );
    env = await createTestWorkflowEnv({ workflows: [wf] });
    const a = await env.engine.startRun(NS, 'inspect', { asset: 'T-7' }, { id: 'inspect-T-7', createdBy: 'user:ana' });
    const b = await env.engine.startRun(NS, 'inspect', { asset: 'T-7' }, { id: 'inspect-T-7' });
    expect(b.id).toBe(a.id);
    expect(b.createdAt).toBe(a.createdAt);
    expect(a).toMatchObject({ version: '3', createdBy: 'user:ana', status: 'pending' });
    expect(await codeOf(env.engine.startRun(NS, 'nope', {}))).toBe('AIOS_NOT_FOUND');
    expect(await codeOf(env.engine.startRun(NS, 'inspect', { asset: 7 }))).toBe('AIOS_VALIDATION');
    expect(await codeOf(env.engine.startRun(NS, 'inspect', {}))).toBe('AIOS_VALIDATION');
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, a.id))?.output).toBe('T-7');
  });
});

describe('workflow engine across engines and restarts', () => {
  const dirs: string[] = [];
  const open: Database[] = [];
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDb = async (): Promise<string> => {
    const dir = mkdtempSync(join(tmpdir(), 'aios-wf-engine-'));
    dirs.push(dir);
    const file = join(dir, 'aios.db');
    const db = connect(file);
    await migrate(db);
    return file;
  };
  const connect = (file: string): Database => {
    const db = createDatabase({ sqliteFile: file });
    open.push(db);
    return db;
  };
  const engineOn = (database: Database, clock: Clock, workerId: string, defs: WorkflowDefinition[], extra: { leaseMs?: number } = {}) =>
    new WorkflowEngine({ store: new SqlRunStore({ database, clock }), clock, logger, workerId, pollMs: 20, ...extra }).register(...defs);

  it('finishes a real 2 s sleep on another engine after a restart, without running the first step again', async () => {
    const file = await tempDb();
    const effects: string[] = [];
    const wf = defineWorkflow('nap', { version: '1' }, async (ctx) => {
      await ctx.step('before', () => effects.push('before'));
      await ctx.sleep(2_000);
      await ctx.step('after', () => effects.push('after'));
      return 'rested';
    });
    const a = engineOn(connect(file), systemClock, 'engine-a', [wf]);
    a.start();
    const run = await a.startRun(NS, 'nap', {});
    await until(async () => (await a.history(NS, run.id)).some((e) => e.kind === 'sleep'));
    const wakeAt = ((await a.history(NS, run.id)).find((e) => e.kind === 'sleep')!.result as { wakeAt: number }).wakeAt;
    await a.stop();
    const released = await a.getRun(NS, run.id);
    expect(released).toMatchObject({ status: 'waiting', wakeAt });
    expect(released?.owner).toBeUndefined();

    const b = engineOn(connect(file), systemClock, 'engine-b', [wf]);
    b.start();
    await until(async () => (await b.getRun(NS, run.id))?.status === 'completed');
    await b.stop();
    const done = await b.getRun(NS, run.id);
    expect(done?.output).toBe('rested');
    expect(done!.completedAt!).toBeGreaterThanOrEqual(wakeAt);
    expect(effects).toEqual(['before', 'after']);
  });

  it('recovers a run whose worker stopped heartbeating; the old worker\'s late write is rejected', async () => {
    const file = await tempDb();
    const database = connect(file);
    const clock = new ManualClock();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const calls: string[] = [];
    const def = (who: string) =>
      defineWorkflow('recover', { version: '1' }, async (ctx) => {
        const v = await ctx.step('slow', async () => {
          calls.push(`slow:${who}`);
          if (who === 'a') await gate;
          return `from-${who}`;
        });
        await ctx.step('after', () => {
          calls.push(`after:${who}`);
          return 'done';
        });
        return v;
      });
    const a = engineOn(database, clock, 'engine-a', [def('a')], { leaseMs: 10_000 });
    a.start();
    const run = await a.startRun(NS, 'recover', {});
    await until(async () => calls.includes('slow:a'));
    await a.stop({ removeWorker: false });
    clock.advance(10_001);

    const b = engineOn(database, clock, 'engine-b', [def('b')], { leaseMs: 10_000 });
    await b.drain();
    const done = await b.getRun(NS, run.id);
    expect(done).toMatchObject({ status: 'completed', output: 'from-b', epoch: 2 });

    release();
    await until(async () => a.inMemory === 0);
    const after = await b.getRun(NS, run.id);
    expect(after).toMatchObject({ status: 'completed', output: 'from-b', epoch: 2 });
    const history = await b.history(NS, run.id);
    expect(history.map((e) => [e.name, e.result])).toEqual([
      ['slow', 'from-b'],
      ['after', 'done'],
    ]);
    expect(calls).toEqual(['slow:a', 'slow:b', 'after:b']);
    await a.stop();
    await b.stop();
  });
});

const pgUp = await pgAvailable();
describe.skipIf(!pgUp)('workflow engine on PostgreSQL (test kit with a given database)', () => {
  it('runs steps, a released signal wait and a 30-day sleep', async () => {
    const schema = await freshPgSchema();
    const database = createDatabase({ url: schema.url });
    try {
      const wf = defineWorkflow('pg-flow', { version: '1' }, async (ctx) => {
        const a = await ctx.step('a', () => 1);
        const r = await ctx.waitForSignal<number>('go');
        await ctx.sleep(30 * DAY);
        return a + (r.timedOut ? 0 : r.payload);
      });
      env = await createTestWorkflowEnv({ database, workflows: [wf] });
      const run = await env.engine.startRun(NS, 'pg-flow', {});
      await env.runUntilIdle();
      expect((await env.engine.getRun(NS, run.id))?.status).toBe('waiting');
      await env.engine.signal(NS, run.id, 'go', 41);
      await env.runUntilIdle();
      await env.advance(30 * DAY);
      expect((await env.engine.getRun(NS, run.id))?.output).toBe(42);
      expect((await env.engine.history(NS, run.id)).map((e) => e.kind)).toEqual(['step', 'wait', 'signal', 'sleep']);
    } finally {
      await env?.close();
      env = undefined;
      await database.close();
      await schema.drop();
    }
  });
});
