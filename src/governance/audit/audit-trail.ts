import { AiosError, type Clock, type Logger } from '../../core/index.ts';
import { GroupCommit, type Database, type Tx } from '../../storage/index.ts';
import { appendRecords, appendRecordsIn, type AuditDraft } from './append-records.ts';
import { queryAuditLog, MAX_AUDIT_QUERY_LIMIT, type AuditQuery } from './audit-query.ts';
import type { AuditInput, AuditRecord, AuditRecorder } from './audit-record.ts';
import { rowToCheckpoint, type AuditDb } from './audit-rows.ts';
import { hashPayload } from './canonical.ts';
import type { Checkpoint } from './checkpoint.ts';
import { MerkleFrontier } from './merkle.ts';
import type { AuditSigningKey } from './signing-key.ts';
import { witnessEntry } from './witness-entry.ts';
import type { WitnessPublisher } from './witness-publisher.ts';
import { writeCheckpoint, type ChainPosition } from './write-checkpoint.ts';

export interface AuditTrailOptions {
  /** Migrated to at least version 4 (the audit tables). */
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signingKey: AuditSigningKey;
  /** Sign a checkpoint once this many records were written since the last one. Default 1000. */
  readonly checkpointEvery?: number;
  /** With `start()`, also sign one this often when there are new records. Default 60,000 ms. */
  readonly checkpointIntervalMs?: number;
  /** Most records waiting to be written; beyond it `record` rejects with AIOS_OVERLOADED. Default 10,000. */
  readonly queueCapacity?: number;
  /** Most records written in one transaction. Default 1000. */
  readonly maxBatch?: number;
  /** Where each signed checkpoint is published outside the database (a file, a webhook). */
  readonly witness?: Pick<WitnessPublisher, 'publish' | 'flush'>;
  /** On `close`, wait at most this long for the witnesses to take the final checkpoint. Default 5,000 ms. */
  readonly witnessFlushMs?: number;
}

/** Filters of an export; as {@link AuditQuery}, but `limit` caps the whole export and is optional. */
export type AuditExportFilter = Omit<AuditQuery, 'limit'> & { readonly limit?: number };

/**
 * The tamper-evident audit trail: every record is chained to the previous by hash (one chain
 * across all namespaces and processes), and signed Merkle checkpoints, themselves a chain, let an
 * auditor holding only the public key detect a rewritten history. Checkpoints are signed every
 * `checkpointEvery` records, every `checkpointIntervalMs` while records come, at `start` (over
 * records a crashed process left uncovered) and at `close`, so that after a clean shutdown every
 * record is covered. Each one is also handed to the `witness`, outside the database.
 * Payloads are hashed, never stored.
 *
 * @example
 * const trail = new AuditTrail({ database, clock: systemClock, logger, signingKey: loadAuditSigningKey({ dataDir }) });
 * trail.start();
 * const rec = await trail.record({ ns: 'plant-a', actor: { type: 'user', id: 'u1', authMethod: 'oidc' },
 *   action: 'topics:create', resource: 'topic:vibration', outcome: 'success', input: body });
 * rec.seq; // 1
 * await trail.close();
 */
export class AuditTrail implements AuditRecorder {
  readonly #database: Database;
  readonly #db: AuditDb;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #key: AuditSigningKey;
  readonly #every: number;
  readonly #intervalMs: number;
  readonly #queue: GroupCommit<readonly AuditDraft[], AuditRecord[]>;
  #timer: NodeJS.Timeout | undefined;
  /** Running Merkle tree over the records this writer has checkpointed; see writeCheckpoint. */
  #frontier = new MerkleFrontier();
  /** Tree size of the last checkpoint seen; null until read from the database. */
  #checkpointed: number | null = null;
  #lastSeq = 0;
  /** The newest checkpoint this writer saw, so that one removed behind its back is noticed. */
  #chain: ChainPosition | undefined;
  readonly #witness: Pick<WitnessPublisher, 'publish' | 'flush'> | undefined;
  readonly #witnessFlushMs: number;
  /** Checkpoints run one at a time: each extends the frontier the previous one left. */
  #checkpointing: Promise<unknown> = Promise.resolve();

