import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/core/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, isTerminal } from '../src/workflows/index.ts';
import { crash20Shape, CRASH20_STEPS } from './fixtures/workflow-worker.ts';
import { FAULT_POINTS, type FaultPoint } from './support/fault-run-store.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startSideEffectService, type SideEffectService } from './support/side-effects.ts';
import { useTempDirs } from './support/temp-dirs.ts';
import { killWorker, readLog, stopWorker, useWorkers, type WorkerProcess } from './support/workers.ts';
import { LIVENESS_MS, until } from './support/until.ts';

/**
 * Once and only once across kill -9. Worker processes run 20-step workflows (each step calls an
 * external idempotent service, with sleeps held in memory or released, and a signal wait) and
 * SIGKILL themselves at named fault points at the store's commit boundaries, or at random; a
 * warm spare takes over each time and recovers the dead worker's runs when its lease expires.
 * Afterwards every run completed with the right output, every effect was applied once, and no
 * journal holds a step twice or a step result the service did not give.
 */
const SQLITE_KILLS = Number(process.env.AIOS_WF_CRASH_KILLS ?? 50);
const PG_KILLS = Number(process.env.AIOS_WF_CRASH_KILLS_PG ?? 10);
const NS = 'crash';
const IN_FLIGHT = 8;
/**
 * A worker whose fault has not fired once the runs have made this many journal entries of
 * progress under it (no run reached the point) is killed from outside. Counted in progress, not
 * time, so that a slow machine does not turn faults into outside kills.
 */
const FAULT_PATIENCE_ENTRIES = 100;
/** A liveness bound: every one of the SQLite test's 50 or more workers may take a loaded machine's start-up. */
const TEST_TIMEOUT_MS = 40 * 60_000;

interface FaultLine {
  readonly type: string;
  readonly point: FaultPoint;
  readonly worker: string;
  readonly at: number;
  readonly keys?: string[];
}

/** The i-th worker's fault: the named points in turn, each at varying occurrences. */
function faultFor(i: number): string {
  const point = FAULT_POINTS[i % FAULT_POINTS.length];
  const round = Math.floor(i / FAULT_POINTS.length);
  if (point === 'before-step-commit') return `${point}:${1 + (round % 4)}`;
  if (point === 'after-step-commit') return `${point}:${1 + ((round * 2) % 5)}`;
  if (point === 'during-timer') return `${point}:${1 + (round % 2)}`;
  if (point === 'during-signal') return `${point}:1`;
  return `random:${150 + Math.floor(Math.random() * 700)}`;
}

const delay = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms));

