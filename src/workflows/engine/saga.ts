import type { StepInfo, StepOptions, WorkflowContext } from './define.ts';

/** Runs one compensation as a journaled step; it runs even after the run was cancelled. */
export type CompensationRunner = (name: string, fn: (info: StepInfo) => unknown, opts?: StepOptions) => Promise<unknown>;

export interface SagaStepOptions<T> extends StepOptions {
  /** The compensation recorded once the step succeeds: its step name, and what undoes the step (given its result). */
  readonly compensate?: readonly [name: string, fn: (result: T, info: StepInfo) => unknown];
}

/**
 * Records compensations as the workflow goes, and runs them in reverse order with
 * `compensate()`, each as a journaled step: on replay a compensation that already ran returns
 * its recorded result and is not called again, so each runs once across crashes and replays.
 * Compensations are steps even after a cancel (`CancelledError`), so they run then too.
 *
 * The list of compensations lives in memory and is rebuilt by the replay of the steps that
 * added them; `add` is deterministic workflow code, not a journaled operation.
 *
 * @example
 * const saga = ctx.saga();
 * try {
 *   const slot = await saga.step('reserve-slot', () => slots.reserve(asset), { compensate: ['release-slot', (s) => slots.release(s.id)] });
 *   await ctx.step('order-part', () => parts.order(asset));
 *   saga.add('cancel-part-order', () => parts.cancel(asset));
 *   await ctx.step('book-crew', () => crews.book(asset, slot.id));
 * } catch (e) {
 *   await saga.compensate(); // cancel-part-order, then release-slot
 *   throw e;
 * }
 */
export class Saga {
  readonly #ctx: WorkflowContext;
  readonly #run: CompensationRunner;
  #compensations: { name: string; fn: (info: StepInfo) => unknown; opts?: StepOptions }[] = [];

  constructor(ctx: WorkflowContext, run: CompensationRunner) {
    this.#ctx = ctx;
    this.#run = run;
  }

  /** `ctx.step`, then records `opts.compensate` (bound to the step's result) if the step succeeded. */
  async step<T>(name: string, fn: (info: StepInfo) => Promise<T> | T, opts: SagaStepOptions<T> = {}): Promise<T> {
    const { compensate, ...stepOpts } = opts;
    const result = await this.#ctx.step(name, fn, stepOpts);
    if (compensate) {
      const [cname, cfn] = compensate;
      this.add(cname, (info) => cfn(result, info));
    }
    return result;
  }

  /** Records a compensation for what the workflow just did; it runs (as step `name`) only on `compensate()`. */
  add(name: string, fn: (info: StepInfo) => unknown, opts?: StepOptions): this {
    this.#compensations.push({ name, fn, ...(opts ? { opts } : {}) });
    return this;
  }

  /** Names of the compensations recorded and not yet run, in the order they would run. */
  get pending(): readonly string[] {
    return this.#compensations.map((c) => c.name).reverse();
  }

  /**
   * Runs the recorded compensations in reverse order, each as a journaled step, and forgets them.
   * A compensation that fails (after its retries) does not stop the others; the first failure is
   * thrown once all have been tried.
   */
  async compensate(): Promise<void> {
    const todo = this.#compensations.reverse();
    this.#compensations = [];
    let failure: { error: unknown } | undefined;
    for (const c of todo) {
      try {
        await this.#run(c.name, c.fn, c.opts);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
