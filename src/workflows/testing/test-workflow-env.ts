import type { Kysely } from 'kysely';
import { ManualClock, createLogger, type Logger } from '../../core/index.ts';
import { createDatabase, migrate, type Database } from '../../storage/index.ts';
import { EVENTS_MIGRATIONS } from '../../events/index.ts';
import { GOVERNANCE_MIGRATIONS } from '../../governance/index.ts';
import { WorkflowEngine, type WorkflowDefinition } from '../engine/index.ts';
import { WORKFLOWS_MIGRATIONS } from '../migrations/index.ts';
import { SqlRunStore } from '../store/sql-run-store.ts';
import type { WorkflowTables } from '../store/tables.ts';

export interface TestWorkflowEnvOptions {
  /** A database to use (migrated here); an in-memory SQLite database when absent. */
  readonly database?: Database;
  /** Where the virtual clock starts. Default 2026-01-01T00:00:00Z. */
  readonly start?: number;
  readonly workflows?: readonly WorkflowDefinition[];
  readonly holdMs?: number;
  readonly logger?: Logger;
}

export interface TestWorkflowEnv {
  readonly engine: WorkflowEngine;
  readonly clock: ManualClock;
  readonly database: Database;
  /**
   * Moves virtual time forward by `ms`, stopping at every timer and every released run's wake
   * time on the way, and runs what becomes due at each, so a 30-day sleep takes milliseconds.
   */
  advance(ms: number): Promise<void>;
  /** Runs everything runnable now until each run is finished or waits for time or a signal. */
  runUntilIdle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A workflow engine on a virtual clock and a migrated SQLite database, for tests of workflows.
 * The engine's worker loop is not started: `runUntilIdle` and `advance` drive it.
 *
 * @example
 * const env = await createTestWorkflowEnv({ workflows: [renewal] });
 * const run = await env.engine.startRun('default', 'renewal', { contract: 'C-1' });
 * await env.runUntilIdle();
 * await env.advance(30 * 24 * 3600_000);
 * expect((await env.engine.getRun('default', run.id))?.status).toBe('completed');
 * await env.close();
 */
export async function createTestWorkflowEnv(opts: TestWorkflowEnvOptions = {}): Promise<TestWorkflowEnv> {
  const database = opts.database ?? createDatabase({ sqliteFile: ':memory:' });
  // The workflows' tables and those of the capabilities they use: today, every migration there is.
  await migrate(database, [...EVENTS_MIGRATIONS, ...GOVERNANCE_MIGRATIONS, ...WORKFLOWS_MIGRATIONS].sort((a, b) => a.version - b.version));
  const clock = new ManualClock(opts.start);
  const store = new SqlRunStore({ database, clock });
  const engine = new WorkflowEngine({ store, clock, logger: opts.logger ?? createLogger({ level: 'silent' }), workerId: 'test-worker', ...(opts.holdMs !== undefined ? { holdMs: opts.holdMs } : {}) });
  if (opts.workflows) engine.register(...opts.workflows);

  const nextReleasedWake = async (): Promise<number | undefined> => {
    const row = await (database.db as Kysely<WorkflowTables>)
      .selectFrom('aios_wf_runs')
      .select((eb) => eb.fn.min('wake_at').as('w'))
      .where('status', '=', 'waiting')
      .where('owner', 'is', null)
      .executeTakeFirst();
    return row?.w === null || row?.w === undefined ? undefined : Number(row.w);
  };

  const runUntilIdle = (): Promise<void> => engine.drain();

  return {
    engine,
    clock,
    database,
    runUntilIdle,
    async advance(ms: number): Promise<void> {
      const target = clock.now() + ms;
      await runUntilIdle();
      for (;;) {
        const candidates = [clock.nextTimerAt(), await nextReleasedWake()].filter((t): t is number => t !== undefined && t > clock.now() && t <= target);
        if (!candidates.length) break;
        clock.set(Math.min(...candidates));
        await runUntilIdle();
      }
      clock.set(target);
      await runUntilIdle();
    },
    async close(): Promise<void> {
      await engine.stop();
      if (!opts.database) await database.close();
    },
  };
}
