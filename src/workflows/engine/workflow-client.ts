import { AiosError, isAiosError, type Logger } from '../../core/index.ts';
import { isTerminal, type ChangeOptions, type JournalEntry, type ListRunsOptions, type RunPage, type RunStore, type WorkflowRun } from '../store/run-store.ts';
import type { DefinitionRegistry, DefEntry } from './registry.ts';
import type { CancelInfo } from './errors.ts';
import type { RunChange, RunRecorder } from './recorder.ts';
import type { WorkflowMetrics } from './workflow-metrics.ts';
import { CANCEL_SIGNAL, childSignal, RESERVED_SIGNAL_PREFIX, type ChildOutcome } from './signals.ts';

export interface SignalOptions {
  /** Who sent it, for the audit trail. Default 'system'. */
  readonly by?: string;
}

export interface CancelOptions {
  /** Recorded in the journal's cancel marker and carried by the CancelledError. */
  readonly reason?: string;
  /** Who asked, e.g. 'user:ana'. */
  readonly by?: string;
}

export interface TerminateOptions {
  readonly reason?: string;
  readonly by?: string;
}

export interface StartRunOptions {
  /** The idempotency key: starting an existing id returns that run. */
  readonly id?: string;
  readonly createdBy?: string;
  /** The lineage id the run continues (e.g. the API call's); a new one is minted when absent. */
  readonly lineageId?: string;
  /**
   * The definition version to pin the run to; it must be registered on this engine. Default: the
   * highest registered version of the name (see `compareVersions`).
   */
  readonly version?: string;
}

/**
 * A worker in the same process as the client. The store is what connects them (a released run is
 * woken there, and PostgreSQL notifies other processes); this is the shortcut for the runs the
 * worker holds in memory, which hear of a client's change at once instead of at their next poll.
 */
export interface LocalWorker {
  /** There is new work (a run started, retried, signalled, asked to cancel): claim now. */
  wake(): void;
  /** A signal was stored for a run: a wait for it held here looks at once. Wakes the loop. */
  notify(ns: string, id: string, name: string): void;
  /** A cancel was requested for a run: a sleep or wait held here ends at once. Wakes the loop. */
  cancelRequested(ns: string, id: string, info: CancelInfo): void;
  /** A run was terminated: an execution held here is dropped. */
  terminated(ns: string, id: string): void;
}

export interface WorkflowClientOptions {
  readonly store: RunStore;
  readonly logger: Logger;
  /** The definitions runs are started on: a start is checked against them and pinned to a version. */
  readonly definitions: DefinitionRegistry;
  /** Audit records and lineage nodes of the changes made here; none when absent. */
  readonly recorder?: RunRecorder;
  readonly metrics?: WorkflowMetrics;
}

/**
 * What callers do to runs: start, signal, cancel, terminate, retry, and read them (get, list,
 * history). Every change is durable in the store first; the client executes nothing, so it works
 * in a process that runs no worker. A worker in the same process is told at once (see `attach`).
 */
export class WorkflowClient {
  readonly #store: RunStore;
  readonly #logger: Logger;
  readonly #defs: DefinitionRegistry;
  readonly #recorder?: RunRecorder;
  readonly #metrics?: WorkflowMetrics;
  #local?: LocalWorker;

  constructor(opts: WorkflowClientOptions) {
    this.#store = opts.store;
    this.#logger = opts.logger;
    this.#defs = opts.definitions;
    this.#recorder = opts.recorder;
    this.#metrics = opts.metrics;
  }

