import type { JournalEntry, ListRunsOptions, RunPage, WorkflowRun } from '../store/run-store.ts';
import type { WorkflowDefinition } from './define.ts';
import { DefinitionRegistry } from './registry.ts';
import type { Registry } from 'prom-client';
import { WorkflowMetrics } from './workflow-metrics.ts';
import { WorkflowClient, type CancelOptions, type SignalOptions, type StartRunOptions, type TerminateOptions } from './workflow-client.ts';
import { WorkflowWorker, type WorkflowWorkerOptions } from './workflow-worker.ts';

/** The worker's options (the engine makes the definitions and the client), and where its metrics go. */
export interface WorkflowEngineOptions extends Omit<WorkflowWorkerOptions, 'definitions' | 'client' | 'metrics'> {
  /** Prometheus registry for the engine's metrics (runs started and ended, steps, run duration). */
  readonly metrics?: Registry;
}

/**
 * Runs durable workflows on a RunStore: one front over the definitions, a client (start, signal,
 * cancel, terminate, retry, and reading runs) and a worker (the claim loop that executes runs).
 * Runs are claimed with a lease, executed in memory (replaying the journal once, at claim), and
 * released to the store while they wait long. A process that only starts and serves runs never
 * calls `start()`: the client alone is used, and the worker claims nothing.
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
  /** name -> version -> definition: every registered version is kept, runs execute the one they are pinned to. */
  readonly #defs = new DefinitionRegistry();
  readonly #client: WorkflowClient;
  readonly #worker: WorkflowWorker;

  constructor(opts: WorkflowEngineOptions) {
    const { metrics: registry, ...workerOpts } = opts;
    const metrics = registry ? new WorkflowMetrics(registry, () => this.#worker.inMemory) : undefined;
    this.#client = new WorkflowClient({ store: opts.store, logger: opts.logger, definitions: this.#defs, recorder: opts.recorder, metrics });
    this.#worker = new WorkflowWorker({ ...workerOpts, definitions: this.#defs, client: this.#client, metrics });
    this.workerId = this.#worker.workerId;
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

  /** The registered workflows: each name with its versions, lowest first. */
  definitions(): { name: string; versions: string[] }[] {
    return this.#defs.list();
  }

  /**
   * Creates a run (idempotent by `id`), pinned to `opts.version` or else the highest registered
   * version, and wakes the worker loop. Throws AIOS_NOT_FOUND for an unregistered name or
   * version and AIOS_VALIDATION when the input does not match the definition's schema.
   */
  startRun(ns: string, name: string, input?: unknown, opts: StartRunOptions = {}): Promise<WorkflowRun> {
    return this.#client.startRun(ns, name, input, opts);
  }

  /** `startRun`, also saying whether the run was created (false: the id existed, the stored run is returned). */
  submit(ns: string, name: string, input?: unknown, opts: StartRunOptions = {}): Promise<{ run: WorkflowRun; created: boolean }> {
    return this.#client.submit(ns, name, input, opts);
  }

  /**
   * Retries a failed run from its failed step (see `RunStore.retry`): the step runs again with
   * the same idempotency key, after a replay of everything before it. AIOS_CONFLICT unless failed.
   *
   * @example
   * await engine.retry('plant-a', run.id);
   */
  retry(ns: string, id: string, opts: SignalOptions = {}): Promise<WorkflowRun> {
    return this.#client.retry(ns, id, opts);
  }

  /**
   * Checks that `name` (at `version`, default the highest registered) is registered here and
   * that `input` matches its schema, without starting anything: AIOS_NOT_FOUND or
   * AIOS_VALIDATION, as `startRun` would throw. Returns the version a run would be pinned to.
   */
  validateInput(name: string, input: unknown, version?: string): string {
    return this.#client.validateInput(name, input, version);
  }

  getRun(ns: string, id: string): Promise<WorkflowRun | undefined> {
    return this.#client.getRun(ns, id);
  }

  /** The run's journal: every step, timer, signal and recorded value, in order. */
  history(ns: string, id: string): Promise<JournalEntry[]> {
    return this.#client.history(ns, id);
  }

  /**
   * Tells this engine that signal `name` was stored for a run by someone else (the event-wait
   * matcher, another process): a wait held in memory here looks at once, and the loop claims.
   */
  notify(ns: string, id: string, name: string): void {
    this.#worker.notify(ns, id, name);
  }

  /** Runs of a namespace in creation order, filtered by name, status and creation time; page with `next`. */
  listRuns(ns: string, opts: ListRunsOptions): Promise<RunPage> {
    return this.#client.listRuns(ns, opts);
  }

  /** Stores a signal; a wait for it in this process wakes at once, a released run is woken by the store. */
  signal(ns: string, id: string, name: string, payload?: unknown, opts: SignalOptions = {}): Promise<{ seq: number }> {
    return this.#client.signal(ns, id, name, payload, opts);
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
  cancel(ns: string, id: string, opts: CancelOptions = {}): Promise<WorkflowRun> {
    return this.#client.cancel(ns, id, opts);
  }

  /**
   * Ends a run at once with status 'terminated': no more workflow code runs, no compensation.
   * If this process holds the run, its execution is dropped now; another holder is fenced out
   * (the epoch is bumped) and drops the run at its next write. A finished run is returned as it is.
   *
   * @example
   * await engine.terminate('plant-a', run.id, { reason: 'stuck on a retired API', by: 'user:ops' });
   */
  terminate(ns: string, id: string, opts: TerminateOptions = {}): Promise<WorkflowRun> {
    return this.#client.terminate(ns, id, opts);
  }

  /** Starts the worker loop: heartbeat, claim runnable runs, execute them. */
  start(): void {
    this.#worker.start();
  }

  /**
   * Stops claiming, lets steps in flight finish, releases the runs held here and removes this
   * worker. `{ removeWorker: false }` only stops the loop and leaves runs and lease as they are,
   * as a crashed process would (for tests of recovery).
   */
  stop(opts: { removeWorker?: boolean } = {}): Promise<void> {
    return this.#worker.stop(opts);
  }

  /**
   * Claims and executes runnable runs until none is runnable now and every run held in memory
   * waits for a timer or a signal. For tests and one-shot workers; `start()` does this continuously.
   */
  drain(): Promise<void> {
    return this.#worker.drain();
  }

  /** How many runs this engine holds in memory. */
  get inMemory(): number {
    return this.#worker.inMemory;
  }
}