describe('workflows survive kill -9 at every commit boundary', () => {
  const tempDir = useTempDirs();
  const workers = useWorkers();

  async function crashLoop(db: string, database: Database, targetKills: number, log: string) {
    const service = await startSideEffectService();
    const store = new SqlRunStore({ database, clock: systemClock });
    const runs: { id: string; signalled: boolean }[] = [];
    const addRuns = async (k: number) => {
      for (let j = 0; j < k; j++) {
        const id = `r${String(runs.length).padStart(3, '0')}`;
        await store.createRun({ ns: NS, id, name: 'crash20', version: '1', input: {}, createdBy: 'test' });
        const run = { id, signalled: false };
        runs.push(run);
        // Half the runs get their signal before the wait begins, half once the wait is journaled.
        if (runs.length % 2 === 0) await signal(run);
      }
    };
    const signal = async (run: { id: string; signalled: boolean }) => {
      await store.signal(NS, run.id, 'go', { token: run.id });
      run.signalled = true;
    };
    let stopSignaller = false;
    const signaller = (async () => {
      while (!stopSignaller) {
        for (const run of runs.filter((r) => !r.signalled)) {
          if ((await store.journal(NS, run.id)).some((e) => e.kind === 'wait')) await signal(run);
        }
        await delay(40);
      }
    })();
    const unfinished = async () => (await store.listRuns(NS, { limit: 1000 })).runs.filter((r) => !isTerminal(r.status)).length;
    // Warm spares, two ahead: a tsx start-up costs about a second of CPU, the spares load while a worker runs.
    const spares: WorkerProcess[] = [];
    let spawned = 0;
    const refill = () => {
      while (spares.length < 2) spares.push(workers.spawn({ db, workerId: `crash-w${spawned++}`, effects: service.url, log, standby: true, leaseMs: 600, holdMs: 100, pollMs: 25, maxConcurrent: 3 }));
    };
    const fired = () => readLog<FaultLine>(log).filter((l) => l.type === 'fault');
    const entries = async () => Number(((await database.db.selectFrom('aios_wf_journal').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()) as { n: number | string }).n);
    /** The worker's exit, or 'timeout' once the runs progressed FAULT_PATIENCE_ENTRIES under it without its fault firing. */
    const outlivesFault = async (w: WorkerProcess): Promise<number | string> => {
      let exit: number | string | undefined;
      void w.exited.then((how) => (exit = how));
      await Promise.race([w.ready.catch(() => {}), w.exited]);
      const base = await entries();
      // Work is topped up meanwhile, so that the runs left never run out before the patience does.
      // Past the liveness bound without progress the worker is killed from outside too.
      const progressed = async () => {
        if (exit !== undefined) return true;
        const open = await unfinished();
        if (open < IN_FLIGHT - 2) await addRuns(IN_FLIGHT - open);
        return (await entries()) - base >= FAULT_PATIENCE_ENTRIES;
      };
      await until(progressed, `${w.workerId} to die or progress`, LIVENESS_MS, 50).catch(() => undefined);
      return exit ?? 'timeout';
    };

    try {
      await addRuns(IN_FLIGHT);
      let kills = 0;
      let external = 0;
      refill();
      const done = () => fired().length >= targetKills && FAULT_POINTS.every((p) => fired().some((f) => f.point === p));
      for (let i = 0; !done(); i++) {
        expect(i, 'too many workers outlived their fault').toBeLessThan(Math.max(targetKills * 2, 25));
        const current = spares.shift()!;
        await current.loaded;
        current.go(faultFor(i));
        refill();
        const how = await outlivesFault(current);
        if (how === 'timeout') {
          external++;
          expect(await killWorker(current)).toBe('SIGKILL');
        } else {
          expect(how, current.output.join('')).toBe('SIGKILL');
          expect(fired().some((f) => f.worker === current.workerId), `${current.workerId} died without a fault report`).toBe(true);
        }
        kills++;
        const open = await unfinished();
        if (open < IN_FLIGHT - 2) await addRuns(IN_FLIGHT - open);
      }
      // The last spare runs without a fault until every run is done; the other never opened the database.
      const last = spares.shift()!;
      await last.loaded;
      last.go();
      await killWorker(spares.shift()!);
      await until(async () => (await unfinished()) === 0, 'all runs finished');
      expect(await stopWorker(last), last.output.join('')).toBe(0);
      stopSignaller = true;
      await signaller;
      await verify(store, service, runs.map((r) => r.id), fired());
      return { kills, external, fired: fired(), runs: runs.length };
    } finally {
      stopSignaller = true;
      await signaller.catch(() => {});
      await service.close();
    }
  }

  async function verify(store: SqlRunStore, service: SideEffectService, ids: string[], faults: FaultLine[]) {
    const shape = crash20Shape();
    const expected = new Set<string>();
    for (const id of ids) {
      const run = await store.getRun(NS, id);
      expect(run?.status, `${id}: ${JSON.stringify(run?.error)}`).toBe('completed');
      const journal = await store.journal(NS, id);
      // One entry per seq, no gap; 20 steps with distinct names, in order, among the sleeps and the wait.
      expect(journal.map((e) => e.seq)).toEqual(journal.map((_, i) => i));
      expect(journal.map((e) => `${e.kind}:${e.name}`)).toEqual(shape);
      const steps = journal.filter((e) => e.kind === 'step');
      expect(new Set(steps.map((e) => e.name)).size).toBe(CRASH20_STEPS);
      for (const e of steps) {
        const key = `${NS}/${id}/${e.seq}`;
        expected.add(key);
        const applied = service.applied.get(key);
        expect(applied, key).toBeDefined();
        expect(applied!.name).toBe(e.name);
        // The journaled result is what the service answered for the effect's one application.
        expect(e.result, key).toBe(applied!.value);
        // A committed step is never executed again: no delivery of its key came after the commit.
        const late = service.deliveries.filter((d) => d.key === key && d.at > e.createdAt);
        expect(late, `${key} re-executed after its commit`).toEqual([]);
      }
      expect(run!.output).toEqual({ values: steps.map((e) => e.result), go: { token: id } });
    }
    // Every effect applied exactly once: the service applied each journaled key, and nothing else.
    expect(service.applied.size).toBe(CRASH20_STEPS * ids.length);
    expect(new Set(service.applied.keys())).toEqual(expected);
    // A kill before a step's commit left its effect delivered but not journaled: it was delivered again, and applied once.
    const beforeCommit = faults.filter((f) => f.point === 'before-step-commit');
    for (const f of beforeCommit) for (const key of f.keys ?? []) expect(service.deliveriesOf(key), key).toBeGreaterThanOrEqual(2);
    // A kill after a step's commit: the step ran no more after it.
    for (const f of faults.filter((x) => x.point === 'after-step-commit')) {
      for (const key of f.keys ?? []) expect(service.deliveries.filter((d) => d.key === key && d.at > f.at)).toEqual([]);
    }
  }

  function report(backend: string, r: { kills: number; external: number; fired: FaultLine[]; runs: number }) {
    const per = Object.fromEntries(FAULT_POINTS.map((p) => [p, r.fired.filter((f) => f.point === p).length]));
    console.info(`${backend}: ${r.kills} SIGKILLs (${r.external} from outside), ${r.runs} runs; fault points fired: ${JSON.stringify(per)}`);
    for (const p of FAULT_POINTS) expect(per[p], `fault point ${p} never fired`).toBeGreaterThanOrEqual(1);
  }

  it(`SQLite: ${SQLITE_KILLS}+ SIGKILLs, every effect applied once, every run completed`, async () => {
    const dir = tempDir('aios-wf-crash-');
    const file = join(dir, 'aios.db');
    const database = createDatabase({ sqliteFile: file });
    await migrate(database);
    try {
      const r = await crashLoop(file, database, SQLITE_KILLS, join(dir, 'workers.log'));
      report('sqlite', r);
      expect(r.kills).toBeGreaterThanOrEqual(SQLITE_KILLS);
      expect(r.fired.length).toBeGreaterThanOrEqual(SQLITE_KILLS);
    } finally {
      await database.close();
    }
  }, TEST_TIMEOUT_MS);

  it(`PostgreSQL: ${PG_KILLS}+ SIGKILLs, the same guarantees`, async () => {
    if (!(await pgAvailable())) return;
    const schema = await freshPgSchema();
    const database = createDatabase({ url: schema.url });
    try {
      await migrate(database);
      const r = await crashLoop(schema.url, database, PG_KILLS, join(tempDir('aios-wf-crash-pg-'), 'workers.log'));
      report('postgres', r);
      expect(r.kills).toBeGreaterThanOrEqual(PG_KILLS);
    } finally {
      await database.close();
      await schema.drop();
    }
  }, TEST_TIMEOUT_MS);
});
