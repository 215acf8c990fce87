import type { Kysely } from 'kysely';
import { isAiosError, systemClock, type Clock, type Logger } from '../../core/index.ts';
import type { EventLog, StoredEvent, Topic } from '../../events/index.ts';
import type { Database, SharedDb } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';
import { isTerminal, type RunStatus } from '../store/run-store.ts';
import { compileCel, toCelEvent, type CelEvent } from './cel.ts';
import { eventSignal } from '../engine/signals.ts';
import type { EventWaitRecord } from '../engine/event-port.ts';
import { deliverEvent } from './deliver-event.ts';
import { scanWait } from './scan-wait.ts';
import { advanceWaits, deleteRunWaits, deleteWait, insertWait, loadWaits, type Positions, type WaitKey, type WaitRow } from './wait-rows.ts';

export interface EventWaitsOptions {
  readonly database: Database;
  readonly events: EventLog;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How often the loop looks for events appended by other processes. Default 250 ms. */
  readonly pollMs?: number;
  /** Open waits looked at per tick. Default 1,000. */
  readonly batchSize?: number;
  /** Events read per partition per topic per tick. Default 1,000. */
  readonly readLimit?: number;
  /** After a delivery committed: wakes a run this process holds in memory (the engine's `notify`). */
  readonly onDelivered?: (wait: { ns: string; runId: string; signal: string }) => void;
}

/** A wait as the engine records it, in the journal transaction of `ctx.waitForEvent` (`after`: from `position()`). */
export type EventWaitInput = EventWaitRecord;

/** Waits this long past their deadline were abandoned (the engine cancels timed-out waits). */
const STALE_AFTER_DEADLINE_MS = 60_000;
/** A watched topic with no open wait for this long stops being watched. */
const UNWATCH_AFTER_MS = 60_000;
/** Appends in quick succession wake the loop at most this often. */
const MIN_GAP_MS = 10;

/**
 * Matches events of the log against workflow waits and delivers each match once, as the signal
 * `aios.event:<seq>` to the waiting run, with `{ event: { id, topic, key, partition, offset,
 * time, data, headers } }` as payload.
 *
 * @example
 * const waits = new EventWaits({ database, events: log, clock, logger });
 * waits.validate(match); // before the wait's transaction; throws AIOS_VALIDATION
 * const after = await waits.position(ns, 'vibration');
 * await db.transaction().execute((trx) => waits.register(trx, { ns, runId, seq, topic: 'vibration', match, deadline, after }));
 * waits.start();
 */
