import { AiosError, isAiosError, uuidv7, type Clock, type Logger } from '../../core/index.ts';
import { isTerminal, type ChangeOptions, type JournalEntry, type ListRunsOptions, type RunPage, type RunError, type RunPatch, type RunStore, type WorkflowRun } from '../store/run-store.ts';
import type { WorkflowDefinition } from './define.ts';
import { DefinitionRegistry, type DefEntry } from './registry.ts';
import { NonDeterminismError, type CancelInfo } from './errors.ts';
import type { RunChange, RunRecorder } from './recorder.ts';
import type { WorkflowEventPort } from './event-port.ts';
import type { Registry } from 'prom-client';
import { WorkflowMetrics } from './workflow-metrics.ts';
import { Execution, type ExecutionHost } from './execution.ts';
import { CANCEL_SIGNAL, childSignal, RESERVED_SIGNAL_PREFIX, type ChildOutcome } from './signals.ts';
import { toError } from './timers.ts';


export interface WorkflowEngineOptions {
  readonly store: RunStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Unique per process; a UUIDv7 when absent. */
  readonly workerId?: string;
  /** A worker silent for this long loses its runs to other workers. Default 10 s. */
  readonly leaseMs?: number;
  /** How often the worker loop looks for runnable runs when nothing wakes it. Default 200 ms. */
  readonly pollMs?: number;
  /** Waits that end within this many ms keep the run in memory; longer ones release it. Default 30 s. */
  readonly holdMs?: number;
  /** Most runs held in memory at once. Default 100. */
  readonly maxConcurrent?: number;
  /** Audit records and lineage nodes of what runs do; none when absent. */
  readonly recorder?: RunRecorder;
  /** The event log, for `ctx.emit` and `ctx.waitForEvent`; both refuse without it. */
  readonly events?: WorkflowEventPort;
  /** Prometheus registry for the engine's metrics (runs started and ended, steps, run duration). */
  readonly metrics?: Registry;
}

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

/** How long a run whose pinned version is not registered on this worker waits before it is claimable again. Default 30 s. */
export const MISSING_VERSION_BACKOFF_MS = 30_000;

const key = (ns: string, id: string): string => `${ns}\u0000${id}`;

/**
 * Runs durable workflows on a RunStore. Runs are claimed with a lease, executed in memory
 * (replaying the journal once, at claim), and released to the store while they wait long.
 *
 * @example
 * const engine = new WorkflowEngine({ store: new SqlRunStore({ database, clock }), clock, logger });
 * engine.register(inspect);
 * engine.start();
 * const run = await engine.startRun('plant-a', 'inspect', { asset: 'T-7' }, { id: 'inspect-T-7-2026-01' });
 * await engine.signal('plant-a', run.id, 'approved', { by: 'ana' });
 * await engine.stop();
 */
export class WorkflowEngine {
  readonly workerId: string;
  readonly #store: RunStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxConcurrent: number;
  readonly #recorder?: RunRecorder;
  readonly #metrics?: WorkflowMetrics;
  readonly #host: ExecutionHost;
  /** name -> version -> definition: every registered version is kept, runs execute the one they are pinned to. */
  readonly #defs = new DefinitionRegistry();
  readonly #active = new Map<string, Execution>();
  #running = false;
  #draining = false;
  #loopDone?: Promise<void>;
  #kick?: () => void;
  #kicked = false;
  #unlisten?: () => Promise<void>;
  #idleWaiters: (() => void)[] = [];
  /** Executions between claim and their first park or end: loading the journal, finishing. */
  #starting = 0;

