/**
 * npm run bench -- workflows [--quick] [--no-peers]
 *
 * Durable workflow throughput and latency of the AIOS engine (WorkflowEngine on SqlRunStore, on
 * SQLite and PostgreSQL) and, in the same run, of the peers DBOS Transact (PostgreSQL) and Restate,
 * on the shared workload of bench/peers/workload.ts: workflows of 1 or 10 trivial durable steps
 * (step i returns i + input), `concurrency` workflows in flight from the client, latency from the
 * client's start call to its observing the committed end, every result checked. Cases, batch sizes
 * and warm-up are those of the peers (bench/peers/compare.ts). AIOS rows carry `vsDbos` and
 * `vsRestate`: AIOS steps/s over the peer's, same workload and concurrency. A summary of the goals
 * (>= 5,000 steps/s on SQLite, >= 2,000 on PostgreSQL, ahead of both peers) goes to stderr.
 *
 * Each case gets a fresh store (a new SQLite file with the product's pragmas, synchronous = FULL;
 * a new PostgreSQL schema), as each peer run gets a fresh DBOS schema or Restate server.
 * `--no-peers` measures AIOS alone; `--quick` is a small version (well under a minute).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, systemClock } from '../src/core/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, WorkflowEngine, defineWorkflow, isTerminal, type RunPatch, type WorkflowRun } from '../src/workflows/index.ts';
import { freshPgSchema, pgAvailable, randomName } from '../test/support/services.ts';
import { report, round } from './_report.ts';
import { concurrencies, noteLoad, runPeers, warmupFor, workflowsFor, WORKLOADS, type PeerRow } from './peers/compare.ts';
import { measure, stepsOf, type Workload } from './peers/workload.ts';

const quick = process.argv.includes('--quick');
const withPeers = !process.argv.includes('--no-peers');
const CONCURRENCY = concurrencies(quick);
const NS = 'bench';
/**
 * The worker loop is woken by every startRun, so pollMs only sets how often an idle loop claims
 * (each claim also heartbeats, a durable write): 5, 20 and 200 ms measured the same within noise;
 * 20 ms keeps idle claims cheap. maxConcurrent leaves room above the client's in-flight count for
 * runs that have ended but not yet left the engine's memory.
 */
const POLL_MS = 20;
const maxConcurrentFor = (concurrency: number) => Math.max(100, 2 * concurrency);
/** A run not ended this long after its start is a hang, not a slow run. */
const END_TIMEOUT_MS = 60_000;

type Backend = 'sqlite' | 'postgres';
interface AiosRow {
  system: 'aios';
  backend: Backend;
  workload: Workload;
  concurrency: number;
  workflows?: number;
  steps?: number;
  seconds?: number;
  workflowsPerSec?: number;
  stepsPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  vsDbos?: number;
  vsRestate?: number;
  skipped?: string;
}

/**
 * How the client learns that a run ended: the engine has no completion callback, so the store
 * it writes through tells us, right after the engine's fenced `update` that records the end has
 * committed. That costs no query at all. Polling `getRun` per in-flight run would add up to 64
 * queries per tick on the same two CPUs and up to half the interval to every latency, and a
 * `listRuns` count gives no per-run latency. This is the in-process equivalent of DBOS's
 * `handle.getResult()` on a workflow started in the same process.
 */
class ObservedRunStore extends SqlRunStore {
  readonly #waiting = new Map<string, { resolve: (run: WorkflowRun) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  /** Call before starting the run, so an end cannot come first. */
  whenEnded(ns: string, id: string): Promise<WorkflowRun> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(`${ns}/${id}`);
        reject(new Error(`workflow run ${ns}/${id} did not end within ${END_TIMEOUT_MS} ms (does the engine still record a run's end with store.update?)`));
      }, END_TIMEOUT_MS);
      this.#waiting.set(`${ns}/${id}`, { resolve, reject, timer });
    });
  }

  override async update(ns: string, runId: string, epoch: number, patch: RunPatch): Promise<WorkflowRun> {
    const run = await super.update(ns, runId, epoch, patch);
    const w = isTerminal(run.status) ? this.#waiting.get(`${ns}/${runId}`) : undefined;
    if (w) {
      this.#waiting.delete(`${ns}/${runId}`);
      clearTimeout(w.timer);
      if (run.status === 'completed') w.resolve(run);
      else w.reject(new Error(`workflow run ${ns}/${runId} ended ${run.status}: ${run.error?.message ?? ''}`));
    }
    return run;
  }
}

const workflowOf = (steps: number) =>
  defineWorkflow(`bench-${steps}-step`, { version: '1' }, async (ctx, input: number) => {
    let sum = 0;
    for (let i = 0; i < steps; i++) sum += await ctx.step(`step-${i}`, () => i + input);
    return sum;
  });
const DEFINITIONS = [workflowOf(1), workflowOf(10)];

