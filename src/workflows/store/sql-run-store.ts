import { sql, type Kysely } from 'kysely';
import { AiosError, checkIdentifier, systemClock, uuidv7, type Clock, type IdGenerator, type Logger } from '../../core/index.ts';
import { translateDbError, type Database, type DialectFlags } from '../../storage/index.ts';
import type { RunUpdate, WorkflowTables } from './tables.ts';
import { appendJournal, fenceAndInsertMany, ROWS_PER_INSERT, type AppendSpec, type FenceOutcome } from './append-journal.ts';
import { claimRuns } from './claim-runs.ts';
import { createRun } from './create-run.ts';
import { listRuns } from './list-runs.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, encodePayload } from './payload.ts';
import { journalColumns, runColumns, toEntry, toRun, toSignal, type JournalRow, type RunRow } from './run-rows.ts';
import {
  isTerminal,
  type AppendJournalOptions,
  type ChangeOptions,
  type ClaimOptions,
  type CreateRunInput,
  type JournalEntry,
  type JournalEntryInput,
  type ListRunsOptions,
  type RunPage,
  type RunError,
  type RunPatch,
  type RunStatus,
  type RunStore,
  type Signal,
  type WorkflowRun,
} from './run-store.ts';
import { sendSignal } from './send-signal.ts';
import { retryRun } from './retry-run.ts';
import { takeSignal } from './take-signal.ts';
import { updateRun } from './update-run.ts';
import { notifyWake, WakeListener, type Wake } from './wake-ups.ts';
import { WriteBatcher, type Merger } from './write-batcher.ts';

export interface SqlRunStoreOptions {
  readonly database: Database;
  readonly clock?: Clock;
  /** Largest input, result, error, state, output or signal payload, in bytes of UTF-8 JSON. Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  readonly newId?: IdGenerator;
  /** Transactions of fenced writes open at once on PostgreSQL (each holds a pooled connection). Default 2: with a batch's appends merged into one statement, bigger batches beat more parallel ones (measured on 2 cores); SQLite always 1. */
  readonly writeLanes?: number;
}

const STATUSES: readonly RunStatus[] = ['pending', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'terminated'];

/**
 * The run store in SQL tables, on SQLite or PostgreSQL (migration 0007).
 *
 * @example
 * const store = new SqlRunStore({ database, clock });
 * const { run } = await store.createRun({ ns: 'default', id: 'order-17', name: 'ship', version: '3', input: { order: 17 }, createdBy: 'api' });
 * await store.signal('default', 'order-17', 'approved', { by: 'ana' });
 */
export class SqlRunStore implements RunStore {
  readonly #database: Database;
  readonly #db: Kysely<WorkflowTables>;
  readonly #flags: DialectFlags;
  readonly #clock: Clock;
  readonly #limit: number;
  readonly #newId: IdGenerator;
  /** When this store last heartbeated each worker (claim skips a heartbeat younger than a quarter lease). */
  readonly #beats = new Map<string, number>();
  #lookPending = false;
  /** Marks this store's wake-up hints, so its own listener skips them (its engine woke in memory). */
  readonly #origin = uuidv7();
  /** Journal appends, run updates and signal takes of all runs share commits. */
  readonly #writes: WriteBatcher;

  constructor(opts: SqlRunStoreOptions) {
    this.#database = opts.database;
    this.#db = opts.database.db as Kysely<WorkflowTables>;
    this.#flags = opts.database.flags;
    this.#clock = opts.clock ?? systemClock;
    this.#limit = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.#newId = opts.newId ?? uuidv7;
    // With data-modifying CTEs (PostgreSQL) the fences and inserts of a batch's journal appends are one statement.
    const mergers: Record<string, Merger> = this.#flags.writableCtes ? { append: (trx, specs) => fenceAndInsertMany(trx, specs as AppendSpec[]) } : {};
    this.#writes = new WriteBatcher(this.#db, this.#flags.concurrentWriters ? (opts.writeLanes ?? 2) : 1, mergers);
  }

