import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AiosError, isAiosError, type Clock, type Logger } from '../../core/index.ts';
import type { WorkflowTables } from '../store/tables.ts';
import type { JournalEntry, JournalEntryInput, RunPatch, RunStore, WorkflowRun } from '../store/run-store.ts';
import { setTimer, toError } from './timers.ts';
import { DEFAULT_RETRY, type RetryPolicy, type StartChildOptions, type WorkflowDefinition, type SignalResult, type StepInfo, type StepOptions, type WorkflowContext } from './define.ts';
import { CancelledError, ChildRunError, StepError, StepTimeoutError, TerminalError, type CancelInfo } from './errors.ts';
import type { EmitEvent, EmitResult, EventResult, MatchedEvent, PreparedEmit, WorkflowEventPort } from './event-port.ts';
import type { RunRecorder } from './recorder.ts';
import type { WorkflowMetrics } from './workflow-metrics.ts';
import { Parking } from './parking.ts';
import { ReplayCursor } from './replay-cursor.ts';
import { Saga } from './saga.ts';
import { CANCEL_SIGNAL, childSignal, eventSignal, type ChildOutcome } from './signals.ts';

/** What an execution needs from the engine that holds it. */
export interface ExecutionHost {
  readonly store: RunStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Waits ending within this many ms stay in memory; longer ones release the run. */
  readonly holdMs: number;
  readonly recorder?: RunRecorder;
  /** The event log, for emits and event waits. */
  readonly events?: WorkflowEventPort;
  readonly metrics?: WorkflowMetrics;
  /** The engine is stopping: finish the current step, then let the run go. */
  draining(): boolean;
  busyChanged(): void;
  /** The execution is over in this process (finished, released or lost). */
  detach(exec: Execution): void;
  /** Creates (idempotently by id) a child run of `parent`; with `wait`, a child already finished re-sends its end signal. */
  startChild(parent: WorkflowRun, name: string, version: string | undefined, input: unknown, id: string, wait: boolean): Promise<WorkflowRun>;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/**
 * One run held in memory by this process: the context its workflow code calls. It replays the
 * journal loaded at claim (position by position, checking kind and name: see ReplayCursor), then
 * records new entries with `appendJournal` at the claim's epoch. How it waits, and how a signal or
 * a cancel reaches it while it waits, is in Parking. When it must stop (released for a long
 * wait, lease lost, engine stopping) its promise is left pending forever and dropped: the code
 * after that point runs only in the next execution, after a claim and a replay.
 */
export class Execution implements WorkflowContext {
  readonly ns: string;
  readonly runId: string;
  readonly epoch: number;
  readonly run: WorkflowRun;
  busy = true;
  abandoned = false;
  readonly #host: ExecutionHost;
  readonly #cursor: ReplayCursor;
  readonly #parking: Parking;
  #pending: JournalEntryInput[] = [];
  /** The cancel as observed by the code (journaled or replayed): later sleeps and waits throw it. */
  #cancelled?: CancelInfo;

  constructor(host: ExecutionHost, run: WorkflowRun, journal: readonly JournalEntry[]) {
    this.#host = host;
    this.run = run;
    this.ns = run.ns;
    this.runId = run.id;
    this.epoch = run.epoch;
    this.#cursor = new ReplayCursor(journal, `workflow run ${run.ns}/${run.id} (${run.name})`);
    this.#parking = new Parking(host.clock, host.holdMs, { abandoned: () => this.abandoned, busy: (busy) => this.#setBusy(busy) }, run.cancelRequested);
  }

  /** A NonDeterminismError: the run fails with it whatever the code does after. */
  get fatal(): Error | undefined {
    return this.#cursor.fatal;
  }

  /** The code has observed a cancel (a CancelledError was thrown into it): the run ends 'cancelled'. */
  get cancelled(): boolean {
    return this.#cancelled !== undefined;
  }

  get position(): number {
    return this.#cursor.position;
  }

  /** Positions the journal held at claim that the code has not reached (checked at the end). */
  unreplayed(): number {
    return this.#cursor.unreplayed();
  }

  // ---- the workflow context ------------------------------------------------------------