async function benchCase(backend: Backend, database: Database, workload: Workload, concurrency: number): Promise<AiosRow> {
  await migrate(database);
  const store = new ObservedRunStore({ database, clock: systemClock });
  const engine = new WorkflowEngine({ store, clock: systemClock, logger: createLogger({ level: 'warn' }), pollMs: POLL_MS, maxConcurrent: maxConcurrentFor(concurrency) });
  engine.register(...DEFINITIONS).start();
  const name = `bench-${stepsOf(workload)}-step`;
  const workflows = workflowsFor(workload, concurrency, quick);
  const prefix = randomName('wf-');
  // The client names each run, as the peers' clients do (DBOS workflowID, Restate's key): an idempotent start.
  const runOne = async (seq: number, input: number): Promise<number> => {
    const id = `${prefix}-${seq}`;
    const ended = store.whenEnded(NS, id);
    await engine.startRun(NS, name, input, { id });
    return (await ended).output as number;
  };
  try {
    return await measure('aios', backend, { workload, workflows, concurrency, warmup: warmupFor(workflows, concurrency) }, runOne);
  } finally {
    await engine.stop();
  }
}

/** Every case on one backend, each on a fresh store that `open` creates and `close` drops. */
async function benchBackend(backend: Backend, open: () => Promise<{ database: Database; drop(): Promise<void> }>): Promise<AiosRow[]> {
  const rows: AiosRow[] = [];
  for (const concurrency of CONCURRENCY) {
    for (const workload of WORKLOADS) {
      const { database, drop } = await open();
      try {
        const r = await benchCase(backend, database, workload, concurrency);
        rows.push(r);
        console.error(`  aios/${backend} ${workload} concurrency=${concurrency}: ${r.stepsPerSec} steps/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`);
      } finally {
        await database.close();
        await drop();
      }
    }
  }
  return rows;
}

noteLoad();
const aios: AiosRow[] = [];
const dir = mkdtempSync(join(tmpdir(), 'aios-bench-wf-'));
try {
  let n = 0;
  aios.push(
    ...(await benchBackend('sqlite', async () => {
      const file = join(dir, `wf-${n++}.db`);
      return { database: createDatabase({ sqliteFile: file }), drop: async () => rmSync(file, { force: true }) };
    })),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (await pgAvailable()) {
  aios.push(
    ...(await benchBackend('postgres', async () => {
      const schema = await freshPgSchema();
      return { database: createDatabase({ url: schema.url }), drop: () => schema.drop() };
    })),
  );
} else {
  for (const concurrency of CONCURRENCY) for (const workload of WORKLOADS) aios.push({ system: 'aios', backend: 'postgres', workload, concurrency, skipped: 'PostgreSQL unreachable at 127.0.0.1:5432' });
}

const peers: PeerRow[] = withPeers ? await runPeers({ quick, concurrency: CONCURRENCY }) : [];
const peerSteps = (system: PeerRow['system'], r: AiosRow) => {
  const p = peers.find((x) => x.system === system && x.workload === r.workload && x.concurrency === r.concurrency);
  return p && p.skipped === undefined ? p.stepsPerSec : undefined;
};
for (const r of aios) {
  if (r.stepsPerSec === undefined) continue;
  const dbos = peerSteps('dbos', r);
  const restate = peerSteps('restate', r);
  if (dbos) r.vsDbos = round(r.stepsPerSec / dbos);
  if (restate) r.vsRestate = round(r.stepsPerSec / restate);
}

summarize();
report('workflows', [...aios, ...peers].map((r) => ({ ...r })));

/** One line per backend on stderr: the best steps/s against its goal, and how often AIOS is ahead of each peer. */
function summarize(): void {
  const goals: Record<Backend, number> = { sqlite: 5000, postgres: 2000 };
  for (const backend of ['sqlite', 'postgres'] as const) {
    const rows = aios.filter((r) => r.backend === backend && r.stepsPerSec !== undefined);
    if (!rows.length) continue;
    const best = (w: Workload) => rows.filter((r) => r.workload === w).reduce((a, b) => (b.stepsPerSec! > a.stepsPerSec! ? b : a));
    const b10 = best('10-step');
    const b1 = best('1-step');
    const ahead = (k: 'vsDbos' | 'vsRestate') => {
      const compared = rows.filter((r) => r[k] !== undefined);
      return compared.length ? `${compared.filter((r) => r[k]! > 1).length}/${compared.length} cases` : 'not compared';
    };
    console.error(
      `goal aios/${backend}: best 10-step ${b10.stepsPerSec} steps/s at concurrency ${b10.concurrency} (goal >= ${goals[backend]}: ${b10.stepsPerSec! >= goals[backend] ? 'met' : 'NOT met'}); ` +
        `best 1-step ${b1.stepsPerSec} steps/s at concurrency ${b1.concurrency}; ahead of dbos in ${ahead('vsDbos')}, of restate in ${ahead('vsRestate')}`,
    );
  }
}
