/**
 * DBOS Transact (TypeScript SDK) on PostgreSQL, running the shared workload in this process.
 *
 * DBOS keeps its state in a "system database"; here that is a fresh schema (`dbos_bench_<hex>`,
 * DBOS's `systemDatabaseSchemaName`) in the database of `pgUrl`, created by DBOS.launch() and
 * dropped afterwards. The system-database pool keeps DBOS's default (10 connections): on this 2-vCPU
 * machine a pool sized to the concurrency (68 at 64 in flight) was slower (about 680 against 1,100
 * steps/s on 10-step workflows), the extra backends only contending for the CPUs.
 * DBOS is a process-wide singleton (the static `DBOS` class), so runs must not
 * overlap; each run registers the workflow, launches, measures, then shuts down with `deregister`.
 */
import pg from 'pg';
import { PG_BASE_URL, randomName } from '../../test/support/services.ts';
import { importPeer, PeerUnavailableError } from './ensure.ts';
import { measure, stepsOf, type PeerOptions, type PeerResult } from './workload.ts';

/** The part of `@dbos-inc/dbos-sdk` 5.x used here (typed locally: see importPeer). */
interface DbosModule {
  DBOS: {
    setConfig(config: {
      name: string;
      systemDatabaseUrl: string;
      systemDatabaseSchemaName: string;
      systemDatabasePoolSize?: number;
      logLevel?: string;
    }): void;
    isInitialized(): boolean;
    launch(): Promise<void>;
    shutdown(options?: { deregister?: boolean }): Promise<void>;
    registerWorkflow<A extends unknown[], R>(fn: (...args: A) => Promise<R>, config: { name: string }): (...args: A) => Promise<R>;
    runStep<R>(fn: () => Promise<R>, config?: { name?: string }): Promise<R>;
    startWorkflow<A extends unknown[], R>(target: (...args: A) => Promise<R>, params?: { workflowID?: string }): (...args: A) => Promise<{ getResult(): Promise<R> }>;
  };
}

async function dropSchema(url: string, schema: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await c.end();
  }
}

export async function runPeer(opts: PeerOptions): Promise<PeerResult> {
  const { DBOS } = await importPeer<DbosModule>('@dbos-inc/dbos-sdk');
  if (DBOS.isInitialized()) throw new Error('dbos: DBOS is already launched in this process; peer runs must not overlap');
  const url = opts.pgUrl ?? PG_BASE_URL;
  const schema = randomName('dbos_bench_');
  const steps = stepsOf(opts.workload);

  const benchWorkflow = DBOS.registerWorkflow(
    async (n: number, input: number) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += await DBOS.runStep(async () => i + input, { name: `step-${i}` });
      return sum;
    },
    { name: 'benchWorkflow' },
  );
  DBOS.setConfig({ name: 'aios-bench', systemDatabaseUrl: url, systemDatabaseSchemaName: schema, logLevel: 'error' });
  try {
    await DBOS.launch();
  } catch (err) {
    await DBOS.shutdown({ deregister: true }).catch(() => {});
    await dropSchema(url, schema).catch(() => {});
    throw new PeerUnavailableError('dbos', `DBOS.launch() failed against ${url.replace(/\/\/[^@/]*@/, '//…@')}: ${(err as Error).message}`, { cause: err });
  }
  const prefix = randomName('wf-');
  try {
    return await measure('dbos', 'postgres', opts, async (seq, input) => {
      const handle = await DBOS.startWorkflow(benchWorkflow, { workflowID: `${prefix}-${seq}` })(steps, input);
      return handle.getResult();
    });
  } finally {
    await DBOS.shutdown({ deregister: true });
    await dropSchema(url, schema);
  }
}
