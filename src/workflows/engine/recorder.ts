import type { Kysely } from 'kysely';
import type { WorkflowTables } from '../store/tables.ts';
import type { JournalEntryInput, RunError, RunStatus, WorkflowRun } from '../store/run-store.ts';

/** A change to a run made from outside it (an API call, a schedule, the library). */
export interface RunChange {
  readonly kind: 'started' | 'signalled' | 'cancel_requested' | 'terminated' | 'retried';
  /** Who made it, e.g. `user:ana`, `schedule:nightly`, `workflow:<parent run id>`. */
  readonly by: string;
  readonly detail?: Record<string, unknown>;
}

/**
 * Where the engine reports what runs do, for the audit trail and lineage. The engine stays free
 * of governance; the runtime supplies an implementation (src/runtime/workflow-recorder.ts).
 * The in-transaction methods write with `trx`, so their records commit with the journal entry
 * or the run's end, or not at all.
 */
export interface RunRecorder {
  /** Inside the transaction that journals these step results (kind 'step' only). */
  stepsCommitted(trx: Kysely<WorkflowTables>, run: WorkflowRun, steps: readonly JournalEntryInput[]): Promise<void>;
  /** Inside the transaction that records the run's end. */
  runEnded(trx: Kysely<WorkflowTables>, run: WorkflowRun, end: { readonly status: RunStatus; readonly error?: RunError }): Promise<void>;
  /** Inside the transaction of an outside change to the run, with the run as changed. */
  runChanged(trx: Kysely<WorkflowTables>, run: WorkflowRun, change: RunChange): Promise<void>;
}
