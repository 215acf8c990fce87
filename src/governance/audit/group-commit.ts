import { AiosError } from '../../core/index.ts';

interface Waiting<T, R> {
  readonly items: readonly T[];
  resolve(results: R[]): void;
  reject(e: unknown): void;
}

export interface GroupCommitOptions<T, R> {
  /** Most items waiting or being written; beyond it `push` rejects with AIOS_OVERLOADED (429). */
  readonly capacity: number;
  /** Most items written in one transaction (one request is never split). */
  readonly maxBatch: number;
  /** Writes `items` durably in one transaction; returns one result per item, in order. */
  readonly write: (items: readonly T[]) => Promise<R[]>;
  /** Runs after each commit, once its callers are answered, before the next batch is written. */
  readonly afterWrite?: () => Promise<void>;
  /** Named in error messages, e.g. "the audit trail". */
  readonly what: string;
}

/**
 * Group commit: callers that arrive while a transaction commits wait, then go to disk together
 * in the next one, so one fsync (and, for the audit chain, one lock of the head row) serves many
 * callers and throughput grows with load. Bounded: an overflowing caller is refused at once, never
 * buffered. The same shape as the event log's AppendQueue, over plain items.
 */
export class GroupCommitQueue<T, R> {
  readonly #o: GroupCommitOptions<T, R>;
  #queue: Waiting<T, R>[] = [];
  #pending = 0;
  #draining: Promise<void> | null = null;
  #closed = false;

  constructor(opts: GroupCommitOptions<T, R>) {
    this.#o = opts;
  }

  /** Items accepted but not yet committed. */
  get depth(): number {
    return this.#pending;
  }

  push(items: readonly T[]): Promise<R[]> {
    if (this.#closed) return Promise.reject(new AiosError('AIOS_NOT_READY', `${this.#o.what} is closed`));
    if (this.#pending + items.length > this.#o.capacity) {
      return Promise.reject(
        new AiosError('AIOS_OVERLOADED', `${this.#o.what} has ${this.#pending} of ${this.#o.capacity} entries waiting; retry shortly`, { extra: { retryAfterSeconds: 1 } }),
      );
    }
    this.#pending += items.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ items, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // Let the callers of the current tick join the first transaction.
    await new Promise<void>((r) => setImmediate(r));
    while (this.#queue.length) {
      const take: Waiting<T, R>[] = [];
      let n = 0;
      while (this.#queue.length && (take.length === 0 || n + this.#queue[0].items.length <= this.#o.maxBatch)) {
        const w = this.#queue.shift()!;
        take.push(w);
        n += w.items.length;
      }
      try {
        const results = await this.#o.write(take.flatMap((w) => w.items));
        let at = 0;
        for (const w of take) {
          w.resolve(results.slice(at, at + w.items.length));
          at += w.items.length;
        }
      } catch (err) {
        if (take.length === 1) take[0].reject(err);
        else await this.#isolate(take);
      } finally {
        this.#pending -= n;
      }
      // Its errors are the hook's to handle; the queue must keep draining.
      await this.#o.afterWrite?.().catch(() => undefined);
    }
    this.#draining = null;
  }

  /** The shared transaction rolled back: write each request alone, so a bad one fails by itself. */
  async #isolate(take: Waiting<T, R>[]): Promise<void> {
    for (const w of take) {
      try {
        w.resolve(await this.#o.write(w.items));
      } catch (err) {
        w.reject(err);
      }
    }
  }

  /** Stops taking items and waits until everything accepted is committed. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining) await this.#draining;
  }
}