  /** Makes `worker` hear of this client's changes at once; one worker per client. */
  attach(worker: LocalWorker): void {
    if (this.#local && this.#local !== worker) throw new AiosError('AIOS_INTERNAL', 'this workflow client already has a worker in this process');
    this.#local = worker;
  }

  /**
   * Creates a run (idempotent by `id`), pinned to `opts.version` or else the highest registered
   * version, and wakes the worker loop. Throws AIOS_NOT_FOUND for an unregistered name or
   * version and AIOS_VALIDATION when the input does not match the definition's schema.
   */
  async startRun(ns: string, name: string, input?: unknown, opts: StartRunOptions = {}): Promise<WorkflowRun> {
    return (await this.#createRun(ns, name, input, opts)).run;
  }

  /** `startRun`, also saying whether the run was created (false: the id existed, the stored run is returned). */
  async submit(ns: string, name: string, input?: unknown, opts: StartRunOptions = {}): Promise<{ run: WorkflowRun; created: boolean }> {
    return this.#createRun(ns, name, input, opts);
  }

  /**
   * Retries a failed run from its failed step (see `RunStore.retry`): the step runs again with
   * the same idempotency key, after a replay of everything before it. AIOS_CONFLICT unless failed.
   */
  async retry(ns: string, id: string, opts: SignalOptions = {}): Promise<WorkflowRun> {
    const { run, fromSeq } = await this.#store.retry(ns, id, this.#changed(() => ({ kind: 'retried', by: opts.by ?? 'system' })));
    this.#logger.info({ ns, runId: id, fromSeq }, 'workflow run retried');
    this.#local?.wake();
    return run;
  }

  /**
   * Checks that `name` (at `version`, default the highest registered) is registered and that
   * `input` matches its schema, without starting anything: AIOS_NOT_FOUND or AIOS_VALIDATION, as
   * `startRun` would throw. Returns the version a run would be pinned to.
   */
  validateInput(name: string, input: unknown, version?: string): string {
    return this.#defs.resolve(name, input, version).def.version;
  }

  /**
   * Creates (idempotently by id) a child run of `parent`. With `wait`, a child that has already
   * finished (a given id reused, or it ended before the parent journaled the start) sends its end
   * again, for the parent's wait.
   */
  async startChild(parent: WorkflowRun, name: string, version: string | undefined, input: unknown, id: string, wait: boolean): Promise<WorkflowRun> {
    const { run: child } = await this.#createRun(parent.ns, name, input, { id, createdBy: `workflow:${parent.id}`, parent, ...(version !== undefined ? { version } : {}) });
    if (wait && isTerminal(child.status)) await this.notifyParent(child, { status: child.status, output: child.output, ...(child.error ? { error: child.error } : {}) });
    return child;
  }

  async #createRun(ns: string, name: string, input: unknown, opts: StartRunOptions & { parent?: WorkflowRun }): Promise<{ run: WorkflowRun; created: boolean }> {
    let entry: DefEntry;
    try {
      entry = this.#defs.resolve(name, input, opts.version);
    } catch (e) {
      // A retried start returns the stored run even after a deploy changed the input schema.
      const existing = opts.id !== undefined ? await this.#store.getRun(ns, opts.id) : undefined;
      if (existing) return { run: existing, created: false };
      throw e;
    }
    const parent = opts.parent;
    const created = await this.#store.createRun({
      ns,
      ...(opts.id ? { id: opts.id } : {}),
      name,
      version: entry.def.version,
      input,
      createdBy: opts.createdBy ?? 'system',
      ...(opts.lineageId ? { lineageId: opts.lineageId } : {}),
      ...(parent ? { parent: { ns: parent.ns, id: parent.id }, lineageId: parent.lineageId } : {}),
    }, this.#changed((run) => ({ kind: 'started', by: run.createdBy, detail: { version: run.version } })));
    this.#local?.wake();
    if (created.created) this.#metrics?.started(name);
    return created;
  }

  /** Ids of the unfinished children a run started and awaits, from its journal. */
  async #awaitedChildren(run: WorkflowRun): Promise<string[]> {
    const ids = (await this.#store.journal(run.ns, run.id)).filter((e) => e.kind === 'child' && e.status === 'ok' && (e.result as { wait?: boolean }).wait !== false).map((e) => (e.result as { id: string }).id);
    const open: string[] = [];
    for (const id of ids) {
      const child = await this.#store.getRun(run.ns, id);
      if (child && !isTerminal(child.status)) open.push(id);
    }
    return open;
  }

