import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AcceptedItem, EventLog } from './event-log.ts';
import type { Topic } from './topic.ts';

/** Prometheus metrics of the event log, registered on the registry the runtime passes in. */
export class EventMetrics {
  readonly #appended: Counter<'ns' | 'topic'>;
  readonly #duplicates: Counter<'ns' | 'topic'>;
  readonly #rejected: Counter<'ns' | 'topic'>;
  readonly #flushEvents: Histogram;
  readonly #flushSeconds: Histogram;

  constructor(registry: Registry, log: EventLog) {
    const registers = [registry];
    this.#appended = new Counter({ name: 'aios_events_appended_total', help: 'Events appended (new, not duplicates)', labelNames: ['ns', 'topic'], registers });
    this.#duplicates = new Counter({ name: 'aios_events_duplicates_total', help: 'Appends of an id already in the log', labelNames: ['ns', 'topic'], registers });
    this.#rejected = new Counter({ name: 'aios_events_rejected_total', help: 'Events refused by validation', labelNames: ['ns', 'topic'], registers });
    this.#flushEvents = new Histogram({ name: 'aios_events_commit_batch_events', help: 'Events per group-commit transaction', buckets: [1, 10, 100, 1000, 5000, 10000], registers });
    this.#flushSeconds = new Histogram({ name: 'aios_events_commit_seconds', help: 'Duration of a group-commit transaction', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers });
    new Gauge({
      name: 'aios_events_append_queue_depth',
      help: 'Events accepted and not yet durable',
      registers,
      collect() {
        this.set(log.queueDepth);
      },
    });
    new Gauge({
      name: 'aios_consumer_lag',
      help: 'Events in the topic not yet committed by the consumer group',
      labelNames: ['ns', 'topic', 'group'],
      registers,
      async collect() {
        this.reset();
        for (const l of await log.allLags()) this.set({ ns: l.ns, topic: l.topic, group: l.group }, l.lag);
      },
    });
  }

  appended(topic: Topic, items: readonly AcceptedItem[]): void {
    let dup = 0;
    for (const i of items) if (i.duplicate) dup++;
    if (items.length - dup) this.#appended.inc({ ns: topic.ns, topic: topic.name }, items.length - dup);
    if (dup) this.#duplicates.inc({ ns: topic.ns, topic: topic.name }, dup);
  }

  rejected(topic: Topic, n: number): void {
    if (n) this.#rejected.inc({ ns: topic.ns, topic: topic.name }, n);
  }

  flushed(events: number, _requests: number, seconds: number): void {
    this.#flushEvents.observe(events);
    this.#flushSeconds.observe(seconds);
  }
}
