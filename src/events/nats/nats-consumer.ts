import type { NatsConnection } from '@nats-io/transport-node';
import { AiosError } from '../../core/index.ts';
import type { ConsumerHandle } from '../event-store.ts';
import type { StoredEvent } from '../event.ts';
import type { Topic } from '../topic.ts';
import { translate } from './nats-errors.ts';
import { streamSeqOfReply, toStoredEvent } from './nats-names.ts';
import type { Pipeline } from './nats-publish.ts';
import { pull } from './nats-pull.ts';

export interface NatsConsumerDeps {
  readonly nc: NatsConnection;
  /** Sends the acks of a commit together and waits for the server to confirm them. */
  readonly pipeline: Pipeline;
  readonly topic: Topic;
  readonly stream: string;
  /** The group's durable pull consumer. */
  readonly consumer: string;
  readonly ackTimeoutMs: number;
  /** Creates the durable again when a pull gets no answer at all (deleted by another process). */
  ensure(): Promise<void>;
}

interface Held {
  readonly reply: string;
  readonly partition: number;
}

/**
 * One member of a consumer group: a client of the group's durable JetStream pull consumer
 * (explicit acks). Members of a group share the durable, so the server spreads the work between
 * them; what a member fetched and did not ack within `ack_wait` goes to whoever pulls next.
 *
 * The member keeps the ack subject of every message it handed out. `commit` acks them (with an
 * ack reply, so that once it resolves the group's lag already reflects it): all of them, or
 * those at or below the given offset of each given partition. Unlike the SQL backend, where a
 * committed offset moves the whole group, a member acks only what it fetched itself. `close`
 * naks what is still held, so that another member gets it at once instead of after `ack_wait`.
 */
export class NatsConsumer implements ConsumerHandle {
  readonly #d: NatsConsumerDeps;
  /** By stream sequence; a redelivery to this member replaces the older delivery's ack subject. */
  readonly #held = new Map<number, Held>();
  #closed = false;

  constructor(deps: NatsConsumerDeps) {
    this.#d = deps;
  }

  async fetch(opts: { max?: number; waitMs?: number } = {}): Promise<StoredEvent[]> {
    if (this.#closed) throw new Error('consumer is closed');
    const max = Math.max(1, Math.min(opts.max ?? 100, 10_000));
    const waitMs = Math.max(0, Math.min(opts.waitMs ?? 0, 60_000));
    let r;
    try {
      r = await pull(this.#d.nc, this.#d.stream, this.#d.consumer, max, waitMs);
    } catch (err) {
      throw translate(err, 'fetching for a consumer group');
    }
    if (r.end === 'silent' && r.msgs.length === 0) {
      await this.#d.ensure();
      return [];
    }
    const out: StoredEvent[] = [];
    const held: [number, Held][] = [];
    for (const m of r.msgs) {
      if (!m.reply) continue;
      const seq = streamSeqOfReply(m.reply);
      const e = toStoredEvent(this.#d.topic, m.subject, seq, m.headers, m.data);
      held.push([seq, { reply: m.reply, partition: e.partition }]);
      out.push(e);
    }
    // Held, and so covered by a commit, only once all of them are handed out.
    for (const [seq, h] of held) this.#held.set(seq, h);
    return out;
  }

  async commit(positions?: readonly { readonly partition: number; readonly offset: number }[]): Promise<void> {
    const upTo = new Map<number, number>();
    if (positions) for (const p of positions) upTo.set(p.partition, Math.max(upTo.get(p.partition) ?? -1, p.offset));
    const replies: string[] = [];
    for (const [seq, h] of this.#held) {
      if (positions && !(seq <= (upTo.get(h.partition) ?? -1))) continue;
      replies.push(h.reply);
      this.#held.delete(seq);
    }
    if (!replies.length) return;
    let answers;
    try {
      answers = await this.#d.pipeline.requestAll(
        replies.map((subject) => ({ subject, data: '+ACK' })),
        this.#d.ackTimeoutMs,
      );
    } catch (err) {
      throw translate(err, 'committing a consumer group');
    }
    // What was not acked is delivered again after ack_wait: at-least-once holds either way. An
    // ack answered "no responders" went to a durable deleted meanwhile (a reset): nothing to ack.
    const failed = answers.find((a) => a === 'timeout' || a === 'closed');
    if (failed) throw new AiosError('AIOS_UNAVAILABLE', `NATS did not confirm a consumer group commit (${failed}); the events will be delivered again`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const replies = [...this.#held.values()].map((h) => h.reply);
    this.#held.clear();
    if (!replies.length || this.#d.nc.isClosed()) return;
    try {
      for (const r of replies) this.#d.nc.publish(r, '-NAK');
      await this.#d.nc.flush();
    } catch {
      // Not naked: the server redelivers after ack_wait instead.
    }
  }
}
