import type { EmitEvent, EmitResult, EventResult } from './event-port.ts';
import type { Saga } from './saga.ts';

/** How a step is retried. Defaults: 3 attempts, 1 s doubling up to 60 s. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means no retry. */
  readonly maxAttempts: number;
  readonly initialIntervalMs: number;
  /** Multiplier applied to the interval after each failed attempt. */
  readonly backoff: number;
  readonly maxIntervalMs: number;
  /** Error names (`err.name`) that stop retries, as a `TerminalError` does. */
  readonly nonRetryable?: readonly string[];
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ maxAttempts: 3, initialIntervalMs: 1_000, backoff: 2, maxIntervalMs: 60_000 });

export interface StepOptions {
  readonly retry?: Partial<RetryPolicy>;
  /** Each attempt's time limit; an attempt over it fails with StepTimeoutError (retryable). */
  readonly timeoutMs?: number;
}

export interface StepInfo {
  /** `${ns}/${runId}/${position}`: the same across retries and replays; pass it to the outside world. */
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * Emits events to a topic with the step's result: appended in the transaction that journals
   * it, so they are in the log if and only if the step committed (an attempt that fails emits
   * nothing). Ids default to `<runId>:<position>:<index>`.
   *
   * @example
   * await ctx.step('open-work-order', async ({ emit }) => { const wo = await cmms.open(asset); emit('work-orders', { key: asset, data: wo }); return wo.id; });
   */
  emit(topic: string, events: EmitEvent | readonly EmitEvent[]): void;
}

export interface StartChildOptions {
  /** The child's run id (its idempotency key). Default `${parentRunId}:child:${position}`, deterministic. */
  readonly id?: string;
  /** Wait for the child's end and return its output (default), or return `{ id }` at once. */
  readonly wait?: boolean;
}

export type SignalResult<T = unknown> = { readonly timedOut: false; readonly payload: T } | { readonly timedOut: true };

/**
 * What workflow code may use. Everything non-deterministic goes through it and is journaled, so
 * a replay of the code against the journal takes the same path.
 */
