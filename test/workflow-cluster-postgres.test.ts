import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createLogger, systemClock } from '../src/core/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, WorkflowEngine, defineWorkflow, type JournalEntry, type WorkflowRun } from '../src/workflows/index.ts';
import { FaultRunStore, type StepTrace } from './support/fault-run-store.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startSideEffectService, type SideEffectService } from './support/side-effects.ts';
import { useTempDirs } from './support/temp-dirs.ts';
import { killWorker, readLog, stopWorker, useWorkers } from './support/workers.ts';
import { LIVENESS_MS, until } from './support/until.ts';

/**
 * Several worker processes on one PostgreSQL schema: runs spread over them and move between
 * them (a released sleep), one worker is SIGKILLed midway and its runs are recovered when its
 * lease expires, and a paused zombie that outlived its lease is fenced out.
 */
const RUNS = Number(process.env.AIOS_WF_CLUSTER_RUNS ?? 1000);
const NS = 'cluster';
const logger = createLogger({ level: 'silent' });
const SHAPES: Record<string, string[]> = {
  oneStep: ['step:only'],
  fewSteps: ['step:a', 'sleep:sleep', 'step:b', 'sleep:sleep', 'step:c'],
};

async function count(database: Database, status: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from aios_wf_runs where ns = ${NS} and status = ${status}`.execute(database.db);
  return rows[0].n;
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function post(service: SideEffectService, key: string, worker: string): Promise<number> {
  const r = await fetch(`${service.url}/effect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, name: 'charge', worker }) });
  return ((await r.json()) as { value: number }).value;
}

/** For each run, no two workers' committed step executions overlap in time, and epochs only grow. */
function assertNoOverlap(traces: StepTrace[]): { multiWorkerRuns: number } {
  const byRun = new Map<string, StepTrace[]>();
  for (const t of traces.filter((x) => x.committed)) byRun.set(t.run, [...(byRun.get(t.run) ?? []), t]);
  let multiWorkerRuns = 0;
  for (const [run, ts] of byRun) {
    ts.sort((a, b) => a.start - b.start || a.end - b.end);
    if (new Set(ts.map((t) => t.worker)).size > 1) multiWorkerRuns++;
    for (let i = 0; i < ts.length; i++) {
      for (let j = i + 1; j < ts.length; j++) {
        const [a, b] = [ts[i], ts[j]];
        if (a.worker === b.worker) continue;
        const overlap = a.start < b.end && b.start < a.end;
        expect(overlap, `${run}: ${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`).toBe(false);
        // The later holder claimed after the earlier one: a higher fencing token.
        expect(b.epoch, `${run}: epochs ${a.epoch} then ${b.epoch}`).toBeGreaterThan(a.epoch);
      }
    }
  }
  return { multiWorkerRuns };
}