export class EventWaits {
  readonly #database: Database;
  readonly #db: Kysely<WorkflowTables>;
  readonly #events: EventLog;
  readonly #clock: Clock;
  readonly #log?: Logger;
  readonly #pollMs: number;
  readonly #batch: number;
  readonly #readLimit: number;
  readonly #onDelivered?: EventWaitsOptions['onDelivered'];
  readonly #watches = new Map<string, { unwatch: () => void; seenAt: number }>();
  #cursor: WaitKey | null = null;
  #running = false;
  #busy: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: EventWaitsOptions) {
    this.#database = opts.database;
    this.#db = opts.database.db as Kysely<WorkflowTables>;
    this.#events = opts.events;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.logger;
    this.#pollMs = opts.pollMs ?? 250;
    this.#batch = opts.batchSize ?? 1000;
    this.#readLimit = opts.readLimit ?? 1000;
    this.#onDelivered = opts.onDelivered;
  }

  /** Throws AIOS_VALIDATION when `match` is not a usable CEL expression over `event`. */
  validate(match: string): void {
    compileCel(match);
  }

  /** Records a wait inside the caller's transaction; a second call for the same (ns, runId, seq) does nothing. */
  async register(trx: SharedDb, w: EventWaitInput): Promise<void> {
    compileCel(w.match);
    await insertWait(trx as Kysely<WorkflowTables>, w, this.#clock.now());
  }

  /**
   * The next offset of each partition of the topic now: every event appended after this call
   * is at or beyond it. Throws AIOS_EVENTS_TOPIC_NOT_FOUND for an unknown topic.
   */
  async position(ns: string, topic: string): Promise<Positions> {
    const bounds = await this.#events.store.bounds(await this.#events.getTopic(ns, topic));
    return Object.fromEntries(bounds.map((b) => [b.partition, b.next]));
  }

  /** Removes a wait (timed out or cancelled); true when it was still open. Pass `trx` to do it in a transaction of yours. */
  async cancel(ns: string, runId: string, seq: number, trx: SharedDb = this.#db): Promise<boolean> {
    return deleteWait(trx as Kysely<WorkflowTables>, { ns, runId, seq });
  }

  /** Removes every open wait of a run; returns how many. */
  async cancelRun(ns: string, runId: string, trx: SharedDb = this.#db): Promise<number> {
    return deleteRunWaits(trx as Kysely<WorkflowTables>, ns, runId);
  }

  /** Runs the matcher loop: on each in-process append to a watched topic, and every `pollMs`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    for (const w of this.#watches.values()) w.unwatch();
    this.#watches.clear();
    await this.#busy;
  }

  /** Looks for events now, outside the loop's rhythm (after registering a wait, say). */
  readonly wake = (): void => {
    if (!this.#running) return;
    if (this.#busy) this.#again = true;
    else this.#schedule(0);
  };

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    if (!this.#running) return;
    this.#timer = setTimeout(() => void this.#loop(), ms);
    this.#timer.unref();
  }

  async #loop(): Promise<void> {
    if (this.#busy || !this.#running) return;
    this.#busy = this.tick().then(
      () => undefined,
      (err: unknown) => this.#log?.warn({ err }, 'matching events against workflow waits failed; will try again'),
    );
    await this.#busy;
    this.#busy = null;
    const again = this.#again;
    this.#again = false;
    this.#schedule(again ? MIN_GAP_MS : this.#pollMs);
  }

  /** One pass over a batch of open waits; returns how many events it delivered. */
  async tick(): Promise<number> {
    const now = this.#clock.now();
    const rows = await loadWaits(this.#db, this.#database.flags, this.#cursor, this.#batch);
    this.#cursor = rows.length === this.#batch ? rows[rows.length - 1] : null;
    const groups = new Map<string, WaitRow[]>();
    for (const w of rows) {
      const finished = w.runStatus === null || isTerminal(w.runStatus as RunStatus);
      if (finished || (w.deadline !== null && w.deadline < now - STALE_AFTER_DEADLINE_MS)) {
        await deleteWait(this.#db, w);
        continue;
      }
      // Past its deadline the engine times the wait out; a late match would only be a stray signal.
      if (w.deadline !== null && w.deadline <= now) continue;
      const key = `${w.ns}\u0000${w.topic}`;
      const group = groups.get(key);
      if (group) group.push(w);
      else groups.set(key, [w]);
    }
    let delivered = 0;
    for (const waits of groups.values()) delivered += await this.#matchTopic(waits, now);
    this.#unwatchIdle(now);
    return delivered;
  }

  async #matchTopic(waits: readonly WaitRow[], now: number): Promise<number> {
    const { ns, topic: name } = waits[0];
    let topic: Topic;
    try {
      topic = await this.#events.getTopic(ns, name);
    } catch (err) {
      if (isAiosError(err) && err.code === 'AIOS_EVENTS_TOPIC_NOT_FOUND') return 0; // nothing can match; the deadline ends the wait
      throw err;
    }
    this.#watch(topic, now);
    const read = new Map<number, StoredEvent[]>();
    for (let p = 0; p < topic.partitions; p++) {
      const from = Math.min(...waits.map((w) => w.after[p] ?? 0));
      read.set(p, await this.#events.store.read(topic, p, from, this.#readLimit));
    }
    const converted = new Map<StoredEvent, CelEvent | null>();
    const celOf = (e: StoredEvent): CelEvent | null => {
      if (!converted.has(e)) converted.set(e, safely(() => toCelEvent(e)));
      return converted.get(e)!;
    };
    let delivered = 0;
    const moves: { key: WaitKey; after: Positions }[] = [];
    for (const w of waits) {
      const test = safely(() => compileCel(w.match));
      if (!test) {
        this.#log?.warn({ ns, runId: w.runId, seq: w.seq }, 'a workflow wait has a match expression that no longer compiles; it can only time out');
        continue;
      }
      const r = scanWait(w.after, test, read, celOf);
      if (r.match) {
        if (await this.#deliver(w, r.match)) delivered++;
      } else if (r.moved) moves.push({ key: w, after: r.after });
    }
    await advanceWaits(this.#db, moves);
    return delivered;
  }

  async #deliver(w: WaitRow, e: StoredEvent): Promise<boolean> {
    const event = { id: e.id, topic: e.topic, key: e.key, partition: e.partition, offset: e.offset, time: e.time, data: e.data, headers: e.headers };
    try {
      const delivered = await deliverEvent(this.#db, this.#database.flags, w, JSON.stringify({ event }), this.#clock.now());
      if (delivered) this.#onDelivered?.({ ns: w.ns, runId: w.runId, signal: eventSignal(w.seq) });
      return delivered;
    } catch (err) {
      // A deadlock victim or a lost connection: the row is still there, the next tick retries.
      this.#log?.warn({ err, ns: w.ns, runId: w.runId, seq: w.seq }, 'delivering an event to a workflow wait failed; will try again');
      return false;
    }
  }

  #watch(topic: Topic, now: number): void {
    if (!this.#running) return;
    const key = `${topic.ns}\u0000${topic.name}`;
    const known = this.#watches.get(key);
    if (known) known.seenAt = now;
    else this.#watches.set(key, { unwatch: this.#events.store.watch?.(topic, this.wake) ?? (() => undefined), seenAt: now });
  }

  #unwatchIdle(now: number): void {
    for (const [key, w] of this.#watches) {
      if (now - w.seenAt <= UNWATCH_AFTER_MS) continue;
      w.unwatch();
      this.#watches.delete(key);
    }
  }
}

function safely<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch {
    return null;
  }
}
