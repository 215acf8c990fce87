/**
 * Workflow waits for events of the log (`ctx.waitForEvent(topic, { match, timeoutMs })`): the
 * engine records a wait with `register` in its journal transaction; the matcher loop reads the
 * topic, tests each new event against the wait's CEL expression, and delivers the first match
 * once, as the signal `aios.event:<seq>` to the run.
 *
 * @example
 * import { EventWaits, compileMatch } from './workflows/event-waits/index.ts';
 * const waits = new EventWaits({ database, events: log, clock, logger });
 * waits.start();
 */
export { EventWaits } from './event-waits.ts';
export type { EventWaitInput, EventWaitsOptions } from './event-waits.ts';
export { compileMatch, MAX_MATCH_LENGTH } from './cel.ts';
export type { MatchableEvent } from './cel.ts';
export type { Positions } from './wait-rows.ts';
