import type { Kysely } from 'kysely';
import type { WorkflowTables } from './tables.ts';
import { GroupCommit, ItemFailed } from '../../storage/index.ts';

/**
 * Thrown by a batched operation that failed before writing anything (a lost lease found by the
 * fence): it fails that operation alone and the shared transaction goes on. Any other error
 * aborts the shared transaction, and every operation in it is then retried in a transaction of
 * its own, so one bad operation fails alone.
 */
export class IsolatedFailure extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
    this.cause = cause;
  }
}

interface Queued {
  readonly op: (trx: Kysely<WorkflowTables>, pre?: unknown) => Promise<unknown>;
  readonly merge?: Merge;
  readonly autocommit?: boolean;
}

/** An operation's part that a merger can do for many operations in one statement. */
export interface Merge {
  readonly group: string;
  readonly data: unknown;
}

/**
 * Does the mergeable part of many operations of one group at once, inside the shared
 * transaction, before any operation runs: one result (`pre`) per data, in order, handed to its
 * operation. Throwing fails the whole transaction (each operation is then retried alone).
 */
export type Merger = (trx: Kysely<WorkflowTables>, datas: readonly unknown[]) => Promise<unknown[]>;

/** Most operations committed in one transaction. */
const MAX_BATCH = 256;

/**
 * Group commit for the run store's fenced writes (journal appends, run updates, signal takes):
 * operations that arrive while a transaction commits are queued and committed together in the
 * next one, so many runs share one commit (one fsync on SQLite with synchronous=FULL, one WAL
 * flush on PostgreSQL) instead of paying one each. An operation alone is committed at once;
 * batches form only under load. Each caller still gets its own result or error.
 *
 * `lanes` transactions may be open at once (PostgreSQL: statements of different transactions
 * run on different connections in parallel; SQLite has one writer, so one lane). A run's
 * operations always take the same lane, in order, so two lanes never wait on each other's row
 * locks (short of a zombie worker writing to a run it lost; the database then resolves it).
 */
export class WriteBatcher {
  readonly #db: Kysely<WorkflowTables>;
  readonly #lanes: GroupCommit<Queued, unknown>[];
  readonly #mergers: Readonly<Record<string, Merger>>;

  constructor(db: Kysely<WorkflowTables>, lanes = 1, mergers: Readonly<Record<string, Merger>> = {}) {
    this.#db = db;
    this.#mergers = mergers;
    this.#lanes = Array.from(
      { length: Math.max(1, lanes) },
      () =>
        new GroupCommit<Queued, unknown>({
          // Unbounded here: every operation is a claimed run's fenced write, one at a time per
          // run, so the worker's bound on claimed runs bounds this queue.
          capacity: Infinity,
          maxBatch: MAX_BATCH,
          commit: (batch) => this.#together(batch),
          commitOne: (q) => this.#alone(q),
          overloadedMessage: (depth, capacity) => `the run store has ${depth} of ${capacity} writes waiting; retry shortly`,
          closedMessage: 'the run store is closed',
        }),
    );
  }

  /**
   * Runs `op` in a shared transaction of the lane of `key` (a run's ns and id). With `merge`,
   * its group's merger first does the mergeable part for every such operation of the batch, and
   * `op` gets its result as `pre`. With `autocommit`, an operation that finds no batch to join
   * runs without BEGIN and COMMIT (two round trips fewer): only for one whose writes are a
   * single statement, atomic by itself.
   */
  run<T>(key: string, op: (trx: Kysely<WorkflowTables>, pre?: unknown) => Promise<T>, opts: { merge?: Merge; autocommit?: boolean } = {}): Promise<T> {
    const lane = this.#lanes.length === 1 ? this.#lanes[0] : this.#lanes[hash(key) % this.#lanes.length];
    const merge = opts.merge && this.#mergers[opts.merge.group] ? opts.merge : undefined;
    return lane.push({ op, ...(merge ? { merge } : {}), ...(opts.autocommit ? { autocommit: true } : {}) }) as Promise<T>;
  }

  /** One transaction for the batch; a lost lease fails its operation alone, any other error the whole batch. */
  async #together(batch: readonly Queued[]): Promise<unknown[]> {
    return this.#db.transaction().execute(async (trx) => {
      const pres = await this.#merged(trx, batch);
      const outcomes: unknown[] = [];
      for (const q of batch) {
        try {
          outcomes.push(await q.op(trx, pres.get(q)));
        } catch (e) {
          if (!(e instanceof IsolatedFailure)) throw e;
          outcomes.push(new ItemFailed(e.cause));
        }
      }
      return outcomes;
    });
  }

  /** Runs each merge group's merger over its operations; their results by operation. */
  async #merged(trx: Kysely<WorkflowTables>, batch: readonly Queued[]): Promise<Map<Queued, unknown>> {
    const pres = new Map<Queued, unknown>();
    const groups = new Map<string, Queued[]>();
    for (const q of batch) {
      if (!q.merge) continue;
      const group = groups.get(q.merge.group);
      if (group) group.push(q);
      else groups.set(q.merge.group, [q]);
    }
    for (const [group, qs] of groups) {
      const results = await this.#mergers[group](trx, qs.map((q) => q.merge!.data));
      qs.forEach((q, i) => pres.set(q, results[i]));
    }
    return pres;
  }

  async #alone(q: Queued): Promise<unknown> {
    try {
      const run = async (db: Kysely<WorkflowTables>) => q.op(db, (await this.#merged(db, [q])).get(q));
      return await (q.autocommit ? run(this.#db) : this.#db.transaction().execute(run));
    } catch (e) {
      throw e instanceof IsolatedFailure ? e.cause : e;
    }
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
