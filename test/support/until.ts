/**
 * The default bound of `until`: far above what anything a test waits for takes, even on a machine
 * whose two cores run a load of ten; reached only when the awaited thing never happens.
 */
export const LIVENESS_MS = 120_000;

/**
 * Polls `probe` until it gives something other than `undefined`, `null` or `false`, and returns
 * that; throws naming `what` when `timeoutMs` (real time) passes first. A liveness bound for tests,
 * never an assertion about speed: keep it far above how long the thing should take.
 *
 * @example const run = await until(async () => (await engine.getRun(ns, id))?.status === 'completed' && run, 'the run to complete');
 */
export async function until<T>(probe: () => Promise<T> | T, what = 'a condition', timeoutMs = LIVENESS_MS, everyMs = 10): Promise<Exclude<T, undefined | null | false>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, undefined | null | false>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