describe('a cluster of workflow workers on PostgreSQL', () => {
  const tempDir = useTempDirs();
  const workers = useWorkers();

  it(`3 worker processes run ${RUNS} workflows; one is SIGKILLed midway; every effect once, no run on two workers at once`, async () => {
    if (!(await pgAvailable())) return;
    const schema = await freshPgSchema();
    const database = createDatabase({ url: schema.url });
    const service = await startSideEffectService();
    try {
      await migrate(database);
      const store = new SqlRunStore({ database, clock: systemClock });
      const log = join(tempDir('aios-wf-cluster-'), 'workers.log');
      const ws = [0, 1, 2].map((i) =>
        workers.spawn({ db: schema.url, workerId: `cluster-w${i}`, effects: service.url, log, trace: true, leaseMs: 2000, holdMs: 100, pollMs: 50, maxConcurrent: 25 }),
      );
      await Promise.all(ws.map((w) => w.ready));
      const ids: { id: string; name: string }[] = [];
      for (let i = 0; i < RUNS; i += 50) {
        const batch = Array.from({ length: Math.min(50, RUNS - i) }, (_, j) => ({ id: `c${String(i + j).padStart(4, '0')}`, name: (i + j) % 2 ? 'fewSteps' : 'oneStep' }));
        await Promise.all(batch.map((b) => store.createRun({ ns: NS, id: b.id, name: b.name, version: '1', input: {}, createdBy: 'test' })));
        ids.push(...batch);
      }
      await until(async () => (await count(database, 'completed')) >= RUNS * 0.3, '30% completed');
      const victim = ws[1];
      expect(await killWorker(victim)).toBe('SIGKILL');
      const killedAt = Date.now();
      // What the dead worker held: nobody may touch these until its lease expires.
      const held = (await database.db.selectFrom('aios_wf_runs').select('id').where('owner', '=', victim.workerId).where('status', 'in', ['running', 'waiting']).execute()) as { id: string }[];
      expect(held.length, 'the victim held no run when it was killed').toBeGreaterThan(0);
      await until(async () => (await count(database, 'completed')) === RUNS, 'all runs completed', 5 * LIVENESS_MS);
      for (const w of [ws[0], ws[2]]) expect(await stopWorker(w), w.output.join('')).toBe(0);

      // Every run completed with the results the service gave, each journal holds its shape once.
      const expected = new Set<string>();
      for (let i = 0; i < ids.length; i += 100) {
        await Promise.all(
          ids.slice(i, i + 100).map(async ({ id, name }) => {
            const [run, journal] = (await Promise.all([store.getRun(NS, id), store.journal(NS, id)])) as [WorkflowRun, JournalEntry[]];
            expect(run.status).toBe('completed');
            expect(journal.map((e) => e.seq)).toEqual(journal.map((_, k) => k));
            expect(journal.map((e) => `${e.kind}:${e.name}`)).toEqual(SHAPES[name]);
            const steps = journal.filter((e) => e.kind === 'step');
            for (const e of steps) {
              const key = `${NS}/${id}/${e.seq}`;
              expected.add(key);
              expect(e.result, key).toBe(service.applied.get(key)?.value);
            }
            expect(run.output).toEqual({ values: steps.map((e) => e.result) });
          }),
        );
      }
      expect(expected.size).toBe(RUNS / 2 + (RUNS / 2) * 3);
      expect(new Set(service.applied.keys())).toEqual(expected);

      const traces = readLog<StepTrace & { type: string }>(log).filter((l) => l.type === 'step');
      const { multiWorkerRuns } = assertNoOverlap(traces);
      expect(multiWorkerRuns, 'no run moved between workers').toBeGreaterThan(0);
      // Each journaled step was committed by a traced execution, except one the victim committed but
      // was killed before it saw the commit (it then held that run); nothing traced is missing from the journals.
      const heldIds = new Set(held.map((h) => h.id));
      expect(traces.filter((t) => !t.committed && t.error !== 'AIOS_WF_LEASE_LOST'), 'a store write failed').toEqual([]);
      const traced = new Set(traces.filter((t) => t.committed).map((t) => `${NS}/${t.run}/${t.seq}`));
      expect([...traced].filter((k) => !expected.has(k))).toEqual([]);
      const untraced = [...expected].filter((k) => !traced.has(k));
      expect(untraced.filter((k) => !heldIds.has(k.split('/')[1]))).toEqual([]);
      // The dead worker's runs were finished by the others, after its lease.
      const recovered = traces.filter((t) => heldIds.has(t.run) && t.committed && t.start >= killedAt);
      expect(recovered.length, 'no step of a run the dead worker held ran after the kill').toBeGreaterThan(0);
      for (const t of recovered) expect(t.worker).not.toBe(victim.workerId);
      for (const w of new Set(traces.map((t) => t.worker))) expect(ws.map((x) => x.workerId)).toContain(w);
      console.info(`cluster: ${RUNS} runs, ${traces.length} step executions, ${multiWorkerRuns} runs moved between workers, ${held.length} recovered from the killed worker, ${untraced.length} committed unobserved`);
    } finally {
      await service.close();
      await database.close();
      await schema.drop();
    }
  }, 20 * 60_000);

  it('fences out a paused zombie: its late step result is rejected and the journal keeps the new owner’s', async () => {
    if (!(await pgAvailable())) return;
    const schema = await freshPgSchema();
    const [dbA, dbB] = [createDatabase({ url: schema.url }), createDatabase({ url: schema.url })];
    const service = await startSideEffectService();
    const engines: WorkflowEngine[] = [];
    const started = deferred<string>();
    const gate = deferred();
    try {
      await migrate(dbA);
      const tracesA: StepTrace[] = [];
      const die = () => {
        throw new Error('no fault is armed');
      };
      const storeA = new FaultRunStore(new SqlRunStore({ database: dbA, clock: systemClock }), { workerId: 'zombie-a', die, trace: (t) => tracesA.push(t) });
      // Same workflow, two processes' worth of code: A's step stalls (a GC pause, a frozen VM) before its effect.
      const wfA = defineWorkflow('zombie', { version: '1' }, (ctx) =>
        ctx.step('charge', async ({ idempotencyKey }) => {
          started.resolve(idempotencyKey);
          await gate.promise;
          return { by: 'A', value: await post(service, idempotencyKey, 'A') };
        }),
      );
      const wfB = defineWorkflow('zombie', { version: '1' }, (ctx) =>
        ctx.step('charge', async ({ idempotencyKey }) => ({ by: 'B', value: await post(service, idempotencyKey, 'B') })),
      );
      const opts = { clock: systemClock, logger, leaseMs: 500, pollMs: 20 };
      const a = new WorkflowEngine({ ...opts, store: storeA.store, workerId: 'zombie-a' }).register(wfA);
      engines.push(a);
      a.start();
      const run = await a.startRun('zombie', 'zombie', {}, { id: 'zombie-1' });
      const key = await started.promise;
      const epochA = (await a.getRun('zombie', run.id))!.epoch;
      // A stops heartbeating but its step stays in flight, holding the run in memory.
      await a.stop({ removeWorker: false });
      const b = new WorkflowEngine({ ...opts, store: new SqlRunStore({ database: dbB, clock: systemClock }), workerId: 'zombie-b' }).register(wfB);
      engines.push(b);
      b.start();
      await until(async () => (await b.getRun('zombie', run.id))?.status === 'completed', 'B completes the run');
      const done = (await b.getRun('zombie', run.id))!;
      expect(done.epoch).toBeGreaterThan(epochA);

      gate.resolve(); // the zombie wakes up and tries to record its result
      await until(() => tracesA.length > 0, "A's late append");
      expect(tracesA).toEqual([expect.objectContaining({ run: run.id, name: 'charge', epoch: epochA, committed: false, error: 'AIOS_WF_LEASE_LOST' })]);
      const journal = await b.history('zombie', run.id);
      expect(journal.map((e) => [e.kind, e.name, e.result])).toEqual([['step', 'charge', { by: 'B', value: 1 }]]);
      const after = (await b.getRun('zombie', run.id))!;
      expect(after).toMatchObject({ status: 'completed', output: { by: 'B', value: 1 }, epoch: done.epoch });
      // The effect was applied once, by B; A's late request was only a repeated delivery of the same key.
      expect(service.applied.get(key)).toMatchObject({ worker: 'B', value: 1 });
      expect(service.deliveries.map((d) => d.worker)).toEqual(['B', 'A']);
    } finally {
      gate.resolve();
      for (const e of engines) await e.stop();
      await service.close();
      await dbA.close();
      await dbB.close();
      await schema.drop();
    }
  });
});
