import { isAiosError, uuidv7, type Clock, type Logger } from '../../core/index.ts';
import type { RunError, RunPatch, RunStore, WorkflowRun } from '../store/run-store.ts';
import type { WorkflowDefinition } from './define.ts';
import type { DefinitionRegistry } from './registry.ts';
import { NonDeterminismError, type CancelInfo } from './errors.ts';
import type { RunRecorder } from './recorder.ts';
import type { WorkflowEventPort } from './event-port.ts';
import type { WorkflowMetrics } from './workflow-metrics.ts';
import { Execution, type ExecutionHost } from './execution.ts';
import type { LocalWorker, WorkflowClient } from './workflow-client.ts';
import { CANCEL_SIGNAL, type ChildOutcome } from './signals.ts';
import { toError } from './timers.ts';

/** How long a run whose pinned version is not registered on this worker waits before it is claimable again. Default 30 s. */
export const MISSING_VERSION_BACKOFF_MS = 30_000;

export interface WorkflowWorkerOptions {
  readonly store: RunStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The code runs execute: a claimed run runs the definition it is pinned to. */
  readonly definitions: DefinitionRegistry;
  /**
   * What the runs held here use to start children and to send a child's end to its parent. The
   * worker attaches itself to it, so that the client's changes reach the runs held here at once.
   */
  readonly client: WorkflowClient;
  /** Unique per process; a UUIDv7 when absent. */
  readonly workerId?: string;
  /** A worker silent for this long loses its runs to other workers. Default 10 s. */
  readonly leaseMs?: number;
  /** How often the loop looks for runnable runs when nothing wakes it. Default 200 ms. */
  readonly pollMs?: number;
  /** Waits that end within this many ms keep the run in memory; longer ones release it. Default 30 s. */
  readonly holdMs?: number;
  /** Most runs held in memory at once. Default 100. */
  readonly maxConcurrent?: number;
  /** Audit records and lineage nodes of what runs do; none when absent. */
  readonly recorder?: RunRecorder;
  /** The event log, for `ctx.emit` and `ctx.waitForEvent`; both refuse without it. */
  readonly events?: WorkflowEventPort;
  readonly metrics?: WorkflowMetrics;
}

const key = (ns: string, id: string): string => `${ns}\u0000${id}`;

/**
 * Executes runs: claims runnable runs from the store with a lease, executes them in memory
 * (replaying the journal once, at claim), records their end, and releases them to the store
 * while they wait long. Starts nothing by itself: runs come from a WorkflowClient, here or in
 * another process.
 */
export class WorkflowWorker implements LocalWorker {
  readonly workerId: string;
  readonly #store: RunStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #maxConcurrent: number;
  readonly #recorder?: RunRecorder;
  readonly #metrics?: WorkflowMetrics;
  readonly #client: WorkflowClient;
  readonly #host: ExecutionHost;
  /** name -> version -> definition: every registered version is kept, runs execute the one they are pinned to. */
  readonly #defs: DefinitionRegistry;
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

  constructor(opts: WorkflowWorkerOptions) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#defs = opts.definitions;
    this.#client = opts.client;
    this.workerId = opts.workerId ?? `worker-${uuidv7()}`;
    this.#leaseMs = opts.leaseMs ?? 10_000;
    this.#pollMs = opts.pollMs ?? 200;
    this.#maxConcurrent = opts.maxConcurrent ?? 100;
    const holdMs = opts.holdMs ?? 30_000;
    this.#recorder = opts.recorder;
    this.#metrics = opts.metrics;
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
      startChild: (parent, name, version, input, id, wait) => this.#client.startChild(parent, name, version, input, id, wait),
    };
    this.#client.attach(this);
  }

  /**
   * A signal `name` was stored for a run (by a client here, the event-wait matcher, another
   * process): a wait held in memory here looks at once, and the loop claims.
   */
  notify(ns: string, id: string, name: string): void {
    const exec = this.#active.get(key(ns, id));
    if (name === CANCEL_SIGNAL) exec?.requestCancel();
    else exec?.notify(name);
    this.wake();
  }

  /** A cancel was requested through a client here, with its reason: a sleep or wait held here ends at once. */
  cancelRequested(ns: string, id: string, info: CancelInfo): void {
    this.#active.get(key(ns, id))?.requestCancel(info);
    this.wake();
  }

  /** The run was terminated: its execution here, if any, is dropped now. */
  terminated(ns: string, id: string): void {
    this.#active.get(key(ns, id))?.abandon();
  }

  /** There may be runnable runs: the loop claims now instead of at its next poll. */
  wake(): void {
    this.#kicked = true;
    this.#kick?.();
  }

  /** Starts the loop: heartbeat, claim runnable runs, execute them. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#draining = false;
    this.#unlisten = this.#store.listen?.(this.#logger, (w) => (w.id && w.signal ? this.notify(w.ns, w.id, w.signal) : this.wake()));
    this.#loopDone = this.#loop();
  }

  /**
   * Stops claiming, lets steps in flight finish, releases the runs held here and removes this
   * worker. `{ removeWorker: false }` only stops the loop and leaves runs and lease as they are,
   * as a crashed process would (for tests of recovery).
   */
  async stop(opts: { removeWorker?: boolean } = {}): Promise<void> {
    this.#running = false;
    this.wake();
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

  /** How many runs this worker holds in memory. */
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
    const { ns, runId } = exec;
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
        await this.#client.notifyParent(run, { status: patch.status, output: patch.output, ...(patch.error ? { error: patch.error } : {}) }, true);
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
      { ns: run.ns, runId: run.id, workflow: `${run.name}@${run.version}`, registered: this.#defs.versions(run.name), workerId: this.workerId, wakeAt },
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
