import type { Clock, Logger } from '../core/index.ts';
import type { EventStore } from './event-store.ts';
import type { TopicCatalog } from './topic-catalog.ts';

/** Deletes what each topic's retention (age, count) allows, now or on a timer. */
export class Retention {
  readonly #topics: TopicCatalog;
  readonly #store: EventStore;
  readonly #clock: Clock;
  readonly #log?: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(topics: TopicCatalog, store: EventStore, clock: Clock, logger?: Logger) {
    this.#topics = topics;
    this.#store = store;
    this.#clock = clock;
    this.#log = logger;
  }

  async enforce(): Promise<number> {
    let deleted = 0;
    for (const topic of await this.#topics.listAll()) deleted += await this.#store.enforceRetention(topic, this.#clock.now());
    if (deleted) this.#log?.info({ deleted }, 'retention removed events');
    return deleted;
  }

  /** Enforces every `intervalMs` (the timer does not keep the process alive); 0 or less: never. */
  start(intervalMs: number): void {
    if (this.#timer || intervalMs <= 0) return;
    const run = () => this.enforce().catch((e) => this.#log?.warn({ err: e }, 'retention failed; will try again'));
    this.#timer = setInterval(run, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
