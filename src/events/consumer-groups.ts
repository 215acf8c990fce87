import { AiosError, type Clock } from '../core/index.ts';
import type { ConsumerHandle, ConsumerOptions, EventStore, GroupState, ResetTarget } from './event-store.ts';
import type { TopicCatalog } from './topic-catalog.ts';
import { TopicBoundConsumer } from './topic-bound-consumer.ts';
import { assertName } from './topic.ts';

/** A shared member unused this long is closed. */
const SHARED_IDLE_MS = 10 * 60_000;

/**
 * Consumer groups over the store: members bound to their topic (they fail once it is deleted),
 * the members shared by this process's HTTP clients, group state, lag, and replay.
 */
export class ConsumerGroups {
  readonly #topics: TopicCatalog;
  readonly #store: EventStore;
  readonly #clock: Clock;
  readonly #shared = new Map<string, { handle: TopicBoundConsumer; usedAt: number }>();

  constructor(topics: TopicCatalog, store: EventStore, clock: Clock) {
    this.#topics = topics;
    this.#store = store;
    this.#clock = clock;
  }

  async consumer(ns: string, topicName: string, group: string, opts?: ConsumerOptions): Promise<TopicBoundConsumer> {
    assertName('group', group);
    const topic = await this.#topics.get(ns, topicName);
    const currentId = () =>
      this.#topics.cached(ns, topicName).then(
        (c) => c.topic.topicId,
        (e: unknown) => {
          if (e instanceof AiosError && e.code === 'AIOS_EVENTS_TOPIC_NOT_FOUND') return undefined;
          throw e;
        },
      );
    return new TopicBoundConsumer(await this.#store.consumer(topic, group, opts), topic, currentId);
  }

  async shared(ns: string, topicName: string, group: string): Promise<ConsumerHandle> {
    const key = `${ns}/${topicName}/${group}`;
    const now = this.#clock.now();
    for (const [k, c] of this.#shared) {
      if (now - c.usedAt > SHARED_IDLE_MS) {
        this.#shared.delete(k);
        await c.handle.close();
      }
    }
    let c = this.#shared.get(key);
    // The topic may have been deleted and created again since: the member belongs to the old one.
    if (c && c.handle.topic.topicId !== (await this.#topics.get(ns, topicName)).topicId) {
      this.#shared.delete(key);
      await c.handle.close();
      c = undefined;
    }
    if (!c) {
      c = { handle: await this.consumer(ns, topicName, group), usedAt: now };
      this.#shared.set(key, c);
    }
    c.usedAt = now;
    return c.handle;
  }

  async state(ns: string, topicName: string, group: string): Promise<GroupState> {
    assertName('group', group);
    return this.#store.groupState(await this.#topics.get(ns, topicName), group);
  }

  async list(ns: string, topicName: string): Promise<string[]> {
    return this.#store.listGroups(await this.#topics.get(ns, topicName));
  }

  async reset(ns: string, topicName: string, group: string, target: ResetTarget): Promise<GroupState> {
    assertName('group', group);
    const topic = await this.#topics.get(ns, topicName);
    const key = `${ns}/${topicName}/${group}`;
    const shared = this.#shared.get(key);
    if (shared) {
      this.#shared.delete(key);
      await shared.handle.close();
    }
    await this.#store.resetGroup(topic, group, target);
    return this.#store.groupState(topic, group);
  }

  async allLags(): Promise<{ ns: string; topic: string; group: string; lag: number }[]> {
    const out = [];
    for (const topic of await this.#topics.listAll()) {
      for (const group of await this.#store.listGroups(topic)) {
        const s = await this.#store.groupState(topic, group);
        out.push({ ns: topic.ns, topic: topic.name, group, lag: s.lag });
      }
    }
    return out;
  }

  /** Closes the shared members of a deleted topic. */
  async forgetTopic(topicId: number): Promise<void> {
    for (const [k, c] of this.#shared) {
      if (c.handle.topic.topicId !== topicId) continue;
      this.#shared.delete(k);
      await c.handle.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const c of this.#shared.values()) await c.handle.close();
    this.#shared.clear();
  }
}
