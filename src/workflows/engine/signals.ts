import type { RunError, RunStatus } from '../store/run-store.ts';

/**
 * The signal names the engine reserves (`aios.` ...): how a cancel's reason, a child's end and an
 * event wait's match reach a run through the same durable signal path as user signals. User code
 * and the API may not send them.
 */
export const RESERVED_SIGNAL_PREFIX = 'aios.';

/** The reserved signal `engine.cancel` stores the reason in, so that any process that observes the cancel can journal it. */
export const CANCEL_SIGNAL = 'aios.cancel';

/** The reserved signal a child run's end is sent to its parent in: `aios.child:<childId>`, payload a ChildOutcome. */
export const childSignal = (childId: string): string => `aios.child:${childId}`;

/** The reserved signal an event wait's match is delivered in: `aios.event:<wait position>`, payload `{ event }`. */
export const eventSignal = (seq: number): string => `aios.event:${seq}`;

/** The payload of a child's end signal. */
export interface ChildOutcome {
  readonly status: RunStatus;
  readonly output?: unknown;
  readonly error?: RunError;
}