  constructor(opts: WorkflowEngineOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.workerId = opts.workerId ?? `worker-${uuidv7()}`;
    this.#leaseMs = opts.leaseMs ?? 10_000;
    this.#pollMs = opts.pollMs ?? 200;
    this.#maxConcurrent = opts.maxConcurrent ?? 100;
    const holdMs = opts.holdMs ?? 30_000;
    this.#recorder = opts.recorder;
    this.#metrics = opts.metrics ? new WorkflowMetrics(opts.metrics, () => this.#active.size) : undefined;
    this.#host = {
      store: this.#store,
      clock: this.#clock,
      logger: this.#logger,
      holdMs,
      ...(opts.recorder ? { recorder: opts.recorder } : {}),
      ...(opts.events ? { events: opts.events } : {}),
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      draining: () => this.#draining,
      busyChanged: () => this.#checkIdle(),
      detach: (exec) => {
        if (this.#active.get(key(exec.ns, exec.runId)) === exec) this.#active.delete(key(exec.ns, exec.runId));
        this.#checkIdle();
      },
      startChild: async (parent, name, version, input, id, wait) => {
        const { run: child } = await this.#createRun(parent.ns, name, input, { id, createdBy: `workflow:${parent.id}`, parent, ...(version !== undefined ? { version } : {}) });
        // A child already finished (a given id reused, or it ended before the parent journaled the start): its end again, for the wait.
        if (wait && isTerminal(child.status)) await this.#notifyParent(child, { status: child.status, output: child.output, ...(child.error ? { error: child.error } : {}) });
        return child;
      },
    };
  }

  /**
   * Makes definitions runnable here. Every version of a name is kept: a run executes the version
   * it was pinned to at start (`run.version`), and new runs take the highest registered version
   * (see `compareVersions`). Registering the same name and version again replaces that version's
   * code; runs under way on it replay on the new code, so guard changed code with `ctx.patched`.
   * A claimed run whose version is not registered here is released for another worker (or a
   * later deploy), never failed.
   */
  register(...defs: WorkflowDefinition[]): this {
    for (const def of defs) this.#defs.add(def);
    return this;
  }

