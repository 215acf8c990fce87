import { AiosError } from '../core/index.ts';

/**
 * A result a commit function gives for one item that failed by itself while the others of the
 * batch committed (a run store write whose lease was lost, found before it wrote anything): that
 * item's caller gets `error`, the rest of the batch its results.
 */
export class ItemFailed {
  constructor(readonly error: unknown) {}
}

/** What `afterBatch` is told about a batch once its callers are answered. */
export interface BatchReport {
  /** Items in the batch. */
  readonly items: number;
  /** Their weight (events, records; items when unweighed). */
  readonly weight: number;
  /** Time from the start of the batch's commit until its callers were answered. */
  readonly seconds: number;
  /** The batch committed as one; false when it failed whole and each item went alone. */
  readonly together: boolean;
}

export interface GroupCommitOptions<T, R> {
  /**
   * Most weight waiting or committing; a push beyond it is refused at once with AIOS_OVERLOADED
   * (429, Retry-After 1 s), never buffered. `Infinity` when the callers are bounded upstream.
   */
  readonly capacity: number;
  /** Most weight committed together; an item heavier than that still goes, alone. */
  readonly maxBatch: number;
  /** An item's weight (events in a request, records in a call). Default 1. */
  readonly weigh?: (item: T) => number;
  /**
   * Commits `items` durably, as one: one result per item, in order. An `ItemFailed` result fails
   * that item alone. Throwing means nothing of the batch was kept; each item is then committed
   * alone with `commitOne`, so one bad item fails by itself. Items must be safe to commit again
   * after a failed batch (idempotency keys, or nothing kept).
   */
  readonly commit: (items: readonly T[]) => Promise<readonly (R | ItemFailed)[]>;
  /** Commits one item alone: a batch of one, and the retries of a failed batch. Default: `commit([item])`. */
  readonly commitOne?: (item: T) => Promise<R>;
  /**
   * An idle queue waits one turn of the event loop before its first commit, so that the callers
   * of the same tick share it. Without, an item arriving at an idle queue is committed at once.
   */
  readonly gatherTick?: boolean;
  /** Runs after each batch, once its callers are answered, before the next; awaited, its errors ignored. */
  readonly afterBatch?: (report: BatchReport) => void | Promise<void>;
  /** The AIOS_OVERLOADED message, e.g. `the audit trail has ${depth} of ${capacity} entries waiting; retry shortly`. */
  readonly overloadedMessage: (depth: number, capacity: number) => string;
  /** The AIOS_NOT_READY message for a push after `close`. */
  readonly closedMessage: string;
}

interface Waiting<T, R> {
  readonly item: T;
  readonly weight: number;
  resolve(result: R): void;
  reject(e: unknown): void;
}

/**
 * Group commit: items that arrive while a commit is in flight wait, then commit together in the
 * next one, so one transaction (one fsync, one lock of a chain head) serves many callers and
 * throughput grows with load. An item that finds the queue idle is committed at once (or after
 * the current tick, with `gatherTick`). Each caller gets its own result or error: a batch that
 * fails whole is retried item by item. Bounded in weight: an overflowing caller is refused at
 * once. `close` stops intake and waits until everything accepted is committed.
 *
 * @example
 * const q = new GroupCommit<Draft, Row>({
 *   capacity: 10_000, maxBatch: 1000, commit: (drafts) => insertAll(db, drafts),
 *   overloadedMessage: (d, c) => `the ledger has ${d} of ${c} rows waiting; retry shortly`, closedMessage: 'the ledger is closed',
 * });
 * const row = await q.push(draft);
 * await q.close();
 */
export class GroupCommit<T, R> {
  readonly #o: GroupCommitOptions<T, R>;
  #queue: Waiting<T, R>[] = [];
  #depth = 0;
  #draining: Promise<void> | null = null;
  #closed = false;

  constructor(opts: GroupCommitOptions<T, R>) {
    this.#o = opts;
  }

  /** Weight accepted but not yet committed (waiting or committing). */
  get depth(): number {
    return this.#depth;
  }

  get capacity(): number {
    return this.#o.capacity;
  }

  /** Resolves with the item's result once it is committed. */
  push(item: T): Promise<R> {
    if (this.#closed) return Promise.reject(new AiosError('AIOS_NOT_READY', this.#o.closedMessage));
    const weight = this.#o.weigh ? this.#o.weigh(item) : 1;
    if (this.#depth + weight > this.#o.capacity) {
      return Promise.reject(new AiosError('AIOS_OVERLOADED', this.#o.overloadedMessage(this.#depth, this.#o.capacity), { extra: { retryAfterSeconds: 1 } }));
    }
    this.#depth += weight;
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, weight, resolve, reject });
      if (!this.#draining) this.#draining = this.#drain();
    });
  }

  /** Stops taking items and waits until everything accepted is committed. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    if (this.#o.gatherTick) await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.#queue.length) {
        const take = this.#take();
        let weight = 0;
        for (const w of take) weight += w.weight;
        const started = performance.now();
        const together = take.length === 1 ? await this.#one(take[0]) : await this.#together(take);
        const hook = this.#o.afterBatch;
        if (hook) {
          try {
            const p = hook({ items: take.length, weight, seconds: (performance.now() - started) / 1000, together });
            if (p) await p;
          } catch {
            // The hook's errors are its own to handle; the queue must keep draining.
          }
        }
      }
    } finally {
      this.#draining = null;
    }
  }

  /** The next batch: the head of the queue, then as many as fit in maxBatch. */
  #take(): Waiting<T, R>[] {
    const q = this.#queue;
    let n = 1;
    let weight = q[0].weight;
    while (n < q.length && weight + q[n].weight <= this.#o.maxBatch) weight += q[n++].weight;
    return n === q.length ? ((this.#queue = []), q) : q.splice(0, n);
  }

  async #together(take: Waiting<T, R>[]): Promise<boolean> {
    let results: readonly (R | ItemFailed)[];
    try {
      results = await this.#o.commit(take.map((w) => w.item));
    } catch {
      // Nothing of the batch was kept: commit each alone, so a bad one fails by itself.
      for (const w of take) await this.#one(w);
      return false;
    }
    take.forEach((w, i) => this.#settle(w, results[i]));
    return true;
  }

  /** Commits one item alone and answers its caller; whether it committed. */
  async #one(w: Waiting<T, R>): Promise<boolean> {
    try {
      this.#settle(w, this.#o.commitOne ? await this.#o.commitOne(w.item) : (await this.#o.commit([w.item]))[0]);
      return true;
    } catch (e) {
      this.#settle(w, new ItemFailed(e));
      return false;
    }
  }

  /** Answers a caller; its weight leaves the depth first, so the caller sees it gone. */
  #settle(w: Waiting<T, R>, result: R | ItemFailed): void {
    this.#depth -= w.weight;
    if (result instanceof ItemFailed) w.reject(result.error);
    else w.resolve(result);
  }
}
