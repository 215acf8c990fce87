import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, createLogger } from '../src/core/index.ts';
import {
  ChildRunError,
  TerminalError,
  MISSING_VERSION_BACKOFF_MS,
  SqlRunStore,
  WorkflowEngine,
  compareVersions,
  createTestWorkflowEnv,
  defineWorkflow,
  type TestWorkflowEnv,
} from '../src/workflows/index.ts';
import { useWorkflowFiles } from './support/workflow-files.ts';
import { until } from './support/until.ts';

const NS = 'plant-a';
const logger = createLogger({ level: 'silent' });
const kinds = (h: { kind: string; name: string }[]) => h.map((e) => `${e.kind}:${e.name}`);

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

let env: TestWorkflowEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

describe('version pinning', () => {
  const v1 = defineWorkflow('order', { version: '1' }, async (ctx) => {
    await ctx.step('charge', () => 'charged');
    await ctx.waitForSignal('go');
    await ctx.step('ship', () => 'shipped');
    return 'v1';
  });
  const v2 = defineWorkflow('order', { version: '2' }, async (ctx) => {
    await ctx.step('ship', () => 'shipped');
    await ctx.waitForSignal('go');
    await ctx.step('charge', () => 'charged');
    return 'v2';
  });
  const v10 = defineWorkflow('order', { version: '10' }, async () => 'v10');

  it('compares versions as integers when both are, else as strings', () => {
    expect(compareVersions('2', '10')).toBeLessThan(0);
    expect(compareVersions('10', '10')).toBe(0);
    expect(compareVersions('1.10', '1.9')).toBeLessThan(0);
    expect(compareVersions('b', 'a')).toBeGreaterThan(0);
  });

  it('keeps every version: a v1 run finishes on v1 code after v2 is registered; new runs take the highest version', async () => {
    env = await createTestWorkflowEnv({ workflows: [v1] });
    const old = await env.engine.startRun(NS, 'order', {}, { id: 'old' });
    expect(old.version).toBe('1');
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, old.id))?.status).toBe('waiting');

    env.engine.register(v2);
    expect(env.engine.versions('order')).toEqual(['1', '2']);
    await env.engine.signal(NS, old.id, 'go');
    await env.runUntilIdle();
    const done = await env.engine.getRun(NS, old.id);
    expect(done?.status).toBe('completed');
    expect(done?.output).toBe('v1');
    expect(kinds(await env.engine.history(NS, old.id))).toEqual(['step:charge', 'wait:go', 'signal:go', 'step:ship']);

    const fresh = await env.engine.startRun(NS, 'order', {}, { id: 'fresh' });
    expect(fresh.version).toBe('2');
    await env.runUntilIdle();
    await env.engine.signal(NS, fresh.id, 'go');
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, fresh.id))?.output).toBe('v2');
    expect(kinds(await env.engine.history(NS, fresh.id))).toEqual(['step:ship', 'wait:go', 'signal:go', 'step:charge']);

    // Numeric order: 10 > 2; an explicit version pins to it.
    env.engine.register(v10);
    expect((await env.engine.startRun(NS, 'order', {}, { id: 'ten' })).version).toBe('10');
    expect((await env.engine.startRun(NS, 'order', {}, { id: 'pinned', version: '1' })).version).toBe('1');
    await expect(env.engine.startRun(NS, 'order', {}, { version: '7' })).rejects.toMatchObject({ code: 'AIOS_NOT_FOUND' });
  });

  it('registering the same name and version again replaces that version only', async () => {
    const v1b = defineWorkflow('order', { version: '1' }, async () => 'v1b');
    env = await createTestWorkflowEnv({ workflows: [v1, v2] });
    env.engine.register(v1b);
    expect(env.engine.versions('order')).toEqual(['1', '2']);
    const run = await env.engine.startRun(NS, 'order', {}, { version: '1' });
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, run.id))?.output).toBe('v1b');
  });

  it('releases a run pinned to a version this worker lacks (never fails it), and completes it once the version is registered', async () => {
    const { log, lines } = captureLogger();
    env = await createTestWorkflowEnv({ workflows: [v1], logger: log });
    // Another process, which has v3, starts the run on the same database.
    const v3 = defineWorkflow('order', { version: '3' }, async (ctx) => ctx.step('v3-step', () => 'v3'));
    const other = new WorkflowEngine({ store: new SqlRunStore({ database: env.database, clock: env.clock }), clock: env.clock, logger, workerId: 'other' }).register(v3);
    const run = await other.startRun(NS, 'order', {}, { id: 'from-v3' });
    expect(run.version).toBe('3');

    await env.runUntilIdle();
    const released = await env.engine.getRun(NS, run.id);
    expect(released?.status).toBe('waiting');
    expect(released?.owner).toBeUndefined();
    expect(released?.error).toBeUndefined();
    expect(released?.wakeAt).toBe(env.clock.now() + MISSING_VERSION_BACKOFF_MS);
    expect(await env.engine.history(NS, run.id)).toEqual([]);
    const warn = lines.find((l) => l.workflow === 'order@3');
    expect(warn?.level).toBe(40);
    expect(String(warn?.msg)).toContain('order@3 is not registered');

    // Still missing after the backoff: released again, not failed.
    await env.advance(MISSING_VERSION_BACKOFF_MS);
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('waiting');

    env.engine.register(v3);
    await env.advance(MISSING_VERSION_BACKOFF_MS);
    const done = await env.engine.getRun(NS, run.id);
    expect(done?.status).toBe('completed');
    expect(done?.output).toBe('v3');
    await other.stop();
  });

  it('a cancel does not make a run without code here bounce between claim and release', async () => {
    env = await createTestWorkflowEnv({ workflows: [v1] });
    const v9 = defineWorkflow('order', { version: '9' }, async (ctx) => ctx.step('v9-step', () => 'v9'));
    const other = new WorkflowEngine({ store: new SqlRunStore({ database: env.database, clock: env.clock }), clock: env.clock, logger, workerId: 'other-9' }).register(v9);
    const run = await other.startRun(NS, 'order', {}, { id: 'from-v9' });
    await env.runUntilIdle();
    await env.engine.cancel(NS, run.id, { reason: 'no longer needed' });
    // runUntilIdle returns: the run was claimed once more (the cancel woke it), then released until its wake time.
    await env.runUntilIdle();
    const released = await env.engine.getRun(NS, run.id);
    expect(released).toMatchObject({ status: 'waiting', cancelRequested: true, wakeAt: env.clock.now() + MISSING_VERSION_BACKOFF_MS });
    expect(released?.owner).toBeUndefined();
    await other.stop();
  });
});

