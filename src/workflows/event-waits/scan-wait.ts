import type { StoredEvent } from '../../events/index.ts';
import type { CelEvent } from './cel.ts';
import type { Positions } from './wait-rows.ts';

export interface ScanResult {
  /** The event that resumes the wait, or null. */
  readonly match: StoredEvent | null;
  /** Where the next scan starts, when nothing matched. */
  readonly after: Positions;
  readonly moved: boolean;
}

/**
 * Tests one wait against the events read this tick (per partition, in offset order, starting at
 * or before the wait's own `after`). Per partition the lowest matching offset at or after
 * `after[p]` counts; across partitions the earliest event time wins, then the lower partition.
 * Without a match, each partition's `after` moves just past the last event read: all of those
 * were tested. A partition missing from `after` is scanned from offset 0. Pure: no I/O.
 */
export function scanWait(
  after: Positions,
  test: (event: CelEvent) => boolean,
  read: ReadonlyMap<number, readonly StoredEvent[]>,
  celOf: (event: StoredEvent) => CelEvent | null,
): ScanResult {
  let best: StoredEvent | null = null;
  for (const [partition, events] of read) {
    const from = after[partition] ?? 0;
    for (const e of events) {
      if (e.offset < from) continue;
      const cel = celOf(e);
      if (cel === null || !test(cel)) continue;
      if (!best || e.time < best.time || (e.time === best.time && e.partition < best.partition)) best = e;
      break;
    }
  }
  if (best) return { match: best, after, moved: false };
  const next: Positions = { ...after };
  let moved = false;
  for (const [partition, events] of read) {
    if (!events.length) continue;
    const end = events[events.length - 1].offset + 1;
    if (end > (next[partition] ?? 0)) {
      next[partition] = end;
      moved = true;
    }
  }
  return { match: null, after: next, moved };
}
