import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, createLogger, isAiosError } from '../src/core/index.ts';
import { type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { ScheduleStore, Scheduler, SqlRunStore, WorkflowEngine, defineWorkflow, scheduleRunId, type WorkflowDefinition } from '../src/workflows/index.ts';
import { sqlBackends } from './support/sql-backends.ts';

/** Cron schedules on SQLite and PostgreSQL: CRUD, one fire per tick, overlap, catch-up, time zones, several schedulers. */

const backends = await sqlBackends('aios-sched-');

const NS = 'plant-a';
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);
const logger = createLogger({ level: 'silent' });

const noop = defineWorkflow('noop', { version: '1' }, async (ctx) => ctx.step('ping', () => 'pong'));
const gate = defineWorkflow('gate', { version: '1' }, async (ctx) => {
  await ctx.waitForSignal('go');
  return 'done';
});

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; path?: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isAiosError(e)) throw new Error(`expected an AiosError, got ${String(e)}`);
  return { code: e.code, path: e.errors?.[0]?.path };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`workflow schedules: ${backend.name}`, () => {
    let database: Database;
    let clock: ManualClock;
    let engine: WorkflowEngine;
    let schedules: ScheduleStore;
    let scheduler: Scheduler;
    const extra: { engine?: WorkflowEngine; database?: Database }[] = [];

    const newEngine = (db: Database, c: ManualClock, workerId: string, defs: WorkflowDefinition[] = [noop, gate]) =>
      new WorkflowEngine({ store: new SqlRunStore({ database: db, clock: c }), clock: c, logger, workerId }).register(...defs);
    const runIds = async (name: string) =>
      (await database.db.selectFrom('aios_wf_runs').select('id').where('ns', '=', NS).where('name', '=', name).orderBy('id').execute()).map((r) => r.id as string);
    const ids = (scheduleId: string, ticks: number[]) => ticks.map((t) => scheduleRunId(scheduleId, t)).sort();
    const minutes = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => T0 + (from + i) * MIN);

    beforeAll(async () => {
      database = await backend.connect();
      await migrate(database);
    });
    afterAll(async () => {
      await database?.close();
      await backend.cleanup();
    });
    beforeEach(async () => {
      for (const t of ['aios_wf_schedules', 'aios_wf_runs', 'aios_wf_journal', 'aios_wf_signals', 'aios_wf_workers']) await database.db.deleteFrom(t).execute();
      clock = new ManualClock(T0);
      engine = newEngine(database, clock, 'w1');
      schedules = new ScheduleStore({ database, clock });
      scheduler = new Scheduler({ database, engine, clock, logger });
    });
    afterEach(async () => {
      await engine.stop();
      for (const x of extra.splice(0)) {
        await x.engine?.stop();
        await x.database?.close();
      }
    });

    it('creates, reads, lists by cursor, updates and deletes schedules per namespace', async () => {
      const s = await schedules.create(NS, { id: 'report', workflow: 'noop', input: { line: 3 }, cron: '*/5 * * * *', createdBy: 'user:ana' });
      expect(s).toEqual({
        ns: NS,
        id: 'report',
        workflow: 'noop',
        input: { line: 3 },
        cron: '*/5 * * * *',
        timezone: 'UTC',
        overlap: 'skip',
        catchUp: 'one',
        catchUpLimit: 10,
        paused: false,
        nextFireAt: T0 + 5 * MIN,
        createdBy: 'user:ana',
        createdAt: T0,
        updatedAt: T0,
      });
      expect(await schedules.get(NS, 'report')).toEqual(s);
      expect(await schedules.get('plant-b', 'report')).toBeUndefined();
      await schedules.create('plant-b', { id: 'report', workflow: 'noop', cron: '@hourly', createdBy: 'user:bob' });
      await schedules.create(NS, { id: 'a', workflow: 'noop', cron: '@daily', createdBy: 'api' });
      await schedules.create(NS, { id: 'z', workflow: 'noop', cron: '@daily', createdBy: 'api' });

      const p1 = await schedules.list(NS, { limit: 2 });
      expect(p1.schedules.map((x) => x.id)).toEqual(['a', 'report']);
      const p2 = await schedules.list(NS, { limit: 2, after: p1.next! });
      expect(p2.schedules.map((x) => x.id)).toEqual(['z']);
      expect(p2.next).toBeUndefined();

      clock.advance(7 * MIN);
      const paused = await schedules.update(NS, 'report', { paused: true, overlap: 'allow', input: { line: 4 } });
      expect(paused).toMatchObject({ paused: true, overlap: 'allow', input: { line: 4 }, nextFireAt: T0 + 5 * MIN, updatedAt: T0 + 7 * MIN });
      const resumed = await schedules.update(NS, 'report', { paused: false });
      expect(resumed.nextFireAt, 'a resume starts from now, without catching up the pause').toBe(T0 + 10 * MIN);
      const recron = await schedules.update(NS, 'report', { cron: '30 * * * *', catchUp: 'all', catchUpLimit: 3 });
      expect(recron).toMatchObject({ nextFireAt: T0 + 30 * MIN, catchUp: 'all', catchUpLimit: 3 });

      expect(await schedules.delete(NS, 'report')).toBe(true);
      expect(await schedules.delete(NS, 'report')).toBe(false);
      expect(await schedules.get(NS, 'report')).toBeUndefined();
      expect(await schedules.get('plant-b', 'report')).toBeDefined();
    });

    it('refuses a bad cron, time zone or policy with AIOS_VALIDATION naming the field', async () => {
      const base = { id: 'x', workflow: 'noop', cron: '* * * * *', createdBy: 'api' };
      expect(await errorOf(schedules.create(NS, { ...base, cron: '61 * * * *' }))).toEqual({ code: 'AIOS_VALIDATION', path: '/cron' });
      expect(await errorOf(schedules.create(NS, { ...base, cron: 'every minute' }))).toEqual({ code: 'AIOS_VALIDATION', path: '/cron' });
      expect(await errorOf(schedules.create(NS, { ...base, timezone: 'Mars/Olympus' }))).toEqual({ code: 'AIOS_VALIDATION', path: '/timezone' });
      expect(await errorOf(schedules.create(NS, { ...base, overlap: 'queue' as never }))).toEqual({ code: 'AIOS_VALIDATION', path: '/overlap' });
      expect(await errorOf(schedules.create(NS, { ...base, catchUp: 'some' as never }))).toEqual({ code: 'AIOS_VALIDATION', path: '/catchUp' });
      expect(await errorOf(schedules.create(NS, { ...base, catchUpLimit: 0 }))).toEqual({ code: 'AIOS_VALIDATION', path: '/catchUpLimit' });
      expect(await errorOf(schedules.create(NS, { ...base, cron: '0 0 1 1 * 2020' }))).toEqual({ code: 'AIOS_VALIDATION', path: '/cron' });
      expect(await schedules.list(NS)).toEqual({ schedules: [] });

      await schedules.create(NS, base);
      expect((await errorOf(schedules.create(NS, base))).code).toBe('AIOS_CONFLICT');
      expect(await errorOf(schedules.update(NS, 'x', { cron: '* * *' }))).toEqual({ code: 'AIOS_VALIDATION', path: '/cron' });
      expect((await errorOf(schedules.update(NS, 'missing', { paused: true }))).code).toBe('AIOS_NOT_FOUND');
      expect((await schedules.get(NS, 'x'))?.cron).toBe('* * * * *');
    });

    it('fires a per-minute schedule once per tick, with deterministic run ids', async () => {
      await schedules.create(NS, { id: 'every', workflow: 'noop', input: { n: 1 }, cron: '* * * * *', overlap: 'allow', createdBy: 'api' });
      clock.advance(MIN - 1);
      expect((await scheduler.tick()).started).toEqual([]);
      clock.advance(1);
      for (let i = 1; i <= 10; i++) {
        if (i > 1) clock.advance(MIN);
        expect((await scheduler.tick()).started).toEqual([scheduleRunId('every', T0 + i * MIN)]);
        expect((await scheduler.tick()).started, 'a second tick at the same time fires nothing').toEqual([]);
      }
      expect(await runIds('noop')).toEqual(ids('every', minutes(1, 10)));
      const run = await engine.getRun(NS, scheduleRunId('every', T0 + MIN));
      expect(run).toMatchObject({ input: { n: 1 }, createdBy: 'schedule:every' });
      expect(await schedules.get(NS, 'every')).toMatchObject({ lastFireAt: T0 + 10 * MIN, lastRunId: scheduleRunId('every', T0 + 10 * MIN), nextFireAt: T0 + 11 * MIN });

      await schedules.update(NS, 'every', { paused: true });
      clock.advance(5 * MIN);
      expect((await scheduler.tick()).started, 'a paused schedule does not fire').toEqual([]);
    });

    it('overlap skip: no run while the previous one waits', async () => {
      await schedules.create(NS, { id: 'g', workflow: 'gate', cron: '* * * * *', overlap: 'skip', createdBy: 'api' });
      clock.advance(MIN);
      await scheduler.tick();
      await engine.drain();
      expect((await engine.getRun(NS, scheduleRunId('g', T0 + MIN)))?.status).toBe('waiting');
      clock.advance(MIN);
      expect((await scheduler.tick()).started).toEqual([]);
      await engine.signal(NS, scheduleRunId('g', T0 + MIN), 'go');
      await engine.drain();
      expect((await engine.getRun(NS, scheduleRunId('g', T0 + MIN)))?.status).toBe('completed');
      clock.advance(MIN);
      expect((await scheduler.tick()).started).toEqual([scheduleRunId('g', T0 + 3 * MIN)]);
      expect(await runIds('gate')).toEqual(ids('g', [T0 + MIN, T0 + 3 * MIN]));
      expect(await schedules.get(NS, 'g')).toMatchObject({ lastFireAt: T0 + 3 * MIN, lastRunId: scheduleRunId('g', T0 + 3 * MIN) });
    });

    it('overlap buffer_one: keeps one fire and starts it when the previous run ends', async () => {
      await schedules.create(NS, { id: 'g', workflow: 'gate', cron: '* * * * *', overlap: 'buffer_one', createdBy: 'api' });
      for (let i = 1; i <= 3; i++) {
        clock.advance(MIN);
        await scheduler.tick();
        await engine.drain();
      }
      expect(await runIds('gate')).toEqual(ids('g', [T0 + MIN]));
      expect((await schedules.get(NS, 'g'))?.bufferedAt, 'the first held-back tick is kept').toBe(T0 + 2 * MIN);

      await engine.signal(NS, scheduleRunId('g', T0 + MIN), 'go');
      await engine.drain();
      expect((await scheduler.tick()).started, 'released at the next tick, before any new fire').toEqual([scheduleRunId('g', T0 + 2 * MIN)]);
      expect((await schedules.get(NS, 'g'))?.bufferedAt).toBeUndefined();
      clock.advance(MIN);
      expect((await scheduler.tick()).started).toEqual([]);
      expect((await schedules.get(NS, 'g'))?.bufferedAt, 'the tick at 4 min is buffered behind the released run').toBe(T0 + 4 * MIN);
      expect(await runIds('gate')).toEqual(ids('g', [T0 + MIN, T0 + 2 * MIN]));
    });

    it('overlap allow: starts at every tick whatever runs', async () => {
      await schedules.create(NS, { id: 'g', workflow: 'gate', cron: '* * * * *', overlap: 'allow', createdBy: 'api' });
      for (let i = 1; i <= 3; i++) {
        clock.advance(MIN);
        await scheduler.tick();
        await engine.drain();
      }
      expect(await runIds('gate')).toEqual(ids('g', minutes(1, 3)));
      for (const id of await runIds('gate')) expect((await engine.getRun(NS, id))?.status).toBe('waiting');
    });

    describe('catch-up after a one-hour gap', () => {
      // Ticks more than 10 s late are missed; the clock lands 30 s after the 60th missed tick.
      const gap = 60 * MIN + 30_000;
      const late = () => new Scheduler({ database, engine, clock, logger, graceMs: 10_000 });

      it("'skip' fires none of the missed ticks and waits for the next one", async () => {
        await schedules.create(NS, { id: 'c', workflow: 'noop', cron: '* * * * *', overlap: 'allow', catchUp: 'skip', createdBy: 'api' });
        clock.advance(gap);
        expect((await late().tick()).started).toEqual([]);
        expect((await schedules.get(NS, 'c'))?.nextFireAt).toBe(T0 + 61 * MIN);
        clock.set(T0 + 61 * MIN);
        expect((await late().tick()).started).toEqual([scheduleRunId('c', T0 + 61 * MIN)]);
      });

      it("'one' fires once, for the latest missed tick", async () => {
        await schedules.create(NS, { id: 'c', workflow: 'noop', cron: '* * * * *', overlap: 'allow', catchUp: 'one', createdBy: 'api' });
        clock.advance(gap);
        expect((await late().tick()).started).toEqual([scheduleRunId('c', T0 + 60 * MIN)]);
        expect(await runIds('noop')).toEqual(ids('c', [T0 + 60 * MIN]));
        expect((await schedules.get(NS, 'c'))?.nextFireAt).toBe(T0 + 61 * MIN);
      });

      it("'all' fires each missed tick, the latest catch_up_limit of them", async () => {
        await schedules.create(NS, { id: 'c', workflow: 'noop', cron: '* * * * *', overlap: 'allow', catchUp: 'all', catchUpLimit: 5, createdBy: 'api' });
        await schedules.create(NS, { id: 'd', workflow: 'noop', cron: '* * * * *', overlap: 'allow', catchUp: 'all', catchUpLimit: 100, createdBy: 'api' });
        clock.advance(gap);
        await late().tick();
        expect(await runIds('noop')).toEqual([...ids('c', minutes(56, 60)), ...ids('d', minutes(1, 60))].sort());
        expect((await schedules.get(NS, 'c'))?.nextFireAt).toBe(T0 + 61 * MIN);
      });

      it('a tick within the grace period fires even under catch-up skip', async () => {
        await schedules.create(NS, { id: 'c', workflow: 'noop', cron: '* * * * *', overlap: 'allow', catchUp: 'skip', createdBy: 'api' });
        clock.advance(60 * MIN + 5_000);
        expect((await late().tick()).started).toEqual([scheduleRunId('c', T0 + 60 * MIN)]);
      });
    });

    it('reads the cron in the schedule time zone', async () => {
      const berlin = await schedules.create(NS, { id: 'berlin', workflow: 'noop', cron: '0 9 * * *', timezone: 'Europe/Berlin', createdBy: 'api' });
      const utc = await schedules.create(NS, { id: 'utc', workflow: 'noop', cron: '0 9 * * *', createdBy: 'api' });
      expect(berlin.nextFireAt, '09:00 CET is 08:00 UTC').toBe(Date.UTC(2026, 0, 1, 8));
      expect(utc.nextFireAt).toBe(Date.UTC(2026, 0, 1, 9));
      clock.set(Date.UTC(2026, 0, 1, 8));
      expect((await scheduler.tick()).started).toEqual([scheduleRunId('berlin', Date.UTC(2026, 0, 1, 8))]);
      clock.set(Date.UTC(2026, 0, 1, 9));
      expect((await scheduler.tick()).started).toEqual([scheduleRunId('utc', Date.UTC(2026, 0, 1, 9))]);
      // Summer time: 09:00 CEST is 07:00 UTC.
      clock.set(Date.UTC(2026, 6, 1));
      expect((await schedules.update(NS, 'berlin', { timezone: 'Europe/Berlin' })).nextFireAt).toBe(Date.UTC(2026, 6, 1, 7));
    });

    it('starts the run of a claimed fire whose scheduler failed before creating it, once, with the same id', async () => {
      await schedules.create(NS, { id: 'r', workflow: 'noop', cron: '* * * * *', overlap: 'allow', createdBy: 'api' });
      // This engine lacks the workflow: the claim commits, the start fails, as if the process died between.
      const broken = new Scheduler({ database, engine: newEngine(database, clock, 'w-broken', [gate]), clock, logger });
      clock.advance(MIN);
      expect((await broken.tick()).started).toEqual([]);
      expect(await runIds('noop')).toEqual([]);
      expect(await schedules.get(NS, 'r')).toMatchObject({ lastRunId: scheduleRunId('r', T0 + MIN), nextFireAt: T0 + 2 * MIN });

      expect((await scheduler.tick()).started).toEqual([scheduleRunId('r', T0 + MIN)]);
      expect((await scheduler.tick()).started).toEqual([]);
      expect(await runIds('noop')).toEqual(ids('r', [T0 + MIN]));
    });

    it('fires each tick exactly once with two schedulers on separate connections and engines', async () => {
      const db2 = await backend.connect();
      const clock2 = new ManualClock(T0);
      const engine2 = newEngine(db2, clock2, 'w2');
      extra.push({ engine: engine2, database: db2 });
      const other = new Scheduler({ database: db2, engine: engine2, clock: clock2, logger });
      await schedules.create(NS, { id: 'race', workflow: 'noop', cron: '* * * * *', overlap: 'allow', createdBy: 'api' });
      await schedules.create(NS, { id: 'burst', workflow: 'gate', cron: '* * * * *', overlap: 'allow', catchUp: 'all', catchUpLimit: 100, createdBy: 'api' });
      const started: string[] = [];
      for (let i = 1; i <= 20; i++) {
        clock.advance(MIN);
        clock2.advance(MIN);
        // 'burst' is due too, but is left to catch up below: pause it for the ticking phase.
        if (i === 1) await schedules.update(NS, 'burst', { paused: true });
        const [a, b] = await Promise.all([scheduler.tick(), other.tick()]);
        started.push(...a.started, ...b.started);
      }
      expect(await runIds('noop')).toEqual(ids('race', minutes(1, 20)));
      expect([...new Set(started)].sort(), 'runs reported by the schedulers').toEqual(ids('race', minutes(1, 20)));

      // A backlog of 20 missed ticks worked off by both at once: still one run per tick.
      await database.db.updateTable('aios_wf_schedules').set({ paused: 0, next_fire_at: T0 + MIN }).where('id', '=', 'burst').execute();
      const [a, b] = await Promise.all([scheduler.tick(), other.tick()]);
      expect(await runIds('gate')).toEqual(ids('burst', minutes(1, 20)));
      expect([...new Set([...a.started, ...b.started])].sort()).toEqual(ids('burst', minutes(1, 20)));
    });
  });
}
