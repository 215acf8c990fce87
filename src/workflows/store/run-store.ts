import type { Kysely } from 'kysely';
import type { Logger } from '../../core/index.ts';
import type { WorkflowTables } from './tables.ts';

export type RunStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled' | 'terminated';

/** Statuses a run never leaves: such a run is never claimed and takes no signal. */
export const TERMINAL_STATUSES: readonly RunStatus[] = Object.freeze(['completed', 'failed', 'cancelled', 'terminated']);

/** @example if (isTerminal(run.status)) return run.output; */
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** How a failure is stored: plain JSON, so it survives a restart and reads the same everywhere. */
export interface RunError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly retryable?: boolean;
}

export interface RunRef {
  readonly ns: string;
  readonly id: string;
}

export interface WorkflowRun {
  readonly ns: string;
  readonly id: string;
  readonly name: string;
  /** The definition version the run is pinned to. */
  readonly version: string;
  readonly status: RunStatus;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: RunError;
  /** Live state set by the workflow, for queries from outside. */
  readonly state?: unknown;
  readonly parent?: RunRef;
  readonly lineageId: string;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly completedAt?: number;
  /** Earliest time a released run must be looked at again (a timer, a signal, a cancel). */
  readonly wakeAt?: number;
  /** The worker holding the run, if any. */
  readonly owner?: string;
  /** The lease's fencing token: bumped at each claim; every write by a worker names it. */
  readonly epoch: number;
  readonly cancelRequested: boolean;
}

export interface CreateRunInput {
  readonly ns: string;
  /** The idempotency key; a UUIDv7 when absent. */
  readonly id?: string;
  readonly name: string;
  readonly version: string;
  readonly input?: unknown;
  readonly parent?: RunRef;
  /** A new lineage id is minted when absent. */
  readonly lineageId?: string;
  readonly createdBy: string;
}

export interface ClaimOptions {
  /** Defaults to the store's clock. */
  readonly now?: number;
  /** A run whose owner has not heartbeaten (nor written to the run) for this long is recoverable. */
  readonly leaseMs: number;
  readonly limit: number;
}

export type JournalStatus = 'ok' | 'error';

/** One recorded non-deterministic operation, at position `seq` of its run. */
export interface JournalEntryInput {
  readonly seq: number;
  /** What was journaled: 'step', 'sleep', 'signal', 'now'... the engine decides. */
  readonly kind: string;
  readonly name: string;
  readonly status: JournalStatus;
  readonly result?: unknown;
  readonly error?: RunError;
}

export interface JournalEntry extends JournalEntryInput {
  readonly createdAt: number;
}

/** For an outside change to a run: `also(trx, run)` runs inside its transaction, with the run as changed. */
export interface ChangeOptions {
  readonly also?: (trx: Kysely<WorkflowTables>, run: WorkflowRun) => Promise<void>;
}

export interface AppendJournalOptions {
  /**
   * Runs inside the append's transaction, after the fence check and the insert: a step's events,
   * audit record and lineage node commit with its journal entry or not at all. Use `trx` for
   * every statement (on SQLite the database has one connection, which the transaction holds).
   * Skipped when every entry was already stored: that earlier transaction committed its own.
   */
  readonly also?: (trx: Kysely<WorkflowTables>) => Promise<void>;
}

/** A fenced change to a run. Absent fields are left as they are. */
export interface RunPatch {
  readonly status?: RunStatus;
  readonly output?: unknown;
  readonly error?: RunError | null;
  readonly state?: unknown;
  readonly wakeAt?: number | null;
  /** `null` releases the run: any worker may claim it when it is due. */
  readonly owner?: null;
  /**
   * When releasing a waiting run: the signal names it waits for. If one is already stored and
   * not consumed (it arrived while this worker held the run), `wakeAt` becomes now, so the
   * signal is not missed. A cancel request does the same.
   */
  readonly wakeOnSignals?: readonly string[];
  /**
   * Whether a requested cancel makes a released waiting run due at once (default true). A worker
   * releasing a run it has no code for passes false, so a cancel cannot make it bounce between
   * claim and release: the run waits for its wake time and a worker that has the code.
   */
  readonly wakeOnCancel?: boolean;
}

export interface Signal {
  readonly seq: number;
  readonly name: string;
  readonly payload?: unknown;
  readonly createdAt: number;
  /** The journal seq of the wait that took it. */
  readonly consumedBy?: number;
}

export interface ListRunsOptions {
  readonly name?: string;
  readonly status?: RunStatus;
  /** created_at >= from (epoch ms). */
  readonly from?: number;
  /** created_at < to (epoch ms). */
  readonly to?: number;
  /** The `next` cursor of the previous page. */
  readonly after?: string;
  readonly limit: number;
}

export interface RunPage {
  readonly runs: readonly WorkflowRun[];
  /** Present when there may be more: pass it as `after`. */
  readonly next?: string;
}