const DAY = 24 * 3600_000;


describe('child runs on the test kit (virtual clock, SQLite)', () => {
  const child = defineWorkflow('child', { version: '1' }, async (ctx, input: { n: number }) => {
    await ctx.sleep(DAY);
    return ctx.step('double', () => input.n * 2);
  });

  it('a parent awaits a child that sleeps 1 day and gets its output', async () => {
    const parent = defineWorkflow('parent', { version: '1' }, async (ctx, input: { n: number }) => {
      const doubled = await ctx.startChild(child, { n: input.n });
      return { doubled };
    });
    env = await createTestWorkflowEnv({ workflows: [parent, child] });
    const run = await env.engine.startRun(NS, 'parent', { n: 21 }, { id: 'p1' });
    await env.runUntilIdle();
    const c = await env.engine.getRun(NS, 'p1:child:0');
    expect(c).toMatchObject({ name: 'child', version: '1', status: 'waiting', parent: { ns: NS, id: 'p1' }, lineageId: run.lineageId });
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('waiting');

    await env.advance(DAY - 1);
    expect((await env.engine.getRun(NS, run.id))?.status).toBe('waiting');
    await env.advance(1);
    expect((await env.engine.getRun(NS, c!.id))?.output).toBe(42);
    const done = await env.engine.getRun(NS, run.id);
    expect(done?.status).toBe('completed');
    expect(done?.output).toEqual({ doubled: 42 });
    const h = await env.engine.history(NS, run.id);
    expect(kinds(h)).toEqual(['child:child', 'wait:aios.child:p1:child:0', 'signal:aios.child:p1:child:0']);
    expect(h[0].result).toEqual({ id: 'p1:child:0', wait: true });
  });

  it('passes a cancel or termination of the parent on to the children it awaits, not to those it started without waiting', async () => {
    const compensated: string[] = [];
    const kid = defineWorkflow('kid', { version: '1' }, async (ctx) => {
      try {
        await ctx.sleep(DAY);
        return 'slept';
      } catch (e) {
        await ctx.step('undo', () => void compensated.push(ctx.runId));
        throw e;
      }
    });
    const parent = defineWorkflow('boss', { version: '1' }, async (ctx) => {
      await ctx.startChild(kid, {}, { wait: false, id: `${ctx.runId}-free` });
      return ctx.startChild(kid, {}, { id: `${ctx.runId}-awaited` });
    });
    env = await createTestWorkflowEnv({ workflows: [parent, kid] });
    await env.engine.startRun(NS, 'boss', {}, { id: 'c1' });
    await env.engine.startRun(NS, 'boss', {}, { id: 't1' });
    await env.runUntilIdle();
    await env.engine.cancel(NS, 'c1', { reason: 'asset sold', by: 'user:ana' });
    await env.engine.terminate(NS, 't1', { reason: 'stuck', by: 'user:ops' });
    await env.runUntilIdle();
    expect((await env.engine.getRun(NS, 'c1'))?.status).toBe('cancelled');
    expect(await env.engine.getRun(NS, 'c1-awaited')).toMatchObject({ status: 'cancelled', error: { name: 'CancelledError' } });
    expect((await env.engine.getRun(NS, 'c1-awaited'))?.error?.message).toContain('parent run c1 was cancelled: asset sold');
    expect(await env.engine.getRun(NS, 't1-awaited')).toMatchObject({ status: 'terminated' });
    expect(compensated).toEqual(['c1-awaited']);
    expect((await env.engine.getRun(NS, 'c1-free'))?.status).toBe('waiting');
    expect((await env.engine.getRun(NS, 't1-free'))?.status).toBe('waiting');
    await env.advance(DAY);
    expect((await env.engine.getRun(NS, 'c1-free'))?.output).toBe('slept');
  });

  it('starts a child without waiting, and throws a ChildRunError for an awaited child that fails', async () => {
    const failing = defineWorkflow('failing', { version: '1' }, async (ctx) => {
      await ctx.step('boom', () => {
        throw new TerminalError('no stock', { code: 'OUT_OF_STOCK' });
      });
    });
    const parent = defineWorkflow('fan', { version: '1' }, async (ctx) => {
      const started = await ctx.startChild('child', { n: 1 }, { wait: false, id: 'side-job' });
      try {
        await ctx.startChild(failing, {});
        return 'unreachable';
      } catch (e) {
        if (!(e instanceof ChildRunError)) throw e;
        return { started, status: e.status, code: e.code, msg: e.childError?.message };
      }
    });
    env = await createTestWorkflowEnv({ workflows: [parent, child, failing] });
    const run = await env.engine.startRun(NS, 'fan', {}, { id: 'f1' });
    await env.runUntilIdle();
    const done = await env.engine.getRun(NS, run.id);
    expect(done?.status).toBe('completed');
    expect(done?.output).toEqual({ started: { id: 'side-job' }, status: 'failed', code: 'OUT_OF_STOCK', msg: 'no stock' });
    // The unawaited child runs on by itself.
    expect((await env.engine.getRun(NS, 'side-job'))).toMatchObject({ status: 'waiting', parent: { ns: NS, id: 'f1' } });
    await env.advance(DAY);
    expect((await env.engine.getRun(NS, 'side-job'))?.output).toBe(2);
  });
});