  /** The store option that records an outside change in its own transaction (nothing without a recorder). */
  #changed(change: (run: WorkflowRun) => RunChange): ChangeOptions {
    const recorder = this.#recorder;
    return recorder ? { also: (trx, run) => recorder.runChanged(trx, run, change(run)) } : {};
  }

  getRun(ns: string, id: string): Promise<WorkflowRun | undefined> {
    return this.#store.getRun(ns, id);
  }

  /** The run's journal: every step, timer, signal and recorded value, in order. */
  history(ns: string, id: string): Promise<JournalEntry[]> {
    return this.#store.journal(ns, id);
  }

  /** Runs of a namespace in creation order, filtered by name, status and creation time; page with `next`. */
  listRuns(ns: string, opts: ListRunsOptions): Promise<RunPage> {
    return this.#store.listRuns(ns, opts);
  }

  /** Stores a signal; a wait for it in this process wakes at once, a released run is woken by the store. */
  async signal(ns: string, id: string, name: string, payload?: unknown, opts: SignalOptions = {}): Promise<{ seq: number }> {
    if (typeof name !== 'string' || name.startsWith(RESERVED_SIGNAL_PREFIX)) throw new AiosError('AIOS_BAD_REQUEST', `signal names starting with "${RESERVED_SIGNAL_PREFIX}" are reserved for the engine; got "${name}"`);
    return this.#signal(ns, id, name, payload, opts);
  }

  async #signal(ns: string, id: string, name: string, payload?: unknown, opts: SignalOptions = {}): Promise<{ seq: number }> {
    // The engine's own signals (a child's end) are journaled by the run that takes them, not audited.
    const audited = name.startsWith(RESERVED_SIGNAL_PREFIX) ? {} : this.#changed(() => ({ kind: 'signalled', by: opts.by ?? 'system', detail: { signal: name } }));
    const r = await this.#store.signal(ns, id, name, payload, audited);
    this.#local?.notify(ns, id, name);
    return r;
  }

  /**
   * Asks a run to cancel: durable (the store's cancel_requested, and the reason in a reserved
   * signal), so whichever process runs it next observes it. The workflow code gets a
   * CancelledError at its next step, sleep or wait (a sleep or wait held in this process ends at
   * once; a released waiting run is woken by the store), may run compensation steps, and the
   * run ends 'cancelled'. A finished run is returned unchanged. Never done by a timeout.
   */
  async cancel(ns: string, id: string, opts: CancelOptions = {}): Promise<WorkflowRun> {
    const info: CancelInfo = { ...(opts.reason !== undefined ? { reason: opts.reason } : {}), ...(opts.by !== undefined ? { by: opts.by } : {}) };
    try {
      // Before the request, so that whoever observes the request finds the reason.
      await this.#store.signal(ns, id, CANCEL_SIGNAL, info);
    } catch (e) {
      if (!isAiosError(e, 'AIOS_CONFLICT')) throw e; // a finished run takes no signal: requestCancel returns it as it is
    }
    const run = await this.#store.requestCancel(ns, id, this.#changed(() => ({ kind: 'cancel_requested', by: opts.by ?? 'system', ...(opts.reason ? { detail: { reason: opts.reason } } : {}) })));
    this.#local?.cancelRequested(ns, id, info);
    if (!isTerminal(run.status)) {
      for (const child of await this.#awaitedChildren(run)) await this.cancel(ns, child, { reason: `parent run ${id} was cancelled${opts.reason ? `: ${opts.reason}` : ''}`, by: opts.by ?? 'system' });
    }
    return run;
  }

  /**
   * Ends a run at once with status 'terminated': no more workflow code runs, no compensation.
   * A worker in this process drops its execution now; another holder is fenced out (the epoch is
   * bumped) and drops the run at its next write. A finished run is returned as it is.
   */
  async terminate(ns: string, id: string, opts: TerminateOptions = {}): Promise<WorkflowRun> {
    const message = `workflow run ${ns}/${id} was terminated${opts.by ? ` by ${opts.by}` : ''}${opts.reason ? `: ${opts.reason}` : ''}`;
    const before = await this.#store.getRun(ns, id);
    const run = await this.#store.terminate(ns, id, { name: 'TerminatedError', message }, this.#changed(() => ({ kind: 'terminated', by: opts.by ?? 'system', ...(opts.reason ? { detail: { reason: opts.reason } } : {}) })));
    this.#local?.terminated(ns, id);
    if (before && !isTerminal(before.status) && run.status === 'terminated') {
      await this.notifyParent(run, { status: 'terminated', ...(run.error ? { error: run.error } : {}) });
      for (const child of await this.#awaitedChildren(run)) await this.terminate(ns, child, { reason: `parent run ${id} was terminated${opts.reason ? `: ${opts.reason}` : ''}`, by: opts.by ?? 'system' });
    }
    return run;
  }

  /**
   * Sends a child's end to its parent as the `aios.child:<id>` signal; a finished or missing
   * parent is skipped. Other failures are logged, or thrown with `rethrow`.
   */
  async notifyParent(child: WorkflowRun, outcome: ChildOutcome, rethrow = false): Promise<void> {
    if (!child.parent) return;
    try {
      await this.#signal(child.parent.ns, child.parent.id, childSignal(child.id), outcome);
    } catch (e) {
      if (isAiosError(e, 'AIOS_CONFLICT') || isAiosError(e, 'AIOS_NOT_FOUND')) return;
      if (rethrow) throw e;
      this.#logger.error({ err: e, ns: child.ns, runId: child.id, parent: child.parent }, 'could not signal the end of a child run to its parent');
    }
  }
}
