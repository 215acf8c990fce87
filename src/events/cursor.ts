import { AiosError } from '../core/index.ts';
import type { PartitionBounds } from './event-store.ts';
import { EventsError } from './errors.ts';

/**
 * A topic-wide read position: the next offset per partition, written `0:15,1:7`. It is the SSE
 * event id of a live tail, so a reconnecting EventSource resumes every partition exactly.
 */
export type Cursor = Map<number, number>;

export function formatCursor(c: Cursor): string {
  return [...c].sort((a, b) => a[0] - b[0]).map(([p, o]) => `${p}:${o}`).join(',');
}

function invalid(text: string, why: string): AiosError {
  return new EventsError('AIOS_EVENTS_INVALID_POSITION', `cursor "${text.slice(0, 100)}" ${why}`, { errors: [{ path: '/cursor', message: why }] });
}

/** Parses `partition:offset,...`; a partition named twice is refused, not decided by order. */
export function parseCursor(text: string): Cursor {
  const c: Cursor = new Map();
  if (text.trim() === '') return c;
  for (const part of text.split(',')) {
    const m = /^(\d{1,3}):(\d{1,16})$/.exec(part.trim());
    if (!m) throw invalid(text, 'is not of the form partition:offset,... (non-negative integers)');
    const [p, o] = [Number(m[1]), Number(m[2])];
    if (!Number.isSafeInteger(o)) throw invalid(text, `has offset ${m[2]}, beyond the largest offset there can be`);
    if (c.has(p)) throw invalid(text, `names partition ${p} twice`);
    c.set(p, o);
  }
  return c;
}

/**
 * Where a cursor starts each partition of `bounds` (the partitions read). A partition the
 * cursor does not name starts at its first retained offset; an offset below it (removed by
 * retention) starts there too. Refused with AIOS_EVENTS_INVALID_POSITION: a partition the topic
 * does not have, and an offset beyond a partition's next one, which this log never handed out
 * (resuming there would skip every event appended until the log reached it).
 *
 * @example
 * resolveCursor(parseCursor('0:5'), [{ partition: 0, first: 0, next: 9 }, { partition: 1, first: 3, next: 4 }], 2)
 * // Map { 0 => 5, 1 => 3 }
 */
export function resolveCursor(given: Cursor, bounds: readonly PartitionBounds[], partitions: number, text = formatCursor(given)): Cursor {
  for (const [p, offset] of given) {
    if (p >= partitions) throw invalid(text, `names partition ${p}, but the topic has partitions 0 to ${partitions - 1}`);
    const b = bounds.find((x) => x.partition === p);
    if (b && offset > b.next) throw invalid(text, `is beyond the end of partition ${p}, whose next offset is ${b.next}; resume from a cursor this topic returned, or from earliest or latest`);
  }
  const c: Cursor = new Map();
  for (const b of bounds) c.set(b.partition, Math.max(given.get(b.partition) ?? b.first, b.first));
  return c;
}
