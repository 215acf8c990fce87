import { sql } from 'kysely';
import type { Tx } from '../../storage/index.ts';
import type { AppendBatch, AppendedPosition } from '../event-store.ts';
import type { RowWriter } from './row-writer.ts';

interface Pending {
  readonly batch: number;
  readonly index: number;
  readonly id: string;
  readonly partition: number;
}

/**
 * Group-commit append for PostgreSQL, in one transaction:
 *  1. look up ids already in the log (one `= any($ids)` probe per topic);
 *  2. reserve offset ranges with `update aios_partitions ... returning`, partitions in sorted
 *     order so that concurrent writers in other processes cannot deadlock; the row lock also
 *     orders commits per partition, so readers never see offset n+1 before n;
 *  3. insert every new event with one `insert ... select from unnest(...)` (one round trip
 *     whatever the batch size), `on conflict (topic_id, id) do nothing`.
 * A concurrent writer in another process can win the race for an id between 1 and 3; that event
 * is then reported as a duplicate of the winner and its reserved offset stays unused (a gap,
 * never a reuse).
 */
export const postgresWriter: RowWriter = { write: writePostgres };

async function writePostgres(tx: Tx, batches: readonly AppendBatch[], ingestedAt: number): Promise<AppendedPosition[][]> {
  const trx = tx.db;
  {
    const out: AppendedPosition[][] = batches.map((b) => new Array<AppendedPosition>(b.events.length));
    const pendingByTopic = new Map<number, Pending[]>();
    for (let b = 0; b < batches.length; b++) {
      const { topic, events } = batches[b];
      const ids = events.map((e) => e.id);
      const existing = new Map<string, { partition: number; offset: number }>();
      const rows = await sql<{ id: string; partition: number; offset: number }>`
        select id, partition, "offset" from aios_events where topic_id = ${topic.topicId} and id = any(${ids}::text[])`.execute(trx);
      for (const r of rows.rows) existing.set(r.id, { partition: r.partition, offset: Number(r.offset) });
      const list = pendingByTopic.get(topic.topicId) ?? [];
      const seen = new Set(list.map((p) => p.id));
      events.forEach((e, i) => {
        const found = existing.get(e.id);
        if (found) out[b][i] = { id: e.id, ...found, duplicate: true };
        else if (seen.has(e.id)) out[b][i] = { id: e.id, partition: -1, offset: -1, duplicate: true }; // resolved below
        else {
          seen.add(e.id);
          list.push({ batch: b, index: i, id: e.id, partition: e.partition });
        }
      });
      pendingByTopic.set(topic.topicId, list);
    }

    const topicIds = [...pendingByTopic.keys()].sort((a, b) => a - b);
    const cols = { topic: [] as number[], partition: [] as number[], offset: [] as number[], id: [] as string[], key: [] as (string | null)[], time: [] as number[], data: [] as string[], headers: [] as (string | null)[] };
    const marks: { topic: number; partition: number; offset: number }[] = [];
    for (const tid of topicIds) {
      const pending = pendingByTopic.get(tid)!;
      const counts = new Map<number, number>();
      for (const p of pending) counts.set(p.partition, (counts.get(p.partition) ?? 0) + 1);
      const next = new Map<number, number>();
      for (const part of [...counts.keys()].sort((a, b) => a - b)) {
        const n = counts.get(part)!;
        const r = await sql<{ next_offset: number }>`
          update aios_partitions set next_offset = next_offset + ${n}
          where topic_id = ${tid} and partition = ${part} returning next_offset`.execute(trx);
        const start = Number(r.rows[0].next_offset) - n;
        next.set(part, start);
        marks.push({ topic: tid, partition: part, offset: start });
      }
      for (const p of pending) {
        const offset = next.get(p.partition)!;
        next.set(p.partition, offset + 1);
        const e = batches[p.batch].events[p.index];
        cols.topic.push(tid);
        cols.partition.push(p.partition);
        cols.offset.push(offset);
        cols.id.push(e.id);
        cols.key.push(e.key);
        cols.time.push(e.time);
        cols.data.push(e.dataJson);
        cols.headers.push(e.headersJson);
        out[p.batch][p.index] = { id: e.id, partition: p.partition, offset, duplicate: false };
      }
    }

    if (cols.id.length) {
      const inserted = await sql<{ topic_id: number; id: string }>`
        insert into aios_events (topic_id, partition, "offset", id, key, time, ingested_at, data, headers)
        select t, p, o, i, k, tm, ${ingestedAt}::bigint, d, h
        from unnest(${cols.topic}::bigint[], ${cols.partition}::int[], ${cols.offset}::bigint[], ${cols.id}::text[],
                    ${cols.key}::text[], ${cols.time}::bigint[], ${cols.data}::jsonb[], ${cols.headers}::jsonb[])
             as u(t, p, o, i, k, tm, d, h)
        on conflict (topic_id, id) do nothing
        returning topic_id, id`.execute(trx);
      if (inserted.rows.length !== cols.id.length) {
        const won = new Set(inserted.rows.map((r) => `${r.topic_id}/${r.id}`));
        for (let b = 0; b < batches.length; b++) {
          for (let i = 0; i < batches[b].events.length; i++) {
            const pos = out[b][i];
            if (!pos.duplicate && !won.has(`${batches[b].topic.topicId}/${pos.id}`)) out[b][i] = { ...pos, partition: -1, duplicate: true };
          }
        }
      }
      await sql`
        insert into aios_time_index (topic_id, partition, "offset", ingested_at)
        select t, p, o, ${ingestedAt}::bigint from unnest(${marks.map((m) => m.topic)}::bigint[], ${marks.map((m) => m.partition)}::int[], ${marks.map((m) => m.offset)}::bigint[]) as u(t, p, o)
        on conflict do nothing`.execute(trx);
    }

    // Duplicates whose original was written in this call or by a racing writer: read their place.
    for (let b = 0; b < batches.length; b++) {
      const unresolved = out[b].map((p, i) => (p.partition === -1 ? i : -1)).filter((i) => i >= 0);
      if (!unresolved.length) continue;
      const ids = unresolved.map((i) => batches[b].events[i].id);
      const rows = await sql<{ id: string; partition: number; offset: number }>`
        select id, partition, "offset" from aios_events where topic_id = ${batches[b].topic.topicId} and id = any(${ids}::text[])`.execute(trx);
      const found = new Map(rows.rows.map((r) => [r.id, r]));
      for (const i of unresolved) {
        const r = found.get(batches[b].events[i].id)!;
        out[b][i] = { id: r.id, partition: r.partition, offset: Number(r.offset), duplicate: true };
      }
    }
    return out;
  }
}
