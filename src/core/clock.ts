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

/** The earliest instant RFC 3339 can write: 0000-01-01T00:00:00.000Z, in epoch milliseconds. */
export const MIN_TIME_MS = -62_167_219_200_000;
/** The latest instant RFC 3339 can write: 9999-12-31T23:59:59.999Z, in epoch milliseconds. */
export const MAX_TIME_MS = 253_402_300_799_999;

/**
 * Epoch milliseconds as RFC 3339 (UTC, milliseconds). Never throws: a time outside years
 * 0000-9999 (stored by an older build, or written to the database directly) renders as the
 * nearest bound, and a value that is not a number as the epoch, 1970-01-01T00:00:00.000Z.
 *
 * @example
 * toRfc3339(0); // '1970-01-01T00:00:00.000Z'
 * toRfc3339(9007199254740991); // '9999-12-31T23:59:59.999Z'
 */
export function toRfc3339(ms: number): string {
  const t = typeof ms === 'number' && Number.isFinite(ms) ? Math.min(Math.max(Math.trunc(ms), MIN_TIME_MS), MAX_TIME_MS) : 0;
  return new Date(t).toISOString();
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/i;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  return month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS_IN_MONTH[month - 1];
}

/**
 * Accepts an RFC 3339 string or epoch milliseconds; returns epoch ms, or undefined when it is
 * invalid (no such day or hour, `2026-02-30`, `24:00:00`) or outside what RFC 3339 can write
 * (MIN_TIME_MS to MAX_TIME_MS, years 0000 to 9999 in UTC), so every accepted time renders back.
 */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= MIN_TIME_MS && value <= MAX_TIME_MS ? value : undefined;
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || ms < MIN_TIME_MS || ms > MAX_TIME_MS ? undefined : ms;
}
