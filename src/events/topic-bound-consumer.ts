import { AiosError } from '../core/index.ts';
import type { ConsumerHandle } from './event-store.ts';
import type { StoredEvent } from './event.ts';
import type { Topic } from './topic.ts';
import { EventsError } from './errors.ts';

/**
 * A group member bound to one incarnation of its topic. A topic deleted and created again
 * under the same name is a new topic (a new id) whose groups start afresh; a member of the old
 * one fails with AIOS_EVENTS_TOPIC_NOT_FOUND instead of fetching nothing forever, or committing
 * into the new one. `currentId` answers the topic's id now (from the event log's topic cache),
 * or undefined when there is no such topic.
 */
export class TopicBoundConsumer implements ConsumerHandle {
  readonly topic: Topic;
  readonly #inner: ConsumerHandle;
  readonly #currentId: () => Promise<number | undefined>;

  constructor(inner: ConsumerHandle, topic: Topic, currentId: () => Promise<number | undefined>) {
    this.#inner = inner;
    this.topic = topic;
    this.#currentId = currentId;
  }

  async #check(): Promise<void> {
    if ((await this.#currentId()) === this.topic.topicId) return;
    await this.#inner.close().catch(() => undefined);
    throw new EventsError('AIOS_EVENTS_TOPIC_NOT_FOUND', `topic ${this.topic.name} in namespace ${this.topic.ns} was deleted; open a new consumer (a topic created again under the name has groups of its own)`);
  }

  async fetch(opts?: { max?: number; waitMs?: number }): Promise<StoredEvent[]> {
    await this.#check();
    return this.#inner.fetch(opts);
  }

  async commit(positions?: readonly { readonly partition: number; readonly offset: number }[]): Promise<void> {
    await this.#check();
    return this.#inner.commit(positions);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
