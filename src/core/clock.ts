/** Time comes from an injected clock so that a virtual clock reaches everything. */
export interface Clock {
  /** Epoch milliseconds, UTC. */
  now(): number;
  /**
   * Calls `fn` once, when the clock reaches `atMs` (at once if it already has); returns a
   * function that cancels the timer. Optional: clocks without it are driven by callers.
   *
   * @example
   * const cancel = clock.setTimer?.(clock.now() + 5_000, () => wake());
   */
  setTimer?(atMs: number, fn: () => void): () => void;
}

// setTimeout takes at most 2^31 - 1 ms; longer timers re-arm until due.
const MAX_TIMEOUT_MS = 2_147_483_647;

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(atMs: number, fn: () => void): () => void {
    let handle: ReturnType<typeof setTimeout>;
    const arm = (): void => {
      const delay = atMs - Date.now();
      if (delay > MAX_TIMEOUT_MS) handle = setTimeout(arm, MAX_TIMEOUT_MS);
      else handle = setTimeout(fn, Math.max(0, delay));
    };
    arm();
    return () => clearTimeout(handle);
  },
});

/**
 * A clock the caller moves by hand; for tests and simulations. Timers fire, in order of their
 * due time, inside `set` and `advance` once the clock reaches them.
 *
 * @example
 * const clock = new ManualClock();
 * clock.setTimer(clock.now() + 1_000, () => console.log('due'));
 * clock.advance(1_000); // logs "due"
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #nextId = 0;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  set(ms: number): void {
    this.#now = ms;
    this.#fire();
  }
  advance(ms: number): void {
    this.set(this.#now + ms);
  }
  setTimer(atMs: number, fn: () => void): () => void {
    const id = this.#nextId++;
    this.#timers.push({ at: atMs, fn, id });
    // Async, as a real timer would be: the caller finishes arming before the callback runs.
    if (atMs <= this.#now) queueMicrotask(() => this.#fire());
    return () => {
      this.#timers = this.#timers.filter((t) => t.id !== id);
    };
  }
  /** The due time of the earliest pending timer, if any. */
  nextTimerAt(): number | undefined {
    return this.#timers.reduce<number | undefined>((min, t) => (min === undefined || t.at < min ? t.at : min), undefined);
  }
  #fire(): void {
    const due = this.#timers.filter((t) => t.at <= this.#now).sort((a, b) => a.at - b.at || a.id - b.id);
    if (!due.length) return;
    this.#timers = this.#timers.filter((t) => t.at > this.#now);
    for (const t of due) t.fn();
  }
}

export function toRfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** Accepts an RFC 3339 string or epoch milliseconds; returns epoch ms or undefined when invalid. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || value.length > 64) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