  constructor(opts: AuditTrailOptions) {
    this.#database = opts.database;
    this.#db = opts.database.db as AuditDb;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#key = opts.signingKey;
    this.#every = positive(opts.checkpointEvery ?? 1000, 'checkpointEvery');
    this.#intervalMs = positive(opts.checkpointIntervalMs ?? 60_000, 'checkpointIntervalMs');
    this.#witness = opts.witness;
    this.#witnessFlushMs = opts.witnessFlushMs ?? 5_000;
    // Group commit: one transaction, and one lock of the chain head, for the records of many
    // callers. A call's records are one item, never split; a failed batch is retried call by call.
    this.#queue = new GroupCommit<readonly AuditDraft[], AuditRecord[]>({
      capacity: positive(opts.queueCapacity ?? 10_000, 'queueCapacity'),
      maxBatch: positive(opts.maxBatch ?? 1000, 'maxBatch'),
      weigh: (drafts) => drafts.length,
      commit: async (calls) => {
        const records = await this.#append(calls.length === 1 ? calls[0] : calls.flat());
        const out: AuditRecord[][] = [];
        let at = 0;
        for (const c of calls) out.push(records.slice(at, (at += c.length)));
        return out;
      },
      commitOne: (drafts) => this.#append(drafts),
      gatherTick: true,
      afterBatch: () => this.#checkpointIfDue(),
      overloadedMessage: (depth, capacity) => `the audit trail has ${depth} of ${capacity} entries waiting; retry shortly`,
      closedMessage: 'the audit trail is closed',
    });
  }

  /**
   * Appends one record; resolves once it is committed, with its seq and hashes. Its `time` is
   * the clock's reading at this call. Concurrent calls share a transaction. Rejects with
   * AIOS_OVERLOADED when the queue is full, AIOS_VALIDATION when a required field is empty.
   *
   * @example await trail.record({ ns, actor, action: 'keys:revoke', resource: 'key:aios_k3j4', outcome: 'success' });
   */
  record(entry: AuditInput): Promise<AuditRecord> {
    return this.recordMany([entry]).then((r) => r[0]);
  }

  /** Appends several records with consecutive seqs, atomically. */
  recordMany(entries: readonly AuditInput[]): Promise<AuditRecord[]> {
    if (entries.length === 0) return Promise.resolve([]);
    let drafts: AuditDraft[];
    try {
      drafts = entries.map((e) => this.#draft(e));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue.push(drafts);
  }

  /**
   * Writes one record inside a transaction the caller holds, on either engine, so that it
   * commits with the change it describes or not at all: an append's record, in the events' own
   * transaction; a workflow run's, with its journal. Resolves with the record as written; it
   * counts toward the next checkpoint once the transaction has committed.
   *
   * @example
   * const onCommit: CommitHook = async (tx, positions) => { await trail.recordIn(tx, { ...entry, output: positions }); };
   * await database.transaction(async (tx) => { await writeChange(tx); await trail.recordIn(tx, entry); });
   */
  async recordIn(tx: Tx, entry: AuditInput): Promise<AuditRecord> {
    const [record] = await appendRecordsIn(tx, [this.#draft(entry)]);
    tx.afterCommit(() => this.noteCommitted(record));
    return record;
  }

  /** Counts a record committed outside the trail's own transactions toward the next checkpoint. */
  noteCommitted(record: AuditRecord): void {
    this.#lastSeq = Math.max(this.#lastSeq, record.seq);
    void this.#checkpointIfDue();
  }

  /**
   * Signs and stores the next checkpoint of the chain over every committed record now, and hands
   * it to the witness; null when the latest checkpoint already covers them.
   *
   * @example const cp = await trail.checkpoint(); // { seq: 7, prevHash: '…', treeSize: 1234, rootHash: '…', signature: '…', … }
   */
  checkpoint(): Promise<Checkpoint | null> {
    const run = this.#checkpointing.then(async () => {
      const { written, frontier, latest, latestTreeSize } = await writeCheckpoint(this.#db, this.#frontier, this.#key, this.#clock.now(), this.#chain);
      this.#frontier = frontier;
      this.#checkpointed = latestTreeSize;
      if (latest) this.#chain = latest;
      if (!written) return null;
      this.#witness?.publish(witnessEntry(written));
      this.#logger.debug({ seq: written.checkpoint.seq, treeSize: written.checkpoint.treeSize, rootHash: written.checkpoint.rootHash }, 'audit checkpoint signed');
      return written.checkpoint;
    });
    this.#checkpointing = run.catch(() => undefined);
    return run;
  }

  /** The newest checkpoint of the chain, or null. */
  async latestCheckpoint(): Promise<Checkpoint | null> {
    const row = await this.#db.selectFrom('aios_audit_checkpoint_chain').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row ? rowToCheckpoint(row) : null;
  }

  /**
   * Records of `ns` ('*': every namespace) matching `filter`, in seq order; page with `after`.
   *
   * @example await trail.query('plant-a', { actorId: 'u1', from: Date.parse('2026-01-01'), limit: 100 });
   */
  query(ns: string, filter: AuditQuery): Promise<AuditRecord[]> {
    return queryAuditLog(this.#db, ns, filter);
  }

  /**
   * The matching records as NDJSON lines (each ending in "\n"), read page by page.
   *
   * @example for await (const line of trail.exportNdjson('plant-a', { action: 'topics:create' })) out.write(line);
   */
  async *exportNdjson(ns: string, filter: AuditExportFilter = {}): AsyncIterable<string> {
    let after = filter.after;
    let left = filter.limit ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const page = await this.query(ns, { ...filter, after, limit: Math.min(1000, MAX_AUDIT_QUERY_LIMIT, left) });
      for (const r of page) yield `${JSON.stringify(r)}\n`;
      if (page.length < Math.min(1000, left)) return;
      left -= page.length;
      after = page[page.length - 1].seq;
    }
  }

  /**
   * Starts the periodic checkpoint timer (it does not keep the process alive), and signs one at
   * once over any records left uncovered by a process that stopped without its final checkpoint.
   */
  start(): void {
    if (this.#timer) return;
    this.checkpoint().catch((err) => this.#logger.error({ err }, 'audit checkpoint failed'));
    this.#timer = setInterval(() => {
      this.checkpoint().catch((err) => this.#logger.error({ err }, 'audit checkpoint failed'));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * Stops taking records, writes everything accepted, stops the timer, signs the final checkpoint
   * over every record, and waits (at most `witnessFlushMs`) for the witnesses to take it.
   */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#queue.close();
    await this.checkpoint().catch((err) => this.#logger.error({ err }, 'final audit checkpoint failed'));
    await this.#witness?.flush(this.#witnessFlushMs);
  }

  /** Writes drafts in one transaction, with consecutive seqs. */
  async #append(drafts: readonly AuditDraft[]): Promise<AuditRecord[]> {
    const records = await appendRecords(this.#database, drafts);
    this.#lastSeq = Math.max(this.#lastSeq, records[records.length - 1]?.seq ?? 0);
    return records;
  }

  async #checkpointIfDue(): Promise<void> {
    try {
      if (this.#checkpointed === null) {
        const row = await this.#db.selectFrom('aios_audit_checkpoint_chain').select((eb) => eb.fn.max('tree_size').as('n')).executeTakeFirst();
        this.#checkpointed = Number(row?.n ?? 0);
      }
      if (this.#lastSeq - this.#checkpointed >= this.#every) await this.checkpoint();
    } catch (err) {
      // The records are committed and chained; a missed checkpoint is taken at the next one. Not
      // before another `checkpointEvery` records (or the timer): a refusal to sign over a changed
      // log must not make every write pay for reading the log again.
      this.#checkpointed = Math.max(this.#checkpointed ?? 0, this.#lastSeq);
      this.#logger.error({ err }, 'audit checkpoint failed');
    }
  }

  #draft(e: AuditInput): AuditDraft {
    for (const [field, v] of [['ns', e.ns], ['action', e.action], ['resource', e.resource], ['actor.id', e.actor?.id]] as const) {
      if (typeof v !== 'string' || v.length === 0) throw new AiosError('AIOS_VALIDATION', `audit entry ${field} must be a non-empty string`);
    }
    // Optional fields become null here, as they are stored: the hash of a record read back must match.
    return {
      time: this.#clock.now(),
      ns: e.ns,
      actor: { type: e.actor.type, id: e.actor.id, authMethod: e.actor.authMethod, keyId: e.actor.keyId ?? null },
      action: e.action,
      resource: e.resource,
      outcome: e.outcome,
      error: e.error ?? null,
      requestId: e.requestId ?? null,
      traceId: e.traceId ?? null,
      lineageId: e.lineageId ?? null,
      inputHash: hashPayload(e.input),
      outputHash: hashPayload(e.output),
      decision: e.decision ? { decision: e.decision.decision, policySetHash: e.decision.policySetHash, policyIds: [...e.decision.policyIds] } : null,
    };
  }
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new AiosError('AIOS_CONFIG_INVALID', `${name} must be a positive integer, got ${n}`);
  return n;
}
