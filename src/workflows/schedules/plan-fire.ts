import type { CatchUpPolicy } from './schedule-store.ts';
import type { CronSpec } from './cron.ts';

/** Beyond this many due ticks, older missed ticks are not enumerated (a long outage of a per-second cron). */
const MAX_SCAN = 100_000;

export interface FirePlan {
  /** The tick to fire now; absent when every due tick is a missed one that catch-up drops. */
  readonly fireAt?: number;
  /** Where the schedule waits after this step: the next tick to fire, or the first future one. */
  readonly next: number | null;
}

/**
 * What one claim of a due schedule does, from the tick it waits for (`from`, <= now). Ticks at
 * most `graceMs` old are on time and always fire (subject to overlap). Older ones were missed,
 * and the catch-up policy picks which of them fire: 'skip' none, 'one' the latest, 'all' the
 * latest `limit`. One claim fires one tick and moves the schedule to the next tick of the plan,
 * so a backlog is worked off claim by claim, each one a compare-and-set of its own.
 */
export function planFire(cron: CronSpec, from: number, now: number, graceMs: number, catchUp: CatchUpPolicy, limit: number): FirePlan {
  const keep = catchUp === 'all' ? limit : catchUp === 'one' ? 1 : 0;
  const missed: number[] = [];
  const onTime: number[] = [];
  let t: number | null = from;
  let scanned = 0;
  while (t !== null && t <= now) {
    if (now - t > graceMs) {
      if (keep > 0) {
        missed.push(t);
        if (missed.length > keep) missed.shift();
      }
    } else onTime.push(t);
    if (++scanned >= MAX_SCAN && now - t > graceMs) {
      // Too long a backlog to walk: restart just before the grace window; older ticks are dropped.
      missed.length = 0;
      t = cron.next(now - graceMs - 1);
      continue;
    }
    t = cron.next(t);
  }
  const order = [...missed, ...onTime];
  if (!order.length) return { next: t };
  return { fireAt: order[0], next: order[1] ?? t };
}
