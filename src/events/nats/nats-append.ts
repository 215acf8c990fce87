import { PubHeaders, type JetStreamManager } from '@nats-io/jetstream';
import { AiosError } from '../../core/index.ts';
import type { AppendBatch, AppendedPosition } from '../event-store.ts';
import type { PreparedEvent } from '../event.ts';
import { JS_WRONG_LAST_SEQUENCE, translate } from './nats-errors.ts';
import { encodeId, eventHeaders, eventSubject, parseSubject, topicNames, type TopicNames } from './nats-names.ts';
import type { Pipeline, Publication, PubResult } from './nats-publish.ts';

/**
 * Append: every event of every batch is published at once (pipelined on one connection, see
 * nats-publish.ts), then all PubAcks are awaited: the group commit. One connection keeps the
 * order, so the events of a batch get increasing stream sequences.
 *
 * Each goes to its own subject with Nats-Expected-Last-Subject-Sequence: 0 and Nats-Msg-Id
 * (the dedup design and its crash windows are explained at the top of nats-event-store.ts):
 * - PubAck, not duplicate: stored at `seq`;
 * - PubAck with `duplicate: true` (Nats-Msg-Id, within the window; the server checks it first):
 *   the original is at `seq`, perhaps on another partition (same id, other key), so its
 *   partition is read from the original's subject;
 * - err_code 10071 "wrong last sequence: N": the subject holds the original at N; same partition.
 * Two publishes of one id within a call (or from concurrent calls) need no special care: the
 * stream serialises them and the second is answered as a duplicate of the first.
 */
export interface AppendContext {
  readonly publisher: Pipeline;
  readonly jsm: JetStreamManager;
  readonly publishTimeoutMs: number;
  /** Recreates the topic's stream when a publish finds none listening. */
  ensureStream(batch: AppendBatch): Promise<void>;
}

type Outcome = { ok: AppendedPosition } | { msgIdDuplicate: number } | { noStream: true } | { error: Error };

const encoder = new TextEncoder();

function publication(names: TopicNames, e: PreparedEvent, ingestedAt: number): Publication {
  const enc = encodeId(e.id);
  const headers = eventHeaders(e, ingestedAt);
  headers.set(PubHeaders.MsgIdHdr, enc);
  headers.set(PubHeaders.ExpectedLastSubjectSequenceHdr, '0');
  return { subject: eventSubject(names, e.partition, enc), data: encoder.encode(e.dataJson), headers };
}

function outcome(e: PreparedEvent, r: PubResult, timeoutMs: number): Outcome {
  switch (r.kind) {
    case 'stored':
      return r.duplicate ? { msgIdDuplicate: r.seq } : { ok: { id: e.id, partition: e.partition, offset: r.seq, duplicate: false } };
    case 'refused': {
      const m = r.errCode === JS_WRONG_LAST_SEQUENCE ? /wrong last sequence: (\d+)/.exec(r.description) : null;
      if (m) return { ok: { id: e.id, partition: e.partition, offset: Number(m[1]), duplicate: true } };
      return { error: new Error(`${r.description} (err_code ${r.errCode})`) };
    }
    case 'no-stream':
      return { noStream: true };
    case 'timeout':
      return { error: new AiosError('AIOS_UNAVAILABLE', `NATS did not acknowledge an append within ${timeoutMs} ms; resend it with the same ids`) };
    case 'closed':
      return { error: new AiosError('AIOS_UNAVAILABLE', 'the NATS connection closed during an append; resend it with the same ids') };
  }
}

/** Publishes the events of every batch (or only the marked ones) at once: the pipelining. */
async function publishAll(ctx: AppendContext, batches: readonly AppendBatch[], ingestedAt: number, only?: readonly (readonly boolean[])[]): Promise<Outcome[][]> {
  const items: Publication[] = [];
  const where: [number, number][] = [];
  batches.forEach((b, bi) => {
    const names = topicNames(b.topic);
    b.events.forEach((e, ei) => {
      if (only && !only[bi][ei]) return;
      items.push(publication(names, e, ingestedAt));
      where.push([bi, ei]);
    });
  });
  let results: PubResult[];
  try {
    results = await ctx.publisher.publishAll(items, ctx.publishTimeoutMs);
  } catch (err) {
    throw translate(err, 'an append');
  }
  const out: Outcome[][] = batches.map((b) => b.events.map((): Outcome => ({ noStream: true })));
  results.forEach((r, k) => {
    const [bi, ei] = where[k];
    out[bi][ei] = outcome(batches[bi].events[ei], r, ctx.publishTimeoutMs);
  });
  return out;
}

export async function appendNats(ctx: AppendContext, batches: readonly AppendBatch[], ingestedAt: number): Promise<AppendedPosition[][]> {
  let outcomes = await publishAll(ctx, batches, ingestedAt);
  const missing = outcomes.map((os) => os.map((o) => 'noStream' in o));
  if (missing.some((m) => m.includes(true))) {
    // The topic exists (it is defined in SQL) but its stream does not: deleted by hand, or NATS
    // lost its state. Recreate it and publish what failed once more; the rest is unchanged.
    for (let bi = 0; bi < batches.length; bi++) if (missing[bi].includes(true)) await ctx.ensureStream(batches[bi]);
    const retried = await publishAll(ctx, batches, ingestedAt, missing);
    outcomes = outcomes.map((os, bi) => os.map((o, ei) => (missing[bi][ei] ? retried[bi][ei] : o)));
  }
  for (const os of outcomes) for (const o of os) if ('error' in o || 'noStream' in o) throw failure(o);
  return Promise.all(outcomes.map((os, bi) => Promise.all(os.map((o, ei) => settle(ctx, batches[bi], batches[bi].events[ei], o, ingestedAt)))));
}

function failure(o: Outcome): AiosError {
  return translate('error' in o ? o.error : new Error('no stream takes the topic subjects'), 'an append');
}

/** The final position of one event, resolving Nats-Msg-Id duplicates. */
async function settle(ctx: AppendContext, batch: AppendBatch, e: PreparedEvent, o: Outcome, ingestedAt: number): Promise<AppendedPosition> {
  for (let attempt = 0; ; attempt++) {
    if ('ok' in o) return o.ok;
    if (!('msgIdDuplicate' in o)) throw failure(o);
    const seq = o.msgIdDuplicate;
    if (seq > 0) return { id: e.id, partition: await partitionOfSeq(ctx, batch, seq, e.partition), offset: seq, duplicate: true };
    // A clustered stream may answer a duplicate of a message it has not stored yet with seq 0:
    // publish again shortly; by then the original has a sequence.
    if (attempt >= 5) throw translate(new Error(`the position of duplicate event ${e.id} stayed unknown`), 'an append');
    await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    o = (await publishAll(ctx, [{ topic: batch.topic, events: [e] }], ingestedAt))[0][0];
  }
}

/** A Nats-Msg-Id duplicate may have gone to another partition (same id, other key): look. */
async function partitionOfSeq(ctx: AppendContext, batch: AppendBatch, seq: number, guess: number): Promise<number> {
  if (batch.topic.partitions === 1) return 0;
  try {
    const m = await ctx.jsm.direct.getMessage(topicNames(batch.topic).stream, { seq });
    return m ? parseSubject(m.subject).partition : guess;
  } catch (err) {
    throw translate(err, 'looking up a duplicate event');
  }
}