  async step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, opts: StepOptions = {}): Promise<T> {
    await this.#cancelPoint();
    return this.#step(name, fn, opts);
  }

  saga(): Saga {
    // Compensations skip the cancel point: they are what runs after a cancel.
    return new Saga(this, (name, fn, opts) => this.#step(name, fn, opts));
  }

  async #step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, opts: StepOptions = {}): Promise<T> {
    const { seq, rec } = this.#cursor.next('step', name);
    if (rec) {
      if (rec.status === 'ok') return rec.result as T;
      throw new StepError(rec.error?.name ?? 'Error', rec.error?.message ?? 'step failed', rec.error?.code);
    }
    if (this.#host.draining()) return this.#abandon();
    await this.#flush();
    const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
    const idempotencyKey = `${this.ns}/${this.runId}/${seq}`;
    let interval = policy.initialIntervalMs;
    for (let attempt = 1; ; attempt++) {
      let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
      // Events the attempt emits: appended with its result, in its transaction, or never.
      const emits: { topic: string; events: readonly EmitEvent[] }[] = [];
      const emit = (topic: string, events: EmitEvent | readonly EmitEvent[]): void => {
        emits.push({ topic, events: Array.isArray(events) ? (events as readonly EmitEvent[]) : [events as EmitEvent] });
      };
      let prepared: PreparedEmit[] = [];
      try {
        const value = await this.#attempt(name, () => fn({ idempotencyKey, attempt, emit }), opts.timeoutMs);
        // A result no write can store fails the step (terminally: the same result fails again).
        this.#host.store.checkPayload(value, `the result of step "${name}"`);
        if (emits.length) prepared = await this.#prepareEmits(emits, seq);
        outcome = { ok: true, value };
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (this.abandoned) return never();
      if (outcome.ok) {
        const port = this.#host.events;
        const outbox = prepared.length && port ? async (trx: Kysely<WorkflowTables>) => void (await port.appendIn(trx, prepared)) : undefined;
        const [stored] = await this.#append([{ seq, kind: 'step', name, status: 'ok', result: outcome.value }], outbox);
        if (outbox) port!.committed(prepared);
        this.#host.metrics?.step(this.run.name, 'ok');
        return stored.result as T;
      }
      const err = toError(outcome.error);
      // By name too: an app module loaded apart (tsx's scoped loader) has its own copy of the class.
      const terminal = err instanceof TerminalError || err.name === 'TerminalError' || (policy.nonRetryable ?? []).includes(err.name) || (isAiosError(err) && !err.retryable);
      if (terminal || attempt >= policy.maxAttempts) {
        const code = (err as { code?: unknown }).code;
        const error = { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), retryable: false };
        const [stored] = await this.#append([{ seq, kind: 'step', name, status: 'error', error }]);
        this.#host.metrics?.step(this.run.name, 'error');
        throw new StepError(stored.error?.name ?? err.name, stored.error?.message ?? err.message, stored.error?.code);
      }
      this.#host.logger.warn({ ns: this.ns, runId: this.runId, step: name, attempt, err: err.message }, 'workflow step failed; retrying');
      await this.#park(this.#host.clock.now() + interval, { owner: null });
      interval = Math.min(interval * policy.backoff, policy.maxIntervalMs);
      if (this.#host.draining()) return this.#abandon();
    }
  }

  async sleep(ms: number): Promise<void> {
    return this.#sleep(() => this.#host.clock.now() + ms);
  }

  async sleepUntil(at: number | Date): Promise<void> {
    const ms = at instanceof Date ? at.getTime() : at;
    return this.#sleep(() => ms);
  }

  async waitForSignal<T = unknown>(name: string, opts: { timeoutMs?: number } = {}): Promise<SignalResult<T>> {
    // Two positions: the deadline, fixed when the wait first runs, then the outcome (or a cancel marker).
    this.#throwIfCancelled();
    await this.#cancelPoint();
    const w = this.#cursor.next('wait', name);
    let deadline: number | null;
    if (w.rec) deadline = (w.rec.result as { wakeAt: number | null }).wakeAt;
    else {
      deadline = opts.timeoutMs === undefined ? null : this.#host.clock.now() + opts.timeoutMs;
      this.#pending.push({ seq: w.seq, kind: 'wait', name, status: 'ok', result: { wakeAt: deadline } });
    }
    return this.#awaitSignal<T>(name, deadline);
  }

  async waitForEvent(topic: string, opts: { match?: string; timeoutMs?: number } = {}): Promise<EventResult> {
    // As waitForSignal: the wait (recorded with the event wait, in one transaction), then the
    // outcome, which the matcher delivers as the reserved signal `aios.event:<wait position>`.
    this.#throwIfCancelled();
    await this.#cancelPoint();
    const name = `event:${topic}`;
    const w = this.#cursor.next('wait', name);
    let deadline: number | null;
    if (w.rec) deadline = (w.rec.result as { wakeAt: number | null }).wakeAt;
    else {
      const port = this.#events();
      const match = opts.match ?? 'true';
      port.validateMatch(match);
      deadline = opts.timeoutMs === undefined ? null : this.#host.clock.now() + opts.timeoutMs;
      if (this.#host.draining()) return this.#abandon();
      const after = await port.position(this.ns, topic);
      const wait = { ns: this.ns, runId: this.runId, seq: w.seq, topic, match, deadline, after };
      await this.#append([{ seq: w.seq, kind: 'wait', name, status: 'ok', result: { wakeAt: deadline, topic, match } }], (trx) => port.registerWait(trx, wait));
    }
    const r = await this.#awaitSignal<{ event: MatchedEvent }>(eventSignal(w.seq), deadline);
    if (r.timedOut) {
      await this.#host.events?.cancelWait(this.ns, this.runId, w.seq);
      return { timedOut: true };
    }
    return { timedOut: false, event: r.payload.event };
  }

  /**
   * Journals `events` to `topic` as one 'emit' entry: they are appended in the entry's own
   * transaction, so they are in the log if and only if the entry is in the journal. Ids default
   * to `<runId>:<position>:<index>`, so an append retried after a crash is a duplicate, not a copy.
   */
  async emit(topic: string, events: EmitEvent | readonly EmitEvent[]): Promise<EmitResult> {
    await this.#cancelPoint();
    const list = Array.isArray(events) ? (events as readonly EmitEvent[]) : [events as EmitEvent];
    const { seq, rec } = this.#cursor.next('emit', topic);
    if (rec) return rec.result as EmitResult;
    if (this.#host.draining()) return this.#abandon();
    const prepared = await this.#prepareEmits([{ topic, events: list }], seq);
    const port = this.#events();
    const [stored] = await this.#append([{ seq, kind: 'emit', name: topic, status: 'ok', result: { topic, ids: prepared[0].ids } }], async (trx) => void (await port.appendIn(trx, prepared)));
    port.committed(prepared);
    return stored.result as EmitResult;
  }

  /** Validates a step's or an emit's events before its transaction; ids derived from its position. */
  async #prepareEmits(batches: readonly { topic: string; events: readonly EmitEvent[] }[], seq: number): Promise<PreparedEmit[]> {
    const port = this.#events();
    let i = 0;
    const out: PreparedEmit[] = [];
    for (const b of batches) {
      const events = b.events.map((e) => ({ ...e, id: e.id ?? `${this.runId}:${seq}:${i++}` }));
      out.push(await port.prepare(this.ns, b.topic, events, this.run.lineageId));
    }
    return out;
  }

  #events(): WorkflowEventPort {
    if (!this.#host.events) throw new AiosError('AIOS_BAD_REQUEST', 'this workflow engine has no event log: ctx.emit and ctx.waitForEvent need an engine created by createAios');
    return this.#host.events;
  }

  /** The outcome position of a wait whose deadline is fixed: a signal taken, a timeout, or a cancel. */
  async #awaitSignal<T>(name: string, deadline: number | null): Promise<SignalResult<T>> {
    await this.#cancelPoint();
    const s = this.#cursor.next('signal', name);
    if (s.rec) return s.rec.result as SignalResult<T>;
    await this.#flush();
    let result: SignalResult<T>;
    for (;;) {
      if (this.#host.draining()) return this.#abandon();
      if (this.#parking.cancelRequest) {
        // Observed during the wait: the marker takes the outcome's position, where a replay looks for it.
        this.#cursor.rewind(s.seq);
        await this.#cancelPoint();
      }
      this.#parking.looking(name);
      const signal = await this.#write(() => this.#host.store.takeSignal(this.ns, this.runId, this.epoch, name, s.seq));
      if (signal) {
        result = { timedOut: false, payload: signal.payload as T };
        break;
      }
      if (deadline !== null && deadline <= this.#host.clock.now()) {
        result = { timedOut: true };
        break;
      }
      if (this.#parking.notified(name)) continue;
      await this.#park(deadline, { status: 'waiting', wakeAt: deadline, owner: null, wakeOnSignals: [name] }, name, true);
    }
    const [stored] = await this.#append([{ seq: s.seq, kind: 'signal', name, status: 'ok', result }]);
    return stored.result as SignalResult<T>;
  }

  startChild<O = unknown>(workflow: WorkflowDefinition<any, O> | string, input: unknown, opts: StartChildOptions & { readonly wait: false }): Promise<{ id: string }>;
  startChild<O = unknown>(workflow: WorkflowDefinition<any, O> | string, input?: unknown, opts?: StartChildOptions & { readonly wait?: true }): Promise<O>;
  async startChild(workflow: WorkflowDefinition | string, input?: unknown, opts: StartChildOptions = {}): Promise<unknown> {
    await this.#cancelPoint();
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    const version = typeof workflow === 'string' ? undefined : workflow.version;
    const wait = opts.wait !== false;
    const { seq, rec } = this.#cursor.next('child', name);
    let entry: JournalEntry | undefined = rec;
    if (!entry) {
      if (this.#host.draining()) return this.#abandon();
      await this.#flush();
      const id = opts.id ?? `${this.runId}:child:${seq}`;
      let created: WorkflowRun;
      try {
        created = await this.#host.startChild(this.run, name, version, input, id, wait);
      } catch (e) {
        if (!isAiosError(e, 'AIOS_NOT_FOUND') && !isAiosError(e, 'AIOS_VALIDATION')) return this.#write(() => Promise.reject(e));
        // Not startable (unknown workflow or version, invalid input): recorded, like a failed step.
        const err = toError(e);
        const code = (err as { code?: unknown }).code;
        [entry] = await this.#append([{ seq, kind: 'child', name, status: 'error', error: { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), retryable: false } }]);
        throw new StepError(entry.error?.name ?? err.name, entry.error?.message ?? err.message, entry.error?.code);
      }
      // `wait` is kept so that a cancel or termination of this run reaches the children it awaits.
      [entry] = await this.#append([{ seq, kind: 'child', name, status: 'ok', result: { id: created.id, wait } }]);
    }
    if (entry.status === 'error') throw new StepError(entry.error?.name ?? 'Error', entry.error?.message ?? 'the child run could not start', entry.error?.code);
    const childId = (entry.result as { id: string }).id;
    if (!wait) return { id: childId };
    const r = await this.waitForSignal<ChildOutcome>(childSignal(childId));
    if (r.timedOut) throw new AiosError('AIOS_INTERNAL', `the wait for child run ${childId} timed out without a timeout`);
    if (r.payload.status === 'completed') return r.payload.output;
    throw new ChildRunError(this.ns, childId, r.payload.status, r.payload.error);
  }

  now(): number {
    return this.#record('now', 'now', () => this.#host.clock.now());
  }

  random(): number {
    return this.#record('random', 'random', () => Math.random());
  }

  uuid(): string {
    return this.#record('uuid', 'uuid', () => randomUUID());
  }

  async setState(value: unknown): Promise<void> {
    this.#cursor.check();
    // Thrown to the workflow code, not taken for a failing store.
    this.#host.store.checkPayload(value, 'the state of the run');
    await this.#flush();
    await this.#write(() => this.#host.store.update(this.ns, this.runId, this.epoch, { state: value }));
  }

  patched(id: string): boolean {
    this.#cursor.check();
    const rec = this.#cursor.peek();
    if (rec) {
      if (rec.kind !== 'patch' || rec.name !== id) return false;
      this.#cursor.take();
      return true;
    }
    this.#pending.push({ seq: this.#cursor.take(), kind: 'patch', name: id, status: 'ok' });
    return true;
  }

  // ---- for the engine ------------------------------------------------------------------

  /** A signal was sent to this run through this engine: wake a wait for it now. */
  notify(name: string): void {
    this.#parking.notify(name);
  }

  /**
   * A cancel was requested (through this engine, with its reason; or notified by another
   * process, without: the cancel point reads it from the store): a sleep or wait held in memory ends now.
   */
  requestCancel(info?: CancelInfo): void {
    this.#parking.requestCancel(info);
  }

  /** Writes the entries recorded in memory only (now, random, uuid, patch markers). */
  async flush(): Promise<void> {
    await this.#flush();
  }

  /** Stops this execution in memory; the run is left to the store (released or lost). */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.#parking.drop();
    this.#setBusy(false);
    this.#host.detach(this);
  }

  /** Lets the run go for another claim, from where it is parked. */
  async release(): Promise<void> {
    const patch = this.#parking.release ?? { owner: null };
    this.abandon();
    try {
      await this.#host.store.update(this.ns, this.runId, this.epoch, patch);
    } catch (e) {
      if (!isAiosError(e, 'AIOS_WF_LEASE_LOST')) this.#host.logger.error({ ns: this.ns, runId: this.runId, err: e }, 'could not release workflow run');
    }
  }

  // ---- internals -----------------------------------------------------------------------

  #record<T>(kind: string, name: string, make: () => T): T {
    const { seq, rec } = this.#cursor.next(kind, name);
    if (rec) return rec.result as T;
    const value = make();
    this.#pending.push({ seq, kind, name, status: 'ok', result: value });
    return value;
  }

  /** Sleeps and waits after an observed cancel throw it again at once (nothing is journaled). */
  #throwIfCancelled(): void {
    this.#cursor.check();
    if (this.#cancelled) throw new CancelledError(this.ns, this.runId, this.#cancelled);
  }

  /**
   * Where a cancel is observed: the start of a step, sleep or wait, and a wait woken by a cancel.
   * On replay, a 'cancel' marker at this position throws again, at the same point; past the end
   * of the journal, a requested cancel is journaled here as a marker (the stored one wins), then
   * thrown. Once observed, nothing more is observed (steps run on; waits throw by themselves).
   */
  async #cancelPoint(): Promise<void> {
    this.#cursor.check();
    if (this.#cancelled) return;
    const rec = this.#cursor.peek();
    if (rec) {
      if (rec.kind !== 'cancel') return;
      this.#cursor.take();
      this.#cancelled = (rec.result ?? {}) as CancelInfo;
      throw new CancelledError(this.ns, this.runId, this.#cancelled);
    }
    const request = this.#parking.cancelRequest;
    if (!request) return;
    if (this.abandoned) return never();
    const seq = this.#cursor.take();
    // The reason: given to this engine, or stored by the engine that took the request.
    let info = request.info;
    if (!info) {
      const signal = await this.#write(() => this.#host.store.takeSignal(this.ns, this.runId, this.epoch, CANCEL_SIGNAL, seq));
      info = (signal?.payload ?? {}) as CancelInfo;
    }
    const [stored] = await this.#append([{ seq, kind: 'cancel', name: 'cancel', status: 'ok', result: info }]);
    this.#cancelled = (stored.result ?? {}) as CancelInfo;
    this.#host.logger.info({ ns: this.ns, runId: this.runId, position: seq, ...this.#cancelled }, 'workflow run cancelled');
    throw new CancelledError(this.ns, this.runId, this.#cancelled);
  }

  async #sleep(wakeAtOf: () => number): Promise<void> {
    this.#throwIfCancelled();
    await this.#cancelPoint();
    const { seq, rec } = this.#cursor.next('sleep', 'sleep');
    let wakeAt: number;
    if (rec) wakeAt = (rec.result as { wakeAt: number }).wakeAt;
    else {
      wakeAt = wakeAtOf();
      await this.#append([{ seq, kind: 'sleep', name: 'sleep', status: 'ok', result: { wakeAt } }]);
    }
    while (wakeAt > this.#host.clock.now()) {
      // A cancel during the sleep: its marker goes right after the sleep entry.
      await this.#cancelPoint();
      if (this.#host.draining()) return this.#abandon();
      await this.#park(wakeAt, { status: 'waiting', wakeAt, owner: null }, undefined, true);
    }
    // Also after a sleep that ended: a replay must throw a cancel recorded here from the sleep, as the first execution did.
    await this.#cancelPoint();
  }

  /**
   * Waits in memory until `wakeAt` (or an in-process signal for `signal`) when that is within
   * holdMs; otherwise releases the run to the store and never resolves.
   */
  async #park(wakeAt: number | null, release: RunPatch, signal?: string, cancellable = false): Promise<void> {
    if (this.abandoned) return never();
    if (!this.#parking.holds(wakeAt)) {
      await this.#flush();
      await this.#write(() => this.#host.store.update(this.ns, this.runId, this.epoch, release));
      this.abandon();
      return never();
    }
    await this.#parking.hold(wakeAt, release, signal, cancellable);
  }

  async #attempt<T>(step: string, fn: () => Promise<T> | T, timeoutMs?: number): Promise<T> {
    if (timeoutMs === undefined) return fn();
    let cancel = (): void => {};
    const timeout = new Promise<never>((_, reject) => {
      cancel = setTimer(this.#host.clock, this.#host.clock.now() + timeoutMs, () => reject(new StepTimeoutError(step, timeoutMs)));
    });
    try {
      return await Promise.race([Promise.resolve().then(fn), timeout]);
    } finally {
      cancel();
    }
  }

  async #flush(): Promise<void> {
    if (this.#pending.length) await this.#append([]);
  }

  /**
   * Journals the pending entries and `entries` in one transaction, with `also` (an outbox
   * append, an event wait) and the recorder's lineage nodes in it. `resultOf`, when given, is the
   * last entry's result, computed inside the transaction (where an emit's positions are known).
   */
  /**
   * Journals the pending entries and `entries` in one transaction, with `also` (an outbox
   * append, an event wait) and the recorder's lineage nodes in it.
   */
  async #append(entries: JournalEntryInput[], also?: (trx: Kysely<WorkflowTables>) => Promise<void>): Promise<JournalEntry[]> {
    const all = [...this.#pending, ...entries];
    this.#pending = [];
    const recorder = this.#host.recorder;
    const steps = recorder ? all.filter((e) => e.kind === 'step') : [];
    const hooks = [also, recorder && steps.length ? (trx: Kysely<WorkflowTables>) => recorder.stepsCommitted(trx, this.run, steps) : undefined].filter((h) => h !== undefined);
    const opts = hooks.length
      ? {
          also: async (trx: Kysely<WorkflowTables>) => {
            for (const h of hooks) await h(trx);
          },
        }
      : {};
    const stored = await this.#write(() => this.#host.store.appendJournal(this.ns, this.runId, this.epoch, all, opts));
    return stored.slice(stored.length - entries.length);
  }

  /** A fenced write: on a lost lease the execution stops here, silently (another worker has the run). */
  async #write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.abandoned) return never();
    try {
      return await fn();
    } catch (e) {
      if (isAiosError(e, 'AIOS_WF_LEASE_LOST')) {
        this.#host.logger.info({ ns: this.ns, runId: this.runId, epoch: this.epoch }, 'workflow run lease lost; another worker continues it');
        return this.#abandon();
      }
      // The store is failing: stop here and hand the run back; the next claim replays it.
      this.#host.logger.error({ ns: this.ns, runId: this.runId, err: e }, 'workflow store write failed; releasing the run');
      void this.release();
      return never();
    }
  }

  #abandon<T>(): Promise<T> {
    this.abandon();
    return never();
  }

  #setBusy(busy: boolean): void {
    if (this.busy === busy) return;
    this.busy = busy;
    this.#host.busyChanged();
  }
}
