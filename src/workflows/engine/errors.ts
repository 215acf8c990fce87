import { AiosError } from '../../core/index.ts';
import type { RunError, RunStatus } from '../store/run-store.ts';
import { WorkflowsError } from '../errors.ts';

/**
 * An error that retrying will not fix: thrown from a step, it stops the step's retries at once
 * and the recorded error is thrown into the workflow; thrown from the workflow, it fails the run.
 *
 * @example
 * await ctx.step('charge', async () => {
 *   const r = await payments.charge(order);
 *   if (r.declined) throw new TerminalError(`card declined for order ${order.id}`);
 *   return r.id;
 * });
 */
export class TerminalError extends Error {
  readonly code?: string;
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'TerminalError';
    this.code = opts.code;
  }
}

/**
 * The workflow code called something other than what the run's journal recorded at the same
 * position: replaying it would silently mix two versions of the code. Terminal; the run fails.
 * Guard changed code for runs already under way with `ctx.patched(id)`.
 */
export class NonDeterminismError extends AiosError {
  readonly position: number;
  constructor(position: number, detail: string) {
    super('AIOS_WF_NON_DETERMINISM', detail, { extra: { position }, spec: WorkflowsError.specs.AIOS_WF_NON_DETERMINISM });
    this.name = 'NonDeterminismError';
    this.position = position;
  }
}

/** A step attempt that ran longer than its `timeoutMs`; retried like any other failure. */
export class StepTimeoutError extends Error {
  constructor(step: string, timeoutMs: number) {
    super(`step "${step}" did not finish within ${timeoutMs} ms`);
    this.name = 'StepTimeoutError';
  }
}

/** A step error as recorded in the journal, thrown again into the workflow on every execution. */
export class StepError extends Error {
  readonly code?: string;
  constructor(name: string, message: string, code?: string) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

/**
 * A child run started with `ctx.startChild(..., { wait: true })` ended other than 'completed'
 * (failed, cancelled, terminated). A StepError: thrown into the parent at the same point on
 * every replay; uncaught, it fails the parent with the child's error code.
 */
export class ChildRunError extends StepError {
  readonly childId: string;
  readonly status: RunStatus;
  readonly childError?: RunError;
  constructor(ns: string, childId: string, status: RunStatus, error?: RunError) {
    super('ChildRunError', `child workflow run ${ns}/${childId} ended ${status}${error ? `: ${error.name}: ${error.message}` : ''}`, error?.code);
    this.childId = childId;
    this.status = status;
    if (error) this.childError = error;
  }
}

/** Why a run was cancelled, as given to `engine.cancel` and recorded in the journal's cancel marker. */
export interface CancelInfo {
  readonly reason?: string;
  readonly by?: string;
}

/**
 * The run was cancelled (`engine.cancel`). Thrown into the workflow code at its next step, sleep
 * or wait; the code may catch it to run compensation steps (steps still run after a cancel, but
 * every later sleep or wait throws it again at once). Rethrown or not, the run ends 'cancelled'.
 * Terminal (AIOS_WF_CANCELLED, 409).
 *
 * @example
 * try {
 *   await ctx.waitForSignal('approved');
 * } catch (e) {
 *   if (e instanceof CancelledError) await ctx.step('release-slot', () => slots.release(id));
 *   throw e;
 * }
 */
export class CancelledError extends AiosError {
  readonly reason?: string;
  readonly by?: string;
  constructor(ns: string, runId: string, info: CancelInfo = {}) {
    super('AIOS_WF_CANCELLED', `workflow run ${ns}/${runId} was cancelled${info.by ? ` by ${info.by}` : ''}${info.reason ? `: ${info.reason}` : ''}`, {
      extra: { ns, runId, ...(info.reason !== undefined ? { reason: info.reason } : {}), ...(info.by !== undefined ? { by: info.by } : {}) },
      spec: WorkflowsError.specs.AIOS_WF_CANCELLED,
    });
    this.name = 'CancelledError';
    if (info.reason !== undefined) this.reason = info.reason;
    if (info.by !== undefined) this.by = info.by;
  }
}