/**
 * Where workflow runs, their journals and signals are kept. Every write by a worker names the
 * run's `epoch` from its claim and fails with `AIOS_WF_LEASE_LOST` once another worker has
 * claimed the run since.
 *
 * @example
 * const { run } = await store.createRun({ ns: 'default', name: 'inspect', version: '1', input: { asset: 'T-7' }, createdBy: 'user:ana' });
 * const [claimed] = await store.claim('worker-1', { leaseMs: 30_000, limit: 10 });
 * await store.appendJournal(claimed.ns, claimed.id, claimed.epoch, [{ seq: 1, kind: 'step', name: 'read', status: 'ok', result: 42 }]);
 * await store.update(claimed.ns, claimed.id, claimed.epoch, { status: 'completed', output: 42 });
 */
export interface RunStore {
  /**
   * Idempotent by (ns, id): an existing id returns the stored run with `created: false`.
   * `opts.also` (here and on every outside change below) runs in the change's transaction, and
   * only when something changed: not for an existing id, nor for a finished run left as it is.
   */
  createRun(input: CreateRunInput, opts?: ChangeOptions): Promise<{ run: WorkflowRun; created: boolean }>;
  getRun(ns: string, id: string): Promise<WorkflowRun | undefined>;
  listRuns(ns: string, opts: ListRunsOptions): Promise<RunPage>;
  /**
   * Takes up to `limit` runnable runs for `workerId` (heartbeating it first): pending runs,
   * released runs that are due, and runs whose owner's lease expired. Each comes back with
   * status 'running' and its new `epoch`. Never hands one run to two claimers at once.
   */
  claim(workerId: string, opts: ClaimOptions): Promise<WorkflowRun[]>;
  heartbeat(workerId: string, now?: number): Promise<void>;
  /** Removes the worker's heartbeat row and releases its runs for others to claim now. */
  removeWorker(workerId: string): Promise<void>;
  /** The run's journal in seq order. */
  journal(ns: string, runId: string): Promise<JournalEntry[]>;
  /**
   * Throws what a write of `value` would (AIOS_WF_PAYLOAD_TOO_LARGE, or AIOS_VALIDATION for a
   * value JSON cannot hold or one with a NUL character), without writing. The engine asks before
   * it journals a step's result or a run's output, so that such a value fails the step or the run
   * instead of failing every write of the run, replay after replay.
   */
  checkPayload(value: unknown, what: string): void;
  /** Records entries, keeping what is already stored at a seq; returns the entries as stored. */
  appendJournal(ns: string, runId: string, epoch: number, entries: readonly JournalEntryInput[], opts?: AppendJournalOptions): Promise<JournalEntry[]>;
  /** `opts.also` runs inside the update's transaction, after it (as in `appendJournal`). */
  update(ns: string, runId: string, epoch: number, patch: RunPatch, opts?: AppendJournalOptions): Promise<WorkflowRun>;
  /** Stores a signal for the run, whether or not a wait is active, and wakes a released waiting run. */
  signal(ns: string, runId: string, name: string, payload?: unknown, opts?: ChangeOptions): Promise<{ seq: number }>;
  /** The earliest unconsumed signal of that name, marked as taken by the wait at `journalSeq`. */
  takeSignal(ns: string, runId: string, epoch: number, name: string, journalSeq: number): Promise<Signal | undefined>;
  requestCancel(ns: string, runId: string, opts?: ChangeOptions): Promise<WorkflowRun>;
  /**
   * Ends an unfinished run at once, whoever holds it: status 'terminated', `error` recorded, the
   * owner cleared and the epoch bumped, so the holder's next fenced write fails with
   * AIOS_WF_LEASE_LOST. A finished run is returned as it is. Not fenced: an operator's action.
   */
  terminate(ns: string, runId: string, error: RunError, opts?: ChangeOptions): Promise<WorkflowRun>;
  /**
   * Makes a failed run runnable again from its last failed step (or child start): that entry and
   * any after it leave the journal, signals their waits took are handed back, and the run is
   * 'pending' again, error cleared, epoch bumped. Without a failed step the whole journal stays
   * and is replayed. `fromSeq` is the position execution resumes at (null: the journal was kept).
   * AIOS_CONFLICT unless the run is 'failed'. Not fenced: an operator's action.
   */
  retry(ns: string, runId: string, opts?: ChangeOptions): Promise<{ run: WorkflowRun; fromSeq: number | null }>;
  /**
   * Wake-ups from other processes, where the backend has them (PostgreSQL LISTEN/NOTIFY):
   * `onWake({ ns, id, signal? })` for a run that became runnable or got a signal (an empty id:
   * look for work). Returns the function that stops listening, or undefined without support.
   */
  listen?(logger: Logger, onWake: (wake: { ns: string; id: string; signal?: string }) => void): (() => Promise<void>) | undefined;
}
