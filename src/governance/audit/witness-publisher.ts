import type { Logger } from '../../core/index.ts';
import type { WitnessEntry } from './witness-entry.ts';

/** Somewhere outside the database that keeps every signed checkpoint. */
export interface WitnessSink {
  /** Named in logs, e.g. `file /var/lib/aios-witness/audit.ndjson`. */
  readonly name: string;
  /** Stores one entry durably; rejects to be tried again. */
  deliver(entry: WitnessEntry): Promise<void>;
}

export interface WitnessPublisherOptions {
  readonly sinks: readonly WitnessSink[];
  readonly logger: Logger;
  /** Entries waiting per sink; beyond it the oldest is dropped (each later checkpoint covers it). Default 100. */
  readonly capacity?: number;
  /** Deliveries tried per entry before it is dropped. Default 6. */
  readonly attempts?: number;
  /** First wait between tries, doubled each time up to `retryMaxMs`. Defaults 250 and 10,000 ms. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

interface Lane {
  readonly sink: WitnessSink;
  readonly queue: WitnessEntry[];
  running: Promise<void> | null;
}

/**
 * Publishes each signed checkpoint to every witness sink, off the audit write path: `publish`
 * only queues, and each sink drains its own bounded queue in order, so a slow or dead webhook
 * delays neither the records nor the other witnesses. Retries are bounded per entry; an entry
 * given up on is logged, and the next checkpoint, which covers every record the dropped one did,
 * still reaches the witness.
 *
 * @example
 * const witness = new WitnessPublisher({ sinks: [fileWitness('/var/lib/aios-witness/audit.ndjson')], logger });
 * witness.publish(entry);
 * await witness.flush(5_000); // on shutdown
 */
export class WitnessPublisher {
  readonly #lanes: Lane[];
  readonly #logger: Logger;
  readonly #capacity: number;
  readonly #attempts: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  /** Wakes the retry waits early once a flush gave up, so that nothing outlives the process's intent. */
  #stopping = false;
  readonly #sleeping = new Set<() => void>();

  constructor(opts: WitnessPublisherOptions) {
    this.#lanes = opts.sinks.map((sink) => ({ sink, queue: [], running: null }));
    this.#logger = opts.logger;
    this.#capacity = opts.capacity ?? 100;
    this.#attempts = opts.attempts ?? 6;
    this.#retryBaseMs = opts.retryBaseMs ?? 250;
    this.#retryMaxMs = opts.retryMaxMs ?? 10_000;
  }

  /** True when there is at least one sink. */
  get enabled(): boolean {
    return this.#lanes.length > 0;
  }

  /** Queues `entry` for every sink; never waits, never throws. */
  publish(entry: WitnessEntry): void {
    for (const lane of this.#lanes) {
      if (lane.queue.length >= this.#capacity) {
        const dropped = lane.queue.shift()!;
        this.#logger.warn({ witness: lane.sink.name, seq: dropped.seq }, 'audit witness queue full; dropped the oldest checkpoint (later ones cover its records)');
      }
      lane.queue.push(entry);
      lane.running ??= this.#drain(lane);
    }
  }

  /**
   * Waits until every queued entry was delivered or given up on, at most `timeoutMs`; true when
   * all queues are empty. After a timeout, pending retries stop.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
    const drained = (async () => {
      for (;;) {
        const running = this.#lanes.map((l) => l.running).filter((r): r is Promise<void> => r !== null);
        if (running.length === 0) return true as const;
        await Promise.all(running);
      }
    })();
    const done = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (!done) {
      this.#stopping = true;
      for (const wake of this.#sleeping) wake();
      const left = this.#lanes.reduce((n, l) => n + l.queue.length, 0);
      this.#logger.error({ witnesses: this.#lanes.map((l) => l.sink.name), entries: left }, 'audit witnesses not reached before shutdown');
    }
    return done;
  }

  async #drain(lane: Lane): Promise<void> {
    while (lane.queue.length) {
      const entry = lane.queue[0];
      for (let attempt = 1; ; attempt++) {
        try {
          await lane.sink.deliver(entry);
          break;
        } catch (err) {
          if (attempt >= this.#attempts || this.#stopping) {
            this.#logger.error({ err, witness: lane.sink.name, seq: entry.seq, attempts: attempt }, 'audit witness unreachable; gave up on this checkpoint');
            break;
          }
          this.#logger.warn({ err, witness: lane.sink.name, seq: entry.seq, attempt }, 'audit witness delivery failed; retrying');
          await this.#sleep(Math.min(this.#retryBaseMs * 2 ** (attempt - 1), this.#retryMaxMs));
        }
      }
      // The entry may have been dropped by a full queue meanwhile; remove it only if still first.
      if (lane.queue[0] === entry) lane.queue.shift();
    }
    lane.running = null;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeping.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#sleeping.add(wake);
    });
  }
}
