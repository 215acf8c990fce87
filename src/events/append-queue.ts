import { AiosError } from '../core/index.ts';
import type { AppendBatch, AppendedPosition } from './event-store.ts';

interface Entry {
  readonly batch: AppendBatch;
  resolve(p: AppendedPosition[]): void;
  reject(e: unknown): void;
}

export interface AppendQueueOptions {
  /** Most events waiting or being written; beyond it `push` throws AIOS_OVERLOADED (429). */
  readonly capacity: number;
  /** Most events written in one transaction. */
  readonly maxBatchEvents: number;
  /** Writes `batches` durably, in one transaction. */
  readonly write: (batches: readonly AppendBatch[]) => Promise<AppendedPosition[][]>;
  readonly onFlush?: (events: number, requests: number, seconds: number) => void;
}

/**
 * Group commit. Appends from concurrent callers wait here while the previous transaction
 * commits, then go to disk together in the next one: one fsync for many requests, so
 * throughput grows with load. The queue is bounded in events; a caller that would overflow it
 * is refused at once with 429 and Retry-After, never buffered.
 */
export class AppendQueue {
  readonly #o: AppendQueueOptions;
  #queue: Entry[] = [];
  #pending = 0;
  #writing: Promise<void> | null = null;
  #closed = false;

  constructor(opts: AppendQueueOptions) {
    this.#o = opts;
  }

  /** Events accepted but not yet durable (queued or being written). */
  get depth(): number {
    return this.#pending;
  }

  get capacity(): number {
    return this.#o.capacity;
  }

  push(batch: AppendBatch): Promise<AppendedPosition[]> {
    if (this.#closed) return Promise.reject(new AiosError('AIOS_NOT_READY', 'the event log is shutting down'));
    const n = batch.events.length;
    if (this.#pending + n > this.#o.capacity) {
      return Promise.reject(
        new AiosError('AIOS_OVERLOADED', `the append queue holds ${this.#pending} of ${this.#o.capacity} events; retry shortly`, { extra: { retryAfterSeconds: 1 } }),
      );
    }
    this.#pending += n;
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, resolve, reject });
      if (!this.#writing) this.#writing = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    // Let the current tick's callers join the first transaction too.
    await new Promise<void>((r) => setImmediate(r));
    while (this.#queue.length) {
      const take: Entry[] = [];
      let events = 0;
      while (this.#queue.length && (take.length === 0 || events + this.#queue[0].batch.events.length <= this.#o.maxBatchEvents)) {
        const e = this.#queue.shift()!;
        take.push(e);
        events += e.batch.events.length;
      }
      const started = performance.now();
      try {
        const results = await this.#o.write(take.map((e) => e.batch));
        take.forEach((e, i) => e.resolve(results[i]));
        this.#o.onFlush?.(events, take.length, (performance.now() - started) / 1000);
      } catch (err) {
        if (take.length === 1) take[0].reject(err);
        else await this.#isolate(take);
      } finally {
        this.#pending -= events;
      }
    }
    this.#writing = null;
  }

  /**
   * The shared transaction failed and rolled back. Write each request alone, so one bad request
   * (say, for a topic deleted meanwhile) fails by itself instead of failing its neighbours.
   * Safe to repeat: ids are idempotency keys, and nothing of the failed transaction was kept.
   */
  async #isolate(entries: Entry[]): Promise<void> {
    for (const e of entries) {
      try {
        e.resolve((await this.#o.write([e.batch]))[0]);
      } catch (err) {
        e.reject(err);
      }
    }
  }

  /** Stops taking appends and waits until everything accepted is written. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#writing) await this.#writing;
  }
}