export interface WorkflowContext {
  readonly ns: string;
  readonly runId: string;
  /**
   * Runs `fn` once (with retries) and journals its result; on replay the recorded result (or
   * error) comes back without calling `fn`. The result must be JSON.
   *
   * @example
   * const id = await ctx.step('create-ticket', ({ idempotencyKey }) => tickets.create({ asset, idempotencyKey }), { retry: { maxAttempts: 5 } });
   */
  step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, opts?: StepOptions): Promise<T>;
  /** A durable timer: survives restarts. @example await ctx.sleep(30 * 24 * 3600_000); */
  sleep(ms: number): Promise<void>;
  /** @example await ctx.sleepUntil(new Date('2026-03-01T06:00:00Z')); */
  sleepUntil(at: number | Date): Promise<void>;
  /**
   * Sleeps and waits throw `CancelledError` once the run is cancelled (`engine.cancel`): at once
   * when the cancel arrives while the run waits, and again at every later sleep or wait.
   *
   * Waits for a signal sent with `engine.signal(ns, runId, name, payload)`; a signal sent before
   * the wait is taken by it. Never throws on timeout.
   *
   * @example
   * const r = await ctx.waitForSignal<{ by: string }>('approved', { timeoutMs: 48 * 3600_000 });
   * if (r.timedOut) return 'escalated';
   */
  waitForSignal<T = unknown>(name: string, opts?: { timeoutMs?: number }): Promise<SignalResult<T>>;
  /**
   * Waits for an event appended to `topic` after the wait began that matches `match`, a CEL
   * expression over `event` (`id`, `topic`, `key`, `partition`, `offset`, `time`, `data`,
   * `headers`; JSON numbers are doubles). Durable like `waitForSignal`; never throws on timeout.
   *
   * @example
   * const r = await ctx.waitForEvent('inspections', { match: `event.data.asset == '${asset}' && event.data.ok`, timeoutMs: 7 * 86_400_000 });
   * if (r.timedOut) return 'escalated';
   */
  waitForEvent(topic: string, opts?: { match?: string; timeoutMs?: number }): Promise<EventResult>;
  /**
   * Appends events to a topic as a journaled operation of its own (the transactional outbox): in
   * the log if and only if the journal entry committed, once, whatever crashes. Inside a step,
   * use the step's `emit` instead.
   *
   * @example
   * await ctx.emit('maintenance', { key: asset, data: { asset, action: 'inspect' } });
   */
  emit(topic: string, events: EmitEvent | readonly EmitEvent[]): Promise<EmitResult>;
  /** The time, journaled (the same on replay). */
  now(): number;
  /** A random number in [0, 1), journaled. */
  random(): number;
  /** A random UUID, journaled. */
  uuid(): string;
  /** Stores a JSON value on the run, readable with `engine.getRun`. */
  setState(value: unknown): Promise<void>;
  /**
   * True when this run reaches this point on code that has the patch; false for runs whose
   * journal already holds something else here (they started on the old code).
   *
   * @example
   * if (ctx.patched('reorder')) { await ship(); await charge(); } else { await charge(); await ship(); }
   */
  patched(id: string): boolean;
  /**
   * A saga: records compensations as the workflow goes and runs them in reverse, as journaled
   * steps, with `saga.compensate()`. See `Saga`.
   *
   * @example
   * const saga = ctx.saga();
   * await saga.step('reserve', () => stock.reserve(sku), { compensate: ['release', (r) => stock.release(r.id)] });
   * try { await ctx.step('charge', () => payments.charge(order)); } catch (e) { await saga.compensate(); throw e; }
   */
  saga(): Saga;
  /**
   * Starts a child run (same namespace, `parent` set, the parent's lineage), journaled as a
   * 'child' entry holding its id, so a replay never starts a second one. Given a definition, the
   * child is pinned to that definition's version (it must be registered on this engine); given a
   * name, to the highest registered version. With `wait` (the default) the parent waits, durably
   * (released like `waitForSignal`), for the child's end: its output comes back, or a
   * `ChildRunError` carrying the child's error is thrown. With `wait: false` it returns `{ id }`.
   * A cancel or termination of the parent is passed on to the children it awaits (they run
   * their compensations, or end at once), not to those started with `wait: false`.
   *
   * @example
   * const report = await ctx.startChild(inspectAsset, { asset: 'T-7' });
   * const { id } = await ctx.startChild('notify', { to: 'ops' }, { wait: false });
   */
  startChild<O = unknown>(workflow: WorkflowDefinition<any, O> | string, input: unknown, opts: StartChildOptions & { readonly wait: false }): Promise<{ id: string }>;
  startChild<O = unknown>(workflow: WorkflowDefinition<any, O> | string, input?: unknown, opts?: StartChildOptions & { readonly wait?: true }): Promise<O>;
}

export interface WorkflowOptions {
  /** Recorded on each run it starts. */
  readonly version: string;
  /** JSON Schema the input must match (Ajv); checked by `startRun`. */
  readonly input?: Record<string, unknown>;
}

/** Marks what `defineWorkflow` returns, so an app module's exports can be told apart. */
const DEFINITION = Symbol.for('aios.workflow-definition');

/** True for a value made by `defineWorkflow` (in this copy of AIOS or another). */
export function isWorkflowDefinition(value: unknown): value is WorkflowDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINITION] === true;
}

export interface WorkflowDefinition<I = any, O = any> {
  readonly name: string;
  readonly version: string;
  readonly inputSchema?: Record<string, unknown>;
  readonly fn: (ctx: WorkflowContext, input: I) => Promise<O>;
}

/**
 * Defines a workflow. Register it with `engine.register(def)`; nothing registers by import.
 *
 * @example
 * export const inspect = defineWorkflow('inspect', { version: '1', input: { type: 'object', required: ['asset'], properties: { asset: { type: 'string' } } } }, async (ctx, input: { asset: string }) => {
 *   const reading = await ctx.step('read', () => sensors.read(input.asset));
 *   await ctx.sleep(24 * 3600_000);
 *   return ctx.step('report', () => reports.write(input.asset, reading));
 * });
 */
export function defineWorkflow<I = any, O = any>(name: string, opts: WorkflowOptions, fn: (ctx: WorkflowContext, input: I) => Promise<O>): WorkflowDefinition<I, O> {
  if (typeof name !== 'string' || !name) throw new TypeError('a workflow needs a non-empty name');
  if (typeof opts?.version !== 'string' || !opts.version) throw new TypeError(`workflow "${name}" needs a non-empty version`);
  const def = { name, version: opts.version, ...(opts.input ? { inputSchema: opts.input } : {}), fn };
  Object.defineProperty(def, DEFINITION, { value: true });
  return Object.freeze(def);
}
