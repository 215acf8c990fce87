import type { KeyObject } from 'node:crypto';
import { toRfc3339 } from '../../core/index.ts';
import type { Database } from '../../storage/index.ts';
import { rowToRecord, type AuditCheckpointRow, type AuditDb, type AuditLogRow } from './audit-rows.ts';
import { GENESIS_HASH, recordHash } from './canonical.ts';
import { MerkleFrontier } from './merkle.ts';
import { keyIdOf } from './signing-key.ts';
import { checkChain, checkLegacy, checkWitness, type RootClaim } from './verify-checkpoints.ts';
import type { UnreadableWitnessLine, WitnessEntry } from './witness-entry.ts';

export type AuditProblemKind =
  | 'record_hash_mismatch'
  | 'broken_link'
  | 'missing_record'
  | 'seq_out_of_order'
  | 'head_mismatch'
  | 'checkpoint_root_mismatch'
  | 'checkpoint_signature_invalid'
  | 'checkpoint_beyond_log'
  | 'checkpoint_chain_broken'
  | 'uncovered_records'
  | 'witness_unreadable'
  | 'witness_signature_invalid'
  | 'witness_inconsistent'
  | 'witness_mismatch'
  | 'witness_root_mismatch'
  | 'witness_beyond_log';

export interface AuditProblem {
  /** The record the problem is found at; null for problems of a checkpoint as a whole. */
  readonly seq: number | null;
  readonly kind: AuditProblemKind;
  readonly message: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Rows read from aios_audit_log. */
  readonly records: number;
  /** Checkpoints of the chain in the database. */
  readonly checkpoints: number;
  /** Checkpoints signed before checkpoints were chained, verified outside the chain. */
  readonly unchainedCheckpoints: number;
  /** Records covered by the newest checkpoint whose signature holds. */
  readonly covered: number;
  /** Witness entries checked (0 without a witness). */
  readonly witnessed: number;
  readonly problems: readonly AuditProblem[];
}

export interface VerifyAuditOptions {
  /** The key checkpoints must be signed with: the verifier's own copy, never the one stored beside them. */
  readonly publicKey: KeyObject;
  /** Signed checkpoints kept outside the database (see parseWitness). */
  readonly witness?: { readonly entries: readonly WitnessEntry[]; readonly unreadable?: readonly UnreadableWitnessLine[] };
  /** A record older than this, at `now`, must be covered by a checkpoint. Default 120,000 ms (twice the default checkpoint interval). */
  readonly coverWithinMs?: number;
  /** Epoch ms the record ages are measured at. Default: the time of the call. */
  readonly now?: number;
  /** Rows per read. Default 1000. */
  readonly pageSize?: number;
  /** Stop listing problems after this many (the result stays not ok). Default 1000. */
  readonly maxProblems?: number;
}

/** A range of missing seqs longer than this is reported as one problem, not one per record. */
const LIST_MISSING_UP_TO = 10;

/**
 * Checks the whole audit trail, reading it in seq order page by page (memory stays flat however
 * long the log is; checkpoints, one per `checkpointEvery` records, are held):
 * - each record's content still hashes to its record_hash (an edited row is named by its seq);
 * - each prev_hash is the previous record's hash, and seqs run 1, 2, 3... (a deleted or inserted
 *   row breaks both, and is named);
 * - the checkpoints form an unbroken chain from 1, each signed by `publicKey`, and each one's
 *   Merkle root matches the records it covers, which catches a history rewritten with
 *   consistent hashes;
 * - every record older than `coverWithinMs` is covered by a checkpoint (catches the newest
 *   checkpoints removed, so that the records they covered could be rewritten);
 * - with a `witness`: the witness is consistent in itself (RFC 6962 consistency proofs), the
 *   database still holds every witnessed checkpoint, and the records still hash to every
 *   witnessed root, so a rewrite fails even when every checkpoint in the database was replaced;
 * - the head row agrees with the last record (catches rows cut off or added at the end).
 * Safe to run while writers append: it keeps reading until it has caught up with the head.
 *
 * @example
 * const witness = parseWitness(readFileSync('/mnt/audit-witness/aios.ndjson', 'utf8'));
 * const result = await verifyAuditChain(database, { publicKey: loadAuditPublicKey({ dataDir }).publicKey, witness });
 * if (!result.ok) for (const p of result.problems) console.log(`seq ${p.seq}: ${p.kind}: ${p.message}`);
 */
