import type { KeyObject } from 'node:crypto';
import type { Database } from '../../storage/index.ts';
import { rowToRecord, type AuditCheckpointRow, type AuditDb, type AuditLogRow } from './audit-rows.ts';
import { GENESIS_HASH, recordHash } from './canonical.ts';
import { checkpointSignatureValid } from './checkpoint.ts';
import { MerkleFrontier } from './merkle.ts';
import { keyIdOf } from './signing-key.ts';

export type AuditProblemKind =
  | 'record_hash_mismatch'
  | 'broken_link'
  | 'missing_record'
  | 'seq_out_of_order'
  | 'checkpoint_root_mismatch'
  | 'checkpoint_signature_invalid'
  | 'checkpoint_beyond_log'
  | 'head_mismatch';

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
  /** Rows read from aios_audit_checkpoints. */
  readonly checkpoints: number;
  readonly problems: readonly AuditProblem[];
}

export interface VerifyAuditOptions {
  /** The key checkpoints must be signed with: the verifier's own copy, never the one stored beside them. */
  readonly publicKey: KeyObject;
  /** Rows per read. Default 1000. */
  readonly pageSize?: number;
  /** Stop listing problems after this many (the result stays not ok). Default 1000. */
  readonly maxProblems?: number;
}

/** A range of missing seqs longer than this is reported as one problem, not one per record. */
const LIST_MISSING_UP_TO = 10;

/**
 * Checks the whole audit trail, reading it in seq order page by page (memory stays flat however
 * long the log is):
 * - each record's content still hashes to its record_hash (an edited row is named by its seq);
 * - each prev_hash is the previous record's hash, and seqs run 1, 2, 3... (a deleted or inserted
 *   row breaks both, and is named);
 * - each checkpoint is signed by `publicKey` and its Merkle root matches the records it covers,
 *   which catches a history rewritten with consistent hashes;
 * - the head row agrees with the last record (catches rows cut off or added at the end).
 * Safe to run while writers append: it keeps reading until it has caught up with the head.
 *
 * @example
 * const result = await verifyAuditChain(database, { publicKey: loadAuditPublicKey({ dataDir }).publicKey });
 * if (!result.ok) for (const p of result.problems) console.log(`seq ${p.seq}: ${p.kind}: ${p.message}`);
 */
export async function verifyAuditChain(database: Database, opts: VerifyAuditOptions): Promise<AuditVerification> {
  const db = database.db as AuditDb;
  const pageSize = opts.pageSize ?? 1000;
  const maxProblems = opts.maxProblems ?? 1000;
  const problems: AuditProblem[] = [];
  const report = (seq: number | null, kind: AuditProblemKind, message: string) => {
    if (problems.length < maxProblems) problems.push({ seq, kind, message });
  };
  const trustedKeyId = keyIdOf(opts.publicKey);

  // Read before the records: a checkpoint signed meanwhile covers at most the head of that moment,
  // which the record scan below reaches, so a live writer never causes checkpoint_beyond_log.
  // One row per `checkpointEvery` records: small enough to hold.
  const checkpoints = await db.selectFrom('aios_audit_checkpoints').selectAll().orderBy('tree_size').execute();
  for (const c of checkpoints) {
    if (!checkpointSignatureValid(toSigned(c), opts.publicKey)) {
      report(null, 'checkpoint_signature_invalid', `checkpoint at tree size ${c.tree_size} (key ${c.key_id}) is not signed by the trusted key ${trustedKeyId}`);
    }
  }

  const frontier = new MerkleFrontier();
  let nextCheckpoint = 0;
  let count = 0;
  let lastSeq = 0;
  let lastHash = GENESIS_HASH;

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
    // A checkpoint of size T is checked once the scan passes seq T. On an intact log the leaves
    // read by then are exactly records 1..T; when rows are missing or extra, the count differs
    // and the checkpoint cannot hold.
    settleCheckpoints((size) => size < seq);
    frontier.append(leafBytes(row.record_hash));
    settleCheckpoints((size) => size <= seq);
    lastSeq = Number.isSafeInteger(seq) ? seq : lastSeq;
    lastHash = row.record_hash;
  };

  function settleCheckpoints(passed: (treeSize: number) => boolean) {
    while (nextCheckpoint < checkpoints.length && passed(Number(checkpoints[nextCheckpoint].tree_size))) {
      const c = checkpoints[nextCheckpoint++];
      const size = Number(c.tree_size);
      if (frontier.size !== size) {
        report(null, 'checkpoint_root_mismatch', `checkpoint at tree size ${size} cannot hold: the log has ${frontier.size} records up to seq ${size}, so records were removed or inserted`);
      } else if (frontier.root() !== c.root_hash) {
        report(null, 'checkpoint_root_mismatch', `checkpoint at tree size ${size} has root ${short(c.root_hash)}, but records 1..${size} hash to ${short(frontier.root())}: records up to ${size} were rewritten`);
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

  for (const c of checkpoints.slice(nextCheckpoint)) {
    report(null, 'checkpoint_beyond_log', `checkpoint at tree size ${c.tree_size} covers more records than the log holds (it ends at seq ${lastSeq}): records were removed from the end`);
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

  return { ok: problems.length === 0, records: count, checkpoints: checkpoints.length, problems };
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

function toSigned(c: AuditCheckpointRow) {
  return { treeSize: Number(c.tree_size), rootHash: c.root_hash, keyId: c.key_id, signature: c.signature };
}

function short(hash: string): string {
  return typeof hash === 'string' && hash.length > 16 ? `${hash.slice(0, 16)}…` : String(hash);
}
