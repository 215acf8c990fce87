import { AiosError, type Clock } from '../../core/index.ts';

/** A timer on the injected clock; clocks without timers fall back to setTimeout on their time. */
export function setTimer(clock: Clock, atMs: number, fn: () => void): () => void {
  if (clock.setTimer) return clock.setTimer(atMs, fn);
  const t = setTimeout(fn, Math.max(0, atMs - clock.now()));
  return () => clearTimeout(t);
}

/** What workflow code threw, as an Error (a thrown non-Error becomes AIOS_INTERNAL naming it). */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new AiosError('AIOS_INTERNAL', `a non-Error value was thrown: ${String(e)}`);
}
