/**
 * npm run bench -- workflows-governed [--quick]
 *
 * What the audit trail and lineage cost a workflow: 10-step workflows, 64 in flight, run by the
 * engine inside createAios (every run's start and end audited, a lineage node per step, each in
 * the transaction of what it records) and by a bare WorkflowEngine on a SqlRunStore (what
 * `npm run bench -- workflows` measures), on SQLite and PostgreSQL, in one process. The client
 * learns of each end by polling `getRun` every 10 ms (the same for both, so the ratio is fair;
 * the absolute figures are below those of `workflows`, which observes ends without queries).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAios } from '../src/index.ts';
import { createLogger, systemClock } from '../src/core/index.ts';
import { createDatabase } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { SqlRunStore, WorkflowEngine, defineWorkflow } from '../src/workflows/index.ts';
import { freshPgSchema, pgAvailable } from '../test/support/services.ts';
import { report, round } from './_report.ts';

const quick = process.argv.includes('--quick');
const N = quick ? 300 : 1000;
const CONCURRENCY = 64;
const STEPS = 10;
const logger = createLogger({ level: 'warn' });
const ten = defineWorkflow('ten', { version: '1' }, async (ctx) => {
  let sum = 0;
  for (let i = 0; i < STEPS; i++) sum += await ctx.step(`s${i}`, () => i);
  return sum;
});

async function drive(engine: WorkflowEngine): Promise<number> {
  let next = 0;
  const lane = async () => {
    while (next < N) {
      const id = `r${next++}`;
      await engine.startRun('default', 'ten', {}, { id });
      for (;;) {
        const r = await engine.getRun('default', id);
        if (r?.status === 'completed') break;
        if (r?.status === 'failed') throw new Error(`run ${id} failed: ${r.error?.message}`);
        await new Promise((res) => setTimeout(res, 10));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return (N * STEPS) / ((performance.now() - t0) / 1000);
}

async function governed(databaseUrl: string | undefined): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aios-bench-gov-'));
  const aios = await createAios({ config: { dataDir, ...(databaseUrl ? { databaseUrl } : {}), workflowConcurrency: 2 * CONCURRENCY, scheduler: 0, retentionIntervalMs: 0 }, logger, env: {} });
  try {
    aios.register(ten);
    await aios.start();
    return await drive(aios.workflows);
  } finally {
    await aios.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function bare(databaseUrl: string | undefined): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'aios-bench-bare-'));
  const database = databaseUrl ? createDatabase({ url: databaseUrl }) : createDatabase({ sqliteFile: join(dir, 'aios.db') });
  const engine = new WorkflowEngine({ store: new SqlRunStore({ database }), clock: systemClock, logger, maxConcurrent: 2 * CONCURRENCY, pollMs: 20 }).register(ten);
  try {
    await migrate(database);
    engine.start();
    return await drive(engine);
  } finally {
    await engine.stop();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Record<string, unknown>[] = [];
for (const backend of ['sqlite', 'postgres'] as const) {
  if (backend === 'postgres' && !(await pgAvailable())) {
    results.push({ backend, skipped: 'PostgreSQL unreachable' });
    continue;
  }
  const fresh = async (run: (url: string | undefined) => Promise<number>) => {
    if (backend === 'sqlite') return run(undefined);
    const schema = await freshPgSchema();
    try {
      return await run(schema.url);
    } finally {
      await schema.drop();
    }
  };
  const plain = await fresh(bare);
  const withGovernance = await fresh(governed);
  results.push({ backend, workload: '10-step', concurrency: CONCURRENCY, workflows: N, bareStepsPerSec: Math.round(plain), governedStepsPerSec: Math.round(withGovernance), governedVsBare: round(withGovernance / plain) });
}
report('workflows-governed', results);
