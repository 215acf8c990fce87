import { isAiosError } from '../../src/core/index.ts';
import type { AppendJournalOptions, JournalEntry, JournalEntryInput, RunStore, Signal } from '../../src/workflows/index.ts';

/**
 * Named fault points at the run store's commit boundaries (DBOS's debugpoint habit). `random` is
 * not a store boundary: the worker fixture arms a timer for it.
 */
export const FAULT_POINTS = ['before-step-commit', 'after-step-commit', 'during-timer', 'during-signal', 'random'] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** `point:n`: die at the n-th occurrence of the point (for `random`, n is the delay in ms). */
export interface Fault {
  readonly point: FaultPoint;
  readonly nth: number;
}

export function parseFault(text: string | undefined): Fault | undefined {
  if (!text) return undefined;
  const [point, n] = text.split(':');
  if (!(FAULT_POINTS as readonly string[]).includes(point) || !Number.isSafeInteger(Number(n)) || Number(n) < 1) {
    throw new Error(`AIOS_FAULT must be <point>:<n> with point one of ${FAULT_POINTS.join(', ')}; got ${text}`);
  }
  return { point: point as FaultPoint, nth: Number(n) };
}

/** One execution of a step by one worker, from the step's first attempt to the end of its journal append. */
export interface StepTrace {
  readonly run: string;
  readonly seq: number;
  readonly name: string;
  readonly worker: string;
  readonly epoch: number;
  readonly start: number;
  readonly end: number;
  /** The append's transaction committed (false: it was rejected, e.g. AIOS_WF_LEASE_LOST). */
  readonly committed: boolean;
  readonly error?: string;
}

export interface FaultRunStoreOptions {
  readonly workerId: string;
  readonly fault?: Fault;
  /** Called at the armed fault point; the worker fixture SIGKILLs its own process here. */
  readonly die: (point: FaultPoint, detail: Record<string, unknown>) => void;
  /** Called once per step append, committed or not. */
  readonly trace?: (t: StepTrace) => void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/**
 * A RunStore that delegates every call to a real one and dies at a named fault point: before a
 * step's journal append is sent, after it committed, a few ms after a sleep was journaled (the
 * sleep then being held in memory or released to the store), or after a signal was taken but
 * before the wait's outcome is journaled. Test-only; it never changes what the store does.
 * `store` is a Proxy over the real store, so every RunStore method, present or future, is
 * delegated; only appendJournal and takeSignal are intercepted.
 */
export class FaultRunStore {
  readonly store: RunStore;
  readonly #inner: RunStore;
  readonly #opts: FaultRunStoreOptions;
  readonly #seen = new Map<FaultPoint, number>();
  readonly #starts = new Map<string, number>();

  constructor(inner: RunStore, opts: FaultRunStoreOptions) {
    this.#inner = inner;
    this.#opts = opts;
    const intercepted: Partial<RunStore> = {
      appendJournal: (...args) => this.#appendJournal(...args),
      takeSignal: (...args) => this.#takeSignal(...args),
    };
    this.store = new Proxy(inner, {
      get(target, prop, receiver) {
        if (Object.hasOwn(intercepted, prop)) return intercepted[prop as keyof RunStore];
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /** Steps call this with their idempotency key when an attempt begins, for the trace. */
  stepStarted(idempotencyKey: string): void {
    if (!this.#starts.has(idempotencyKey)) this.#starts.set(idempotencyKey, Date.now());
  }

  /** Counts an occurrence of `point`; true when it is the armed one. */
  #hit(point: FaultPoint): boolean {
    if (this.#opts.fault?.point !== point) return false;
    const n = (this.#seen.get(point) ?? 0) + 1;
    this.#seen.set(point, n);
    return n === this.#opts.fault.nth;
  }

  async #appendJournal(ns: string, runId: string, epoch: number, entries: readonly JournalEntryInput[], opts?: AppendJournalOptions): Promise<JournalEntry[]> {
    const steps = entries.filter((e) => e.kind === 'step');
    const keys = steps.map((e) => `${ns}/${runId}/${e.seq}`);
    if (steps.length && this.#hit('before-step-commit')) {
      this.#opts.die('before-step-commit', { run: runId, keys });
      return never();
    }
    let stored: JournalEntry[];
    try {
      stored = await this.#inner.appendJournal(ns, runId, epoch, entries, opts);
    } catch (e) {
      this.#trace(ns, runId, epoch, steps, false, isAiosError(e) ? e.code : String(e));
      throw e;
    }
    this.#trace(ns, runId, epoch, steps, true);
    if (steps.length && this.#hit('after-step-commit')) {
      this.#opts.die('after-step-commit', { run: runId, keys });
      return never();
    }
    const sleep = entries.find((e) => e.kind === 'sleep');
    if (sleep && this.#hit('during-timer')) {
      // A few ms later the sleep is held in memory (short) or the run released as waiting (long).
      setTimeout(() => this.#opts.die('during-timer', { run: runId, seq: sleep.seq, wakeAt: (sleep.result as { wakeAt: number }).wakeAt }), 15);
    }
    return stored;
  }

  async #takeSignal(ns: string, runId: string, epoch: number, name: string, journalSeq: number): Promise<Signal | undefined> {
    const signal = await this.#inner.takeSignal(ns, runId, epoch, name, journalSeq);
    if (signal && this.#hit('during-signal')) {
      this.#opts.die('during-signal', { run: runId, signal: name, seq: journalSeq });
      return never();
    }
    return signal;
  }

  #trace(ns: string, runId: string, epoch: number, steps: JournalEntryInput[], committed: boolean, error?: string): void {
    const end = Date.now();
    for (const s of steps) {
      const key = `${ns}/${runId}/${s.seq}`;
      const start = this.#starts.get(key) ?? end;
      this.#starts.delete(key);
      this.#opts.trace?.({ run: runId, seq: s.seq, name: s.name, worker: this.#opts.workerId, epoch, start, end, committed, ...(error ? { error } : {}) });
    }
  }
}
