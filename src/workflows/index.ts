/**
 * Durable workflows. For now the run store the engine is built on: runs, their journals,
 * signals and worker leases, on SQLite or PostgreSQL.
 *
 * @example
 * import { SqlRunStore } from './workflows/index.ts';
 * const store = new SqlRunStore({ database, clock });
 * const runs = await store.claim('worker-1', { leaseMs: 30_000, limit: 10 });
 */
export { SqlRunStore } from './store/sql-run-store.ts';
export type { SqlRunStoreOptions } from './store/sql-run-store.ts';
export { DEFAULT_MAX_PAYLOAD_BYTES } from './store/payload.ts';
export { TERMINAL_STATUSES, isTerminal } from './store/run-store.ts';
export type {
  AppendJournalOptions,
  ClaimOptions,
  CreateRunInput,
  JournalEntry,
  JournalEntryInput,
  JournalStatus,
  ListRunsOptions,
  RunError,
  RunPage,
  RunPatch,
  RunRef,
  RunStatus,
  RunStore,
  Signal,
  WorkflowRun,
} from './store/run-store.ts';