export async function verifyAuditChain(database: Database, opts: VerifyAuditOptions): Promise<AuditVerification> {
  const db = database.db as AuditDb;
  const pageSize = opts.pageSize ?? 1000;
  const maxProblems = opts.maxProblems ?? 1000;
  const now = opts.now ?? Date.now();
  const coverWithinMs = opts.coverWithinMs ?? 120_000;
  const problems: AuditProblem[] = [];
  const report = (seq: number | null, kind: AuditProblemKind, message: string) => {
    if (problems.length < maxProblems) problems.push({ seq, kind, message });
  };
  const reportAll = (kind: AuditProblemKind, message: string) => report(null, kind, message);
  const trustedKeyId = keyIdOf(opts.publicKey);

  // Read before the records: a checkpoint signed meanwhile covers at most the head of that moment,
  // which the record scan below reaches, so a live writer never causes checkpoint_beyond_log.
  const legacyRows = await db.selectFrom('aios_audit_checkpoints').selectAll().orderBy('tree_size').execute();
  const chainRows = await readChain(db);
  const chain = checkChain(chainRows, opts.publicKey, trustedKeyId, reportAll);
  const legacy = checkLegacy(legacyRows, opts.publicKey, trustedKeyId, reportAll);
  const witnessClaims = opts.witness ? checkWitness(opts.witness, chain.bySeq, opts.publicKey, trustedKeyId, reportAll) : [];
  const claims: RootClaim[] = [...legacy.claims, ...chain.claims, ...witnessClaims].sort((a, b) => a.treeSize - b.treeSize);
  const covered = Math.max(chain.covered, legacy.covered);

  const frontier = new MerkleFrontier();
  let nextClaim = 0;
  let count = 0;
  let lastSeq = 0;
  let lastHash = GENESIS_HASH;
  let firstUncovered: { seq: number; time: number } | undefined;

  const check = (row: AuditLogRow) => {
    const seq = Number(row.seq);
    count++;
    if (!Number.isSafeInteger(seq) || seq <= lastSeq) {
      report(Number.isFinite(seq) ? seq : null, 'seq_out_of_order', `record seq ${row.seq} follows seq ${lastSeq}; seqs must run 1, 2, 3...`);
    } else if (seq > lastSeq + 1) {
      reportMissing(report, lastSeq + 1, seq - 1);
    }
    if (row.prev_hash !== lastHash) {
      const before = lastSeq === 0 ? 'the genesis hash' : `the hash of record ${lastSeq}`;
      report(seq, 'broken_link', `record ${seq} does not link to ${before}: prev_hash ${short(row.prev_hash)}, expected ${short(lastHash)}`);
    }
    const actual = contentHash(row);
    if (actual !== row.record_hash) {
      report(seq, 'record_hash_mismatch', `record ${seq} was altered: its content hashes to ${short(actual)}, but its record_hash is ${short(row.record_hash)}`);
    }
    if (!firstUncovered && seq > covered) firstUncovered = { seq, time: Number(row.time) };
    // A claim of size T is settled once the scan passes seq T. On an intact log the leaves read by
    // then are exactly records 1..T; when rows are missing or extra, the count differs and the
    // claim cannot hold.
    settle((size) => size < seq);
    frontier.append(leafBytes(row.record_hash));
    settle((size) => size <= seq);
    lastSeq = Number.isSafeInteger(seq) ? seq : lastSeq;
    lastHash = row.record_hash;
  };

  function settle(passed: (treeSize: number) => boolean) {
    while (nextClaim < claims.length && passed(claims[nextClaim].treeSize)) {
      const c = claims[nextClaim++];
      if (frontier.size !== c.treeSize) {
        report(null, c.mismatch, `${c.label} cannot hold: it covers ${c.treeSize} records, but the log has ${frontier.size} records up to seq ${c.treeSize}, so records were removed or inserted`);
      } else if (frontier.root() !== c.rootHash) {
        report(null, c.mismatch, `${c.label} has root ${short(c.rootHash)}, but records 1..${c.treeSize} hash to ${short(frontier.root())}: records up to ${c.treeSize} were rewritten`);
      }
    }
  }

  const scan = async (upTo?: number) => {
    for (;;) {
      let q = db.selectFrom('aios_audit_log').selectAll().where('seq', '>', lastSeq);
      if (upTo !== undefined) q = q.where('seq', '<=', upTo);
      const page = await q.orderBy('seq').limit(pageSize).execute();
      for (const row of page) check(row);
      if (page.length < pageSize) return;
    }
  };
  await scan();
  // The head moves in the same transaction as its records, so it is at least every seq the scan
  // saw. When it is further, a writer committed meanwhile: read up to it (no further, so a busy
  // writer cannot keep the verifier running), then compare.
  const head = await db.selectFrom('aios_audit_head').select(['last_seq', 'last_hash']).where('id', '=', 1).executeTakeFirst();
  if (head && Number(head.last_seq) > lastSeq) await scan(Number(head.last_seq));

  for (const c of claims.slice(nextClaim)) {
    report(null, c.beyond, `${c.label} covers ${c.treeSize} records, more than the log holds (it ends at seq ${lastSeq}): records were removed from the end`);
  }
  if (firstUncovered && firstUncovered.time <= now - coverWithinMs) {
    const { seq, time } = firstUncovered;
    report(
      seq,
      'uncovered_records',
      `records ${seq} to ${lastSeq} are covered by no checkpoint, and record ${seq} was written at ${safeTime(time)}, more than ${coverWithinMs} ms ago: ` +
        'checkpoints were removed, or the last process stopped without its final checkpoint (the next start signs one)',
    );
  }
  if (!head) {
    report(null, 'head_mismatch', 'the aios_audit_head row is missing');
  } else if (Number(head.last_seq) !== lastSeq || head.last_hash !== lastHash) {
    const headSeq = Number(head.last_seq);
    if (headSeq > lastSeq) reportMissing(report, lastSeq + 1, headSeq);
    report(
      Math.max(headSeq, lastSeq),
      'head_mismatch',
      `the head says the chain ends at record ${headSeq} (${short(head.last_hash)}), but the log ends at record ${lastSeq} (${short(lastHash)})`,
    );
  }

  return {
    ok: problems.length === 0,
    records: count,
    checkpoints: chainRows.length,
    unchainedCheckpoints: legacyRows.length,
    covered,
    witnessed: opts.witness?.entries.length ?? 0,
    problems,
  };
}

