import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, ReplayPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { AiosError } from '../../core/index.ts';
import type { GroupState, ResetTarget } from '../event-store.ts';
import type { Topic } from '../topic.ts';
import { apiCode, gone, JS_CONSUMER_NOT_FOUND, JS_STREAM_NOT_FOUND, translate } from './nats-errors.ts';
import { GROUP_PREFIX, groupConsumerName, topicNames } from './nats-names.ts';
import type { StreamReader } from './nats-read.ts';
import { EventsError } from '../errors.ts';

/**
 * Consumer groups on JetStream: a group is the durable pull consumer `g_<group>` on the topic's
 * stream, explicit acks, delivering from the earliest event when first created. Its position is
 * stream-wide (the ack floor plus acks above it), not per partition.
 */
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** Fetched and not yet committed, per group, before the server stops handing out more. */
const MAX_ACK_PENDING = 50_000;
/** nanos(ms) must stay within int64 nanoseconds. */
const MAX_NANOS = 9e18;

export function nsOf(ms: number): number {
  return Math.min(nanos(ms), MAX_NANOS);
}

function groupConfig(topic: Topic, group: string, ackWaitMs: number, start: Partial<ConsumerConfig>): Partial<ConsumerConfig> {
  return {
    durable_name: groupConsumerName(group),
    description: `AIOS consumer group ${group} of topic ${topic.ns}/${topic.name}`,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nsOf(ackWaitMs),
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
    replay_policy: ReplayPolicy.Instant,
    deliver_policy: DeliverPolicy.All,
    ...start,
  };
}

export class GroupManager {
  readonly #jsm: JetStreamManager;
  readonly #reader: StreamReader;

  constructor(jsm: JetStreamManager, reader: StreamReader) {
    this.#jsm = jsm;
    this.#reader = reader;
  }

  /** Creates the group's durable unless it exists; applies an explicitly given ack wait. */
  async ensure(topic: Topic, group: string, ackWaitMs?: number): Promise<void> {
    const stream = topicNames(topic).stream;
    const name = groupConsumerName(group);
    try {
      const ci = await this.#jsm.consumers.info(stream, name);
      // ack_wait belongs to the durable, shared by its members: the last explicit one wins.
      if (ackWaitMs !== undefined && ci.config.ack_wait !== nsOf(ackWaitMs)) {
        await this.#jsm.consumers.update(stream, name, { ack_wait: nsOf(ackWaitMs) });
      }
      return;
    } catch (err) {
      if (apiCode(err) !== JS_CONSUMER_NOT_FOUND) throw gone(err, topic, 'opening a consumer group on');
    }
    try {
      await this.#jsm.consumers.add(stream, groupConfig(topic, group, ackWaitMs ?? DEFAULT_ACK_WAIT_MS, {}));
    } catch (err) {
      // A member elsewhere may have created (or reset) it in between; that one stands.
      const exists = await this.#jsm.consumers.info(stream, name).then(
        () => true,
        () => false,
      );
      if (!exists) throw gone(err, topic, 'creating a consumer group on');
    }
  }

  /**
   * Lag is the durable's undelivered (num_pending) plus delivered-but-unacked (num_ack_pending)
   * events. JetStream keeps a group's progress per stream, not per partition: partitions report
   * their end with `committed: null`, and a per-partition lag only when there is one partition
   * (0 for each of several; the topic's `lag` is the figure to use).
   */
  async state(topic: Topic, group: string): Promise<GroupState> {
    const names = topicNames(topic);
    const bounds = await this.#reader.bounds(topic);
    let lag: number;
    try {
      const ci = await this.#jsm.consumers.info(names.stream, groupConsumerName(group));
      lag = ci.num_pending + ci.num_ack_pending;
    } catch (err) {
      if (apiCode(err) !== JS_CONSUMER_NOT_FOUND) throw gone(err, topic, 'reading a consumer group of');
      // No such group yet: it would start from the earliest event.
      lag = (await this.#reader.state(topic, names)).messages;
    }
    const partitions = bounds.map((b) => ({ partition: b.partition, committed: null, end: b.next, lag: topic.partitions === 1 ? lag : 0 }));
    return { group, topic: topic.name, lag, partitions };
  }

  async list(topic: Topic): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const ci of this.#jsm.consumers.list(topicNames(topic).stream)) {
        const d = ci.config.durable_name;
        if (d?.startsWith(GROUP_PREFIX)) out.push(d.slice(GROUP_PREFIX.length));
      }
    } catch (err) {
      if (apiCode(err) === JS_STREAM_NOT_FOUND) return [];
      throw translate(err, `listing the consumer groups of topic ${topic.ns}/${topic.name}`);
    }
    return out.sort();
  }

  /**
   * Deletes and recreates the durable at the target, keeping its ack wait. Positions on NATS are
   * stream-wide: `{ time }` starts at the first event ingested (AIOS time) at or after it in any
   * partition, and `{ offsets }` at the smallest offset given: offsets are stream sequences, so
   * that is the earliest point any given partition asks for, and the other partitions restart
   * there too. Members holding fetched events lose them (their acks no longer count).
   */
  async reset(topic: Topic, group: string, target: ResetTarget): Promise<void> {
    const names = topicNames(topic);
    const name = groupConsumerName(group);
    let start: Partial<ConsumerConfig>;
    if ('to' in target) start = { deliver_policy: target.to === 'earliest' ? DeliverPolicy.All : DeliverPolicy.New };
    else if ('time' in target) {
      const { seq } = await this.#reader.streamSeek(topic, names, target.time);
      start = { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
    } else {
      let min = Infinity;
      for (const { partition, offset } of target.offsets) {
        if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions || !Number.isSafeInteger(offset) || offset < 0) {
          throw new EventsError('AIOS_EVENTS_INVALID_POSITION', `partition ${partition} offset ${offset} is not in topic ${topic.name}`);
        }
        min = Math.min(min, offset);
      }
      if (min === Infinity) throw new EventsError('AIOS_EVENTS_INVALID_POSITION', 'give at least one partition and offset to reset to');
      const state = await this.#reader.state(topic, names);
      start = { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, Math.min(min, state.last_seq + 1)) };
    }
    try {
      let ackWaitMs = DEFAULT_ACK_WAIT_MS;
      try {
        const ci = await this.#jsm.consumers.info(names.stream, name);
        if (ci.config.ack_wait) ackWaitMs = ci.config.ack_wait / 1e6;
      } catch (err) {
        if (apiCode(err) !== JS_CONSUMER_NOT_FOUND) throw err;
      }
      const config = groupConfig(topic, group, ackWaitMs, start);
      // A member elsewhere whose pull finds the durable gone recreates it (from the earliest
      // event) between our delete and add; then delete once more.
      for (let attempt = 0; ; attempt++) {
        await this.#jsm.consumers.delete(names.stream, name).catch((err: unknown) => {
          if (apiCode(err) !== JS_CONSUMER_NOT_FOUND) throw err;
        });
        try {
          await this.#jsm.consumers.add(names.stream, config);
          return;
        } catch (err) {
          if (attempt >= 2) throw err;
        }
      }
    } catch (err) {
      throw gone(err, topic, 'resetting a consumer group of');
    }
  }
}
