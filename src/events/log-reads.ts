import { AiosError } from '../core/index.ts';
import { formatCursor, parseCursor, resolveCursor, type Cursor } from './cursor.ts';
import type { StoredEvent } from './event.ts';
import type { EventStore } from './event-store.ts';
import type { Topic } from './topic.ts';
import { EventsError } from './errors.ts';

export interface ReadQuery {
  readonly partition?: number;
  readonly fromOffset?: number;
  readonly toOffset?: number;
  /** Epoch ms: events ingested at or after this time. */
  readonly fromTime?: number;
  /** A cursor returned as `next` by an earlier read; wins over the other positions. */
  readonly after?: string;
  readonly limit?: number;
}

export interface ReadResult {
  readonly events: StoredEvent[];
  /** Pass as `after` to read on. */
  readonly next: string;
}

export interface TailOptions {
  /** `earliest`, `latest` (default) or a cursor such as the SSE `Last-Event-ID`. */
  readonly from?: string;
  readonly partition?: number;
  readonly signal?: AbortSignal;
}

/** Where a read or tail starts in each partition: a cursor, a time, an offset, or a bound. */
async function startPositions(store: EventStore, topic: Topic, q: { partition?: number; fromOffset?: number; fromTime?: number; from?: string }): Promise<Cursor> {
  const bounds = await store.bounds(topic);
  if (q.partition !== undefined && !bounds.some((b) => b.partition === q.partition)) {
    throw new EventsError('AIOS_EVENTS_INVALID_POSITION', `topic ${topic.name} has partitions 0 to ${topic.partitions - 1}, not ${q.partition}`);
  }
  const parts = bounds.filter((b) => q.partition === undefined || b.partition === q.partition);
  const c: Cursor = new Map();
  if (q.from !== undefined && q.from !== 'earliest' && q.from !== 'latest') return resolveCursor(parseCursor(q.from), parts, topic.partitions, q.from);
  for (const b of parts) {
    if (q.from === 'latest') c.set(b.partition, b.next);
    else if (q.fromTime !== undefined) c.set(b.partition, await store.seek(topic, b.partition, q.fromTime));
    else c.set(b.partition, Math.max(q.fromOffset ?? b.first, b.first));
  }
  return c;
}

/** Events by offset range or from a time, one partition or all, in ingestion order, with a cursor to go on. */
export async function readEvents(store: EventStore, topic: Topic, q: ReadQuery): Promise<ReadResult> {
  const limit = Math.min(Math.max(q.limit ?? 100, 1), 10_000);
  if (q.fromOffset !== undefined && q.partition === undefined && topic.partitions > 1) {
    throw new EventsError('AIOS_EVENTS_INVALID_POSITION', 'fromOffset needs a partition: offsets are per partition');
  }
  const pos = await startPositions(store, topic, { partition: q.partition, fromOffset: q.fromOffset, fromTime: q.fromTime, from: q.after });
  const all: StoredEvent[] = [];
  for (const [p, from] of pos) {
    const events = await store.read(topic, p, from, limit, q.toOffset);
    all.push(...(q.fromTime !== undefined && q.after === undefined ? events.filter((e) => e.ingestedAt >= q.fromTime!) : events));
  }
  all.sort((a, b) => a.ingestedAt - b.ingestedAt || a.partition - b.partition || a.offset - b.offset);
  const events = all.slice(0, limit);
  for (const e of events) pos.set(e.partition, e.offset + 1);
  return { events, next: formatCursor(pos) };
}

/** A live tail, its start position checked before anything is streamed. */
export async function openTail(store: EventStore, topic: Topic, opts: TailOptions): Promise<AsyncGenerator<{ event: StoredEvent; cursor: string }>> {
  const pos = await startPositions(store, topic, { partition: opts.partition, from: opts.from ?? 'latest' });
  return follow(store, topic, pos, opts);
}

/** Reads on from `pos`, waking on the store's append notices (or polling), until the signal aborts. */
async function* follow(store: EventStore, topic: Topic, pos: Cursor, opts: TailOptions): AsyncGenerator<{ event: StoredEvent; cursor: string }> {
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const unwatch = store.watch?.(topic, poke);
  const onAbort = () => poke();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    while (!opts.signal?.aborted) {
      let got = 0;
      for (const [p, from] of pos) {
        const events = await store.read(topic, p, from, 500);
        for (const event of events) {
          pos.set(p, event.offset + 1);
          got++;
          yield { event, cursor: formatCursor(pos) };
        }
      }
      if (got === 0 && !opts.signal?.aborted) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, unwatch ? 1000 : 250);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
    }
  } finally {
    unwatch?.();
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