  async createRun(input: CreateRunInput, opts: ChangeOptions = {}): Promise<{ run: WorkflowRun; created: boolean }> {
    requireText(input.ns, 'ns');
    for (const field of ['name', 'version', 'createdBy'] as const) requireText(input[field], field, TEXT_LIMITS[field]);
    if (input.id !== undefined) requireText(input.id, 'id', TEXT_LIMITS.id);
    const id = input.id ?? this.#newId();
    const now = this.#clock.now();
    const row: RunRow = {
      ns: input.ns,
      id,
      name: input.name,
      version: input.version,
      status: 'pending',
      input: encodePayload(input.input, this.#limit, `the input of workflow run ${input.ns}/${id}`),
      output: null,
      error: null,
      state: null,
      parent_ns: input.parent?.ns ?? null,
      parent_id: input.parent?.id ?? null,
      lineage_id: input.lineageId ?? this.#newId(),
      created_by: input.createdBy,
      created_at: now,
      updated_at: now,
      completed_at: null,
      wake_at: null,
      owner: null,
      epoch: 0,
      cancel_requested: 0,
    };
    const r = await this.#guard(() => createRun(this.#db, this.#flags, row, withRun(opts)));
    if (r.created) await this.#notify({ ns: input.ns, id });
    return { run: toRun(r.row), created: r.created };
  }

  async getRun(ns: string, id: string): Promise<WorkflowRun | undefined> {
    const row = await this.#guard(() => this.#db.selectFrom('aios_wf_runs').select(runColumns(this.#flags)).where('ns', '=', ns).where('id', '=', id).executeTakeFirst());
    return row ? toRun(row as RunRow) : undefined;
  }

  async listRuns(ns: string, opts: ListRunsOptions): Promise<RunPage> {
    if (opts.status !== undefined && !STATUSES.includes(opts.status)) throw new AiosError('AIOS_BAD_REQUEST', `unknown run status "${opts.status}"; use one of ${STATUSES.join(', ')}`);
    const page = await this.#guard(() => listRuns(this.#db, this.#flags, ns, opts));
    return { runs: page.rows.map(toRun), ...(page.next ? { next: page.next } : {}) };
  }

  async claim(workerId: string, opts: ClaimOptions): Promise<WorkflowRun[]> {
    requireText(workerId, 'workerId');
    const now = opts.now ?? this.#clock.now();
    // Committed before the claim, so other claimers see this worker alive once it owns runs. A
    // heartbeat younger than a quarter of the lease already shows that: a busy worker claims many
    // times a second, and each heartbeat is a commit.
    const last = this.#beats.get(workerId);
    if (last === undefined || now < last || now - last >= opts.leaseMs / 4) await this.heartbeat(workerId, now);
    const rows = await this.#guard(() => claimRuns(this.#db, this.#flags, workerId, now, opts.leaseMs, opts.limit));
    return rows.map(toRun).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async heartbeat(workerId: string, now = this.#clock.now()): Promise<void> {
    this.#beats.delete(workerId);
    await this.#guard(() =>
      this.#db
        .insertInto('aios_wf_workers')
        .values({ id: workerId, started_at: now, heartbeat_at: now })
        .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: now }))
        .execute(),
    );
    this.#beats.set(workerId, now);
  }

  async removeWorker(workerId: string): Promise<void> {
    this.#beats.delete(workerId);
    const now = this.#clock.now();
    await this.#guard(() =>
      this.#db.transaction().execute(async (trx) => {
        // A waiting run's timer or signal was this worker's to watch: wake it so a new owner looks.
        await trx
          .updateTable('aios_wf_runs')
          .set({ owner: null, wake_at: sql`case when status = 'waiting' then ${now} else wake_at end` })
          .where('owner', '=', workerId)
          .execute();
        await trx.deleteFrom('aios_wf_workers').where('id', '=', workerId).execute();
      }),
    );
    await this.#notify({ ns: '', id: '' });
  }

  /**
   * Wake-ups from other processes (PostgreSQL LISTEN/NOTIFY): `onWake` is called for each run
   * that became runnable or got a signal; an empty id means "look for work". Undefined on
   * SQLite. Resolves to a function that stops listening.
   */
  listen(logger: Logger, onWake: (w: Wake) => void): (() => Promise<void>) | undefined {
    if (!this.#flags.listenNotify) return undefined;
    const listener = new WakeListener(this.#database, logger, onWake, this.#origin);
    void listener.start();
    return () => listener.close();
  }

  /**
   * A wake-up hint after a change committed; a failed hint is only a lost shortcut. Hints that
   * only say "look for work" (new runs, a leaving worker) are coalesced: one per few ms at most,
   * sent without waiting, so a burst of starts costs one NOTIFY.
   */
  async #notify(wake: Wake): Promise<void> {
    if (!this.#flags.listenNotify) return;
    if (wake.id === '' || wake.signal === undefined) {
      if (this.#lookPending) return;
      this.#lookPending = true;
      setTimeout(() => {
        this.#lookPending = false;
        void notifyWake(this.#db, { ns: '', id: '' }, this.#origin).catch(() => undefined);
      }, 2).unref();
      return;
    }
    await notifyWake(this.#db, wake, this.#origin).catch(() => undefined);
  }

  async journal(ns: string, runId: string): Promise<JournalEntry[]> {
    const rows = await this.#guard(() =>
      this.#db.selectFrom('aios_wf_journal').select(journalColumns(this.#flags)).where('ns', '=', ns).where('run_id', '=', runId).orderBy('seq').execute(),
    );
    return (rows as JournalRow[]).map(toEntry);
  }

  checkPayload(value: unknown, what: string): void {
    encodePayload(value, this.#limit, what);
  }

  async appendJournal(ns: string, runId: string, epoch: number, entries: readonly JournalEntryInput[], opts: AppendJournalOptions = {}): Promise<JournalEntry[]> {
    const now = this.#clock.now();
    const rows = entries.map((e): JournalRow => {
      if (!Number.isSafeInteger(e.seq) || e.seq < 0) throw new AiosError('AIOS_BAD_REQUEST', `journal seq must be a non-negative integer, got ${e.seq}`);
      if (e.status !== 'ok' && e.status !== 'error') throw new AiosError('AIOS_BAD_REQUEST', `journal status must be "ok" or "error", got "${e.status}"`);
      const what = `the ${e.kind} "${e.name}" at seq ${e.seq} of workflow run ${ns}/${runId}`;
      return {
        ns,
        run_id: runId,
        seq: e.seq,
        kind: e.kind,
        name: e.name,
        status: e.status,
        result: encodePayload(e.result, this.#limit, `the result of ${what}`),
        error: encodePayload(e.error, this.#limit, `the error of ${what}`),
        created_at: now,
      };
    });
    const spec: AppendSpec = { rows, fenced: { ns, runId, epoch, now } };
    const stored = await this.#guard(() =>
      this.#writes.run(`${ns}\u0000${runId}`, (trx, pre) => appendJournal(trx, this.#flags, spec, opts.also, pre as FenceOutcome | undefined), {
        merge: { group: 'append', data: spec },
        // A plain append is then one statement (the merged fence and insert), atomic by itself.
        autocommit: this.#flags.writableCtes && this.#flags.roundTrips && !opts.also && rows.length <= ROWS_PER_INSERT,
      }),
    );
    return stored.map(toEntry);
  }

  async update(ns: string, runId: string, epoch: number, patch: RunPatch, opts: AppendJournalOptions = {}): Promise<WorkflowRun> {
    const now = this.#clock.now();
    const what = `workflow run ${ns}/${runId}`;
    const set: RunUpdate = {};
    if (patch.status !== undefined) {
      if (!STATUSES.includes(patch.status)) throw new AiosError('AIOS_BAD_REQUEST', `unknown run status "${patch.status}"; use one of ${STATUSES.join(', ')}`);
      set.status = patch.status;
      if (isTerminal(patch.status)) Object.assign(set, { completed_at: now, wake_at: null });
    }
    if (patch.output !== undefined) set.output = encodePayload(patch.output, this.#limit, `the output of ${what}`);
    if (patch.error !== undefined) set.error = patch.error === null ? null : encodePayload(patch.error, this.#limit, `the error of ${what}`);
    if (patch.state !== undefined) set.state = encodePayload(patch.state, this.#limit, `the state of ${what}`);
    if (patch.wakeAt !== undefined && set.wake_at === undefined) set.wake_at = patch.wakeAt;
    if (patch.owner === null) set.owner = null;
    const single = this.#flags.roundTrips && !opts.also && set.owner !== null; // a release may take a second statement
    const row = await this.#guard(() =>
      this.#writes.run(`${ns}\u0000${runId}`, (trx) => updateRun(trx, this.#flags, { ns, runId, epoch, now }, set, patch.wakeOnSignals ?? [], patch.wakeOnCancel ?? true, opts.also), { autocommit: single }),
    );
    return toRun(row);
  }

  async signal(ns: string, runId: string, name: string, payload?: unknown, opts: ChangeOptions = {}): Promise<{ seq: number }> {
    requireText(name, 'name', TEXT_LIMITS.signal);
    const text = encodePayload(payload, this.#limit, `the payload of signal "${name}" to workflow run ${ns}/${runId}`);
    return this.#guard(() => sendSignal(this.#db, this.#flags, { ns, runId, name, payload: text }, this.#clock.now(), withRun(opts)));
  }

  async takeSignal(ns: string, runId: string, epoch: number, name: string, journalSeq: number): Promise<Signal | undefined> {
    const row = await this.#guard(() => this.#writes.run(`${ns}\u0000${runId}`, (trx) => takeSignal(trx, this.#flags, { ns, runId, epoch, now: this.#clock.now() }, name, journalSeq)));
    return row ? toSignal(row) : undefined;
  }

  async requestCancel(ns: string, runId: string, opts: ChangeOptions = {}): Promise<WorkflowRun> {
    const now = this.#clock.now();
    // A released waiting run is woken to act on it.
    const run = await this.#updateUnfinished(ns, runId, { cancel_requested: 1, wake_at: sql`case when status = 'waiting' and owner is null then ${now} else wake_at end` }, opts);
    await this.#notify({ ns, id: runId });
    return run;
  }

  async terminate(ns: string, runId: string, error: RunError, opts: ChangeOptions = {}): Promise<WorkflowRun> {
    const now = this.#clock.now();
    const text = encodePayload(error, this.#limit, `the error of workflow run ${ns}/${runId}`);
    // The epoch bump fences out the holder, if any.
    return this.#updateUnfinished(ns, runId, { status: 'terminated', error: text, owner: null, wake_at: null, completed_at: now, updated_at: now, cancel_requested: 1, epoch: sql`epoch + 1` }, opts);
  }

  async retry(ns: string, runId: string, opts: ChangeOptions = {}): Promise<{ run: WorkflowRun; fromSeq: number | null }> {
    const { row, fromSeq } = await this.#guard(() => retryRun(this.#db, this.#flags, ns, runId, this.#clock.now(), withRun(opts)));
    await this.#notify({ ns, id: runId });
    return { run: toRun(row), fromSeq };
  }

  /** One unfenced statement on a run that has not finished; a finished run is returned as it is. */
  async #updateUnfinished(ns: string, runId: string, set: RunUpdate, opts: ChangeOptions): Promise<WorkflowRun> {
    const apply = async (db: Kysely<WorkflowTables>) => {
      const changed = (await db
        .updateTable('aios_wf_runs')
        .set(set)
        .where('ns', '=', ns)
        .where('id', '=', runId)
        .where('status', 'in', ['pending', 'running', 'waiting'])
        .returning(runColumns(this.#flags))
        .executeTakeFirst()) as RunRow | undefined;
      if (changed && opts.also) await opts.also(db, toRun(changed));
      return changed;
    };
    const row = await this.#guard(() => (opts.also ? this.#db.transaction().execute(apply) : apply(this.#db)));
    return row ? toRun(row) : this.#existing(ns, runId);
  }

  /** The run as stored, for an update that matched no unfinished run; AIOS_NOT_FOUND when there is none. */
  async #existing(ns: string, runId: string): Promise<WorkflowRun> {
    const run = await this.getRun(ns, runId);
    if (!run) throw new AiosError('AIOS_NOT_FOUND', `no workflow run ${runId} in namespace ${ns}`);
    return run;
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw translateDbError(e);
    }
  }
}

/** A ChangeOptions `also` as the row-level helpers take it. */
function withRun(opts: ChangeOptions): ((trx: Kysely<WorkflowTables>, row: RunRow) => Promise<void>) | undefined {
  const also = opts.also;
  return also ? (trx, row) => also(trx, toRun(row)) : undefined;
}

/**
 * Longest text each field takes, in UTF-16 code units (at most 3 bytes of UTF-8 each): the run
 * indexes hold (ns, name, created_at, id), well under PostgreSQL's 2,704-byte index row.
 * Child runs are named `<parent>:child:<n>`, so in-process ids may be longer than the API's 100.
 */
const TEXT_LIMITS = { id: 500, name: 200, version: 100, createdBy: 300, signal: 200 } as const;

/** A non-empty string (AIOS_BAD_REQUEST), then no NUL and at most `maxLength` (AIOS_VALIDATION). */
function requireText(value: unknown, field: string, maxLength?: number): void {
  if (typeof value !== 'string' || value.length === 0) throw new AiosError('AIOS_BAD_REQUEST', `${field} must be a non-empty string`);
  if (maxLength !== undefined) checkIdentifier(value, field, maxLength);
}