  /** The registered versions of a name, lowest first. */
  versions(name: string): string[] {
    return this.#defs.versions(name);
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

  /** The registered workflows: each name with its versions, lowest first. */
  definitions(): { name: string; versions: string[] }[] {
    return this.#defs.list();
  }

  /**
   * Retries a failed run from its failed step (see `RunStore.retry`): the step runs again with
   * the same idempotency key, after a replay of everything before it. AIOS_CONFLICT unless failed.
   *
   * @example
   * await engine.retry('plant-a', run.id);
   */
  async retry(ns: string, id: string, opts: SignalOptions = {}): Promise<WorkflowRun> {
    const { run, fromSeq } = await this.#store.retry(ns, id, this.#changed(() => ({ kind: 'retried', by: opts.by ?? 'system' })));
    this.#logger.info({ ns, runId: id, fromSeq }, 'workflow run retried');
    this.#wake();
    return run;
  }

  /**
   * Checks that `name` (at `version`, default the highest registered) is registered here and
   * that `input` matches its schema, without starting anything: AIOS_NOT_FOUND or
   * AIOS_VALIDATION, as `startRun` would throw. Returns the version a run would be pinned to.
   */
  validateInput(name: string, input: unknown, version?: string): string {
    return this.#defs.resolve(name, input, version).def.version;
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
    this.#wake();
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

  /**
   * Tells this engine that signal `name` was stored for a run by someone else (the event-wait
   * matcher, another process): a wait held in memory here looks at once, and the loop claims.
   */
  notify(ns: string, id: string, name: string): void {
    const exec = this.#active.get(key(ns, id));
    if (name === CANCEL_SIGNAL) exec?.requestCancel();
    else exec?.notify(name);
    this.#wake();
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
    this.#active.get(key(ns, id))?.notify(name);
    this.#wake();
    return r;
  }

  /**
   * Asks a run to cancel: durable (the store's cancel_requested, and the reason in a reserved
   * signal), so whichever process runs it next observes it. The workflow code gets a
   * CancelledError at its next step, sleep or wait (a sleep or wait held in this process ends at
   * once; a released waiting run is woken by the store), may run compensation steps, and the
   * run ends 'cancelled'. A finished run is returned unchanged. Never done by a timeout.
   *
   * @example
   * await engine.cancel('plant-a', run.id, { reason: 'asset decommissioned', by: 'user:ana' });
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
    this.#active.get(key(ns, id))?.requestCancel(info);
    this.#wake();
    if (!isTerminal(run.status)) {
      for (const child of await this.#awaitedChildren(run)) await this.cancel(ns, child, { reason: `parent run ${id} was cancelled${opts.reason ? `: ${opts.reason}` : ''}`, by: opts.by ?? 'system' });
    }
    return run;
  }

  /**
   * Ends a run at once with status 'terminated': no more workflow code runs, no compensation.
   * If this process holds the run, its execution is dropped now; another holder is fenced out
   * (the epoch is bumped) and drops the run at its next write. A finished run is returned as it is.
   *
   * @example
   * await engine.terminate('plant-a', run.id, { reason: 'stuck on a retired API', by: 'user:ops' });
   */
  async terminate(ns: string, id: string, opts: TerminateOptions = {}): Promise<WorkflowRun> {
    const message = `workflow run ${ns}/${id} was terminated${opts.by ? ` by ${opts.by}` : ''}${opts.reason ? `: ${opts.reason}` : ''}`;
    const before = await this.#store.getRun(ns, id);
    const run = await this.#store.terminate(ns, id, { name: 'TerminatedError', message }, this.#changed(() => ({ kind: 'terminated', by: opts.by ?? 'system', ...(opts.reason ? { detail: { reason: opts.reason } } : {}) })));
    this.#active.get(key(ns, id))?.abandon();
    if (before && !isTerminal(before.status) && run.status === 'terminated') {
      await this.#notifyParent(run, { status: 'terminated', ...(run.error ? { error: run.error } : {}) });
      for (const child of await this.#awaitedChildren(run)) await this.terminate(ns, child, { reason: `parent run ${id} was terminated${opts.reason ? `: ${opts.reason}` : ''}`, by: opts.by ?? 'system' });
    }
    return run;
  }

  /** Starts the worker loop: heartbeat, claim runnable runs, execute them. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#draining = false;
    this.#unlisten = this.#store.listen?.(this.#logger, (w) => (w.id && w.signal ? this.notify(w.ns, w.id, w.signal) : this.#wake()));
    this.#loopDone = this.#loop();
  }

  /**
   * Stops claiming, lets steps in flight finish, releases the runs held here and removes this
   * worker. `{ removeWorker: false }` only stops the loop and leaves runs and lease as they are,
   * as a crashed process would (for tests of recovery).
   */
  async stop(opts: { removeWorker?: boolean } = {}): Promise<void> {
    this.#running = false;
    this.#wake();
    await this.#unlisten?.();
    this.#unlisten = undefined;
    await this.#loopDone;
    this.#loopDone = undefined;
    if (opts.removeWorker === false) return;
    this.#draining = true;
    while (this.#active.size) {
      await this.#whenIdle();
      // Synchronous pass: every execution still here is parked, none can wake in between.
      const parked = [...this.#active.values()].filter((e) => !e.busy);
      await Promise.all(parked.map((e) => e.release()));
    }
    await this.#store.removeWorker(this.workerId);
  }

  /**
   * Claims and executes runnable runs until none is runnable now and every run held in memory
   * waits for a timer or a signal. For tests and one-shot workers; `start()` does this continuously.
   */
  async drain(): Promise<void> {
    for (;;) {
      await this.#whenIdle();
      if ((await this.#claimOnce()).claimed === 0) {
        await this.#whenIdle();
        return;
      }
    }
  }

  /** How many runs this engine holds in memory. */
  get inMemory(): number {
    return this.#active.size;
  }

  async #loop(): Promise<void> {
    const beat = Math.max(1, Math.min(this.#pollMs, Math.floor(this.#leaseMs / 3)));
    while (this.#running) {
      try {
        // claim() heartbeats first, so a full engine still heartbeats every `beat`. A claim that
        // filled the room may have left runnable runs behind: claim again at once. One that did
        // not took everything runnable; new work wakes the loop (in-process or by notification).
        if ((await this.#claimOnce()).full) continue;
      } catch (e) {
        this.#logger.error({ err: e, workerId: this.workerId }, 'workflow worker loop failed; retrying');
      }
      if (this.#kicked) {
        this.#kicked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, beat);
        this.#kick = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#kick = undefined;
      this.#kicked = false;
    }
  }

  #wake(): void {
    this.#kicked = true;
    this.#kick?.();
  }

  /** Claims what there is room for; `full` when the claim filled the room (more may be runnable). */
  async #claimOnce(): Promise<{ claimed: number; full: boolean }> {
    const room = this.#maxConcurrent - this.#active.size;
    if (room <= 0) {
      await this.#store.heartbeat(this.workerId);
      return { claimed: 0, full: false };
    }
    const runs = await this.#store.claim(this.workerId, { leaseMs: this.#leaseMs, limit: room });
    for (const run of runs) void this.#execute(run);
    return { claimed: runs.length, full: runs.length >= room };
  }

  async #execute(run: WorkflowRun): Promise<void> {
    this.#starting++;
    let exec: Execution | undefined;
    let def: WorkflowDefinition | undefined;
    try {
      def = this.#defs.get(run.name, run.version);
      if (!def) {
        await this.#releaseWithoutCode(run);
        return;
      }
      // Epoch 1 is a run's first claim ever: nothing can be journaled yet (every write names an epoch >= 1).
      const journal = run.epoch === 1 ? [] : await this.#store.journal(run.ns, run.id);
      exec = new Execution(this.#host, run, journal);
      this.#active.get(key(run.ns, run.id))?.abandon();
      this.#active.set(key(run.ns, run.id), exec);
    } catch (e) {
      this.#logger.error({ err: e, ns: run.ns, runId: run.id }, 'could not start workflow execution');
      return;
    } finally {
      this.#starting--;
      this.#checkIdle();
    }
    if (!exec || !def) return;
    const e = exec;
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await runCode(def, e, run.input) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    await this.#finish(e, outcome);
  }

  async #finish(exec: Execution, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): Promise<void> {
    if (exec.abandoned) return;
    const { ns, runId, epoch } = exec;
    try {
      let error = exec.fatal ?? (outcome.ok ? undefined : toError(outcome.error));
      if (!error && outcome.ok) {
        try {
          this.#store.checkPayload(outcome.value, `the output of workflow run ${ns}/${runId}`);
        } catch (e) {
          error = toError(e);
        }
      }
      if (!error && exec.unreplayed() > 0) {
        error = new NonDeterminismError(
          exec.position,
          `workflow run ${ns}/${runId} (${exec.run.name}): the code finished at position ${exec.position} but the journal has ${exec.unreplayed()} more entries; guard the change with ctx.patched(...)`,
        );
      }
      const cancelled = !exec.fatal && (isAiosError(error, 'AIOS_WF_CANCELLED') || (!error && exec.cancelled));
      if (cancelled) {
        // Rethrown or handled, a cancel the code observed ends the run 'cancelled' (with its output if it returned).
        await exec.flush();
        if (exec.abandoned) return;
        await this.#end(exec, { status: 'cancelled', ...(error ? { error: toRunError(error) } : { output: outcome.ok ? outcome.value : undefined }) });
        this.#logger.info({ ns, runId }, 'workflow run cancelled');
      } else if (error) {
        await this.#end(exec, { status: 'failed', error: toRunError(error) });
        this.#logger.info({ ns, runId, err: error.message }, 'workflow run failed');
      } else {
        await exec.flush();
        if (exec.abandoned) return;
        await this.#end(exec, { status: 'completed', output: outcome.ok ? outcome.value : undefined });
      }
    } catch (e) {
      if (!isAiosError(e, 'AIOS_WF_LEASE_LOST')) this.#logger.error({ err: e, ns, runId }, 'could not record the end of a workflow run');
    } finally {
      exec.abandon();
    }
  }

  /**
   * Records the end of a run. A child run first sends its parent the end signal (at least once: a
   * crash between the two sends it again on the next execution; a parent takes the first), then
   * records its status; if the signal cannot be stored, the run is released to be tried again.
   */
  async #end(exec: Execution, patch: ChildOutcome & RunPatch): Promise<void> {
    const { ns, runId, epoch, run } = exec;
    if (run.parent) {
      try {
        await this.#notifyParent(run, { status: patch.status, output: patch.output, ...(patch.error ? { error: patch.error } : {}) }, true);
      } catch (e) {
        this.#logger.error({ err: e, ns, runId, parent: run.parent }, 'could not signal the end of a child run to its parent; releasing the run');
        await this.#store.update(ns, runId, epoch, { owner: null });
        return;
      }
    }
    const recorder = this.#recorder;
    const end = { status: patch.status, ...(patch.error ? { error: patch.error } : {}) };
    await this.#store.update(ns, runId, epoch, patch, recorder ? { also: (trx) => recorder.runEnded(trx, run, end) } : {});
    if (patch.status) this.#metrics?.ended(run.name, patch.status, (this.#clock.now() - run.createdAt) / 1000);
  }

  /** Sends a child's end to its parent as the `aios.child:<id>` signal; a finished or missing parent is skipped. */
  async #notifyParent(child: WorkflowRun, outcome: ChildOutcome, rethrow = false): Promise<void> {
    if (!child.parent) return;
    try {
      await this.#signal(child.parent.ns, child.parent.id, childSignal(child.id), outcome);
    } catch (e) {
      if (isAiosError(e, 'AIOS_CONFLICT') || isAiosError(e, 'AIOS_NOT_FOUND')) return;
      if (rethrow) throw e;
      this.#logger.error({ err: e, ns: child.ns, runId: child.id, parent: child.parent }, 'could not signal the end of a child run to its parent');
    }
  }

  /**
   * The run's pinned name@version is not registered here (a deploy in progress, a mixed fleet):
   * hand it back, due again in MISSING_VERSION_BACKOFF_MS, for a worker that has it. Released as
   * 'waiting' with a wake time, since the store only honours wake times of waiting runs; the
   * claim sets it 'running' again. A cancel does not make it due at once (no code here to run
   * its compensations; it would bounce between claim and release), the next wake time does.
   */
  async #releaseWithoutCode(run: WorkflowRun): Promise<void> {
    const wakeAt = this.#clock.now() + MISSING_VERSION_BACKOFF_MS;
    this.#logger.warn(
      { ns: run.ns, runId: run.id, workflow: `${run.name}@${run.version}`, registered: this.versions(run.name), workerId: this.workerId, wakeAt },
      `workflow ${run.name}@${run.version} is not registered on this worker; releasing run ${run.ns}/${run.id} for a worker that has it`,
    );
    try {
      await this.#store.update(run.ns, run.id, run.epoch, { status: 'waiting', owner: null, wakeAt, wakeOnCancel: false });
    } catch (e) {
      if (!isAiosError(e, 'AIOS_WF_LEASE_LOST')) throw e;
    }
  }

  #busy(): boolean {
    if (this.#starting > 0) return true;
    for (const e of this.#active.values()) if (e.busy) return true;
    return false;
  }

  #whenIdle(): Promise<void> {
    if (!this.#busy()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #checkIdle(): void {
    if (this.#busy() || !this.#idleWaiters.length) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

function runCode(def: WorkflowDefinition, ctx: Execution, input: unknown): Promise<unknown> {
  // A microtask boundary first, so a synchronous throw becomes a failed run like any other.
  return Promise.resolve().then(() => def.fn(ctx, input));
}

function toRunError(e: Error): RunError {
  const code = (e as { code?: unknown }).code;
  return { name: e.name, message: e.message, ...(typeof code === 'string' ? { code } : {}) };
}