/** The checkpoint chain in seq order; empty on a database not yet migrated to it. */
async function readChain(db: AuditDb): Promise<AuditCheckpointRow[]> {
  try {
    return await db.selectFrom('aios_audit_checkpoint_chain').selectAll().orderBy('seq').execute();
  } catch (e) {
    if (/aios_audit_checkpoint_chain/.test((e as Error).message) && /no such table|does not exist/.test((e as Error).message)) return [];
    throw e;
  }
}

function safeTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? toRfc3339(ms) : String(ms);
}

function reportMissing(report: (seq: number, kind: AuditProblemKind, message: string) => void, from: number, to: number): void {
  if (to - from + 1 <= LIST_MISSING_UP_TO) {
    for (let s = from; s <= to; s++) report(s, 'missing_record', `record ${s} is missing`);
  } else {
    report(from, 'missing_record', `records ${from} to ${to} are missing (${to - from + 1} records)`);
  }
}

/** The hash the row's content should have; a row too damaged to read hashes to a marker. */
function contentHash(row: AuditLogRow): string {
  try {
    return recordHash(rowToRecord(row));
  } catch (e) {
    return `(unreadable: ${(e as Error).message})`;
  }
}

/** The leaf as stored; a record_hash that is not hex (a tampered row) still becomes some leaf. */
function leafBytes(hash: string): Uint8Array {
  return typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash) ? Buffer.from(hash, 'hex') : Buffer.from(String(hash), 'utf8');
}

function short(hash: string): string {
  return typeof hash === 'string' && hash.length > 16 ? `${hash.slice(0, 16)}…` : String(hash);
}