describe('child runs across a parent crash (SQLite file, ManualClock)', () => {
  const files = useWorkflowFiles('aios-wf-child-');
  const tempDb = () => files.database();

  it('a crash of the parent between startChild and the child\'s end does not start a second child', async () => {
    const database = await tempDb();
    const clock = new ManualClock();
    const childStarts: string[] = [];
    let hang = true;
    const kid = defineWorkflow('kid', { version: '1' }, async (ctx) => {
      await ctx.step('begin', () => void childStarts.push(ctx.runId));
      const r = await ctx.waitForSignal<string>('go');
      return r.timedOut ? 'timed-out' : `kid got ${r.payload}`;
    });
    const parent = defineWorkflow('dad', { version: '1' }, async (ctx) => ctx.startChild(kid, {}));
    // The crash point: worker-a's store hangs when the parent journals its wait for the child, after the child was started.
    const real = new SqlRunStore({ database, clock });
    const hanging = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'appendJournal') {
          return (ns: string, id: string, epoch: number, entries: { kind: string }[], o?: unknown) =>
            hang && id === 'd1' && entries.some((e) => e.kind === 'wait') ? new Promise(() => {}) : target.appendJournal(ns, id, epoch, entries as never, o as never);
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const a = new WorkflowEngine({ store: hanging, clock, logger, workerId: 'worker-a', pollMs: 10, leaseMs: 10_000 }).register(parent, kid);
    const store = new SqlRunStore({ database, clock });
    a.start();
    const run = await a.startRun(NS, 'dad', {}, { id: 'd1' });
    await until(async () => (await store.journal(NS, 'd1')).some((e) => e.kind === 'child'));
    await until(() => childStarts.length === 1);
    await a.stop({ removeWorker: false }); // crash: the lease stays, nothing is released
    expect((await store.getRun(NS, 'd1'))).toMatchObject({ status: 'running', owner: 'worker-a' });

    hang = false;
    const created: string[] = [];
    const counting = new Proxy(new SqlRunStore({ database, clock }), {
      get(target, prop, receiver) {
        if (prop === 'createRun') return (input: { id?: string; name: string }) => (created.push(input.id ?? input.name), target.createRun(input as never));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const b = new WorkflowEngine({ store: counting, clock, logger, workerId: 'worker-b', pollMs: 10, leaseMs: 10_000 }).register(parent, kid);
    files.track(b);
    clock.advance(10_001); // worker-a's lease expires
    b.start();
    await until(async () => (await store.journal(NS, 'd1')).some((e) => e.kind === 'wait'));
    await b.signal(NS, 'd1:child:0', 'go', 'cake');
    await until(async () => (await b.getRun(NS, run.id))?.status === 'completed');

    expect((await b.getRun(NS, run.id))?.output).toBe('kid got cake');
    expect(childStarts).toEqual(['d1:child:0']);
    const children = await store.listRuns(NS, { name: 'kid', limit: 10 });
    expect(children.runs.map((r) => r.id)).toEqual(['d1:child:0']);
    expect(created).toEqual([]); // the replay on worker-b never asked the store to create the child
    expect(kinds(await b.history(NS, run.id))).toEqual(['child:kid', 'wait:aios.child:d1:child:0', 'signal:aios.child:d1:child:0']);
  });
});
