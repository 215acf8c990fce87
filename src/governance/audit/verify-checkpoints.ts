import type { KeyObject } from 'node:crypto';
import { toRfc3339 } from '../../core/index.ts';
import type { AuditCheckpointRow, LegacyCheckpointRow } from './audit-rows.ts';
import { rowToCheckpoint } from './audit-rows.ts';
import { CHECKPOINT_GENESIS, checkpointHash, checkpointSignatureValid, legacyCheckpointSignatureValid, type Checkpoint } from './checkpoint.ts';
import { verifyConsistency } from './merkle.ts';
import type { AuditProblemKind } from './verify.ts';
import { entryAsCheckpoint, type UnreadableWitnessLine, type WitnessEntry } from './witness-entry.ts';

/**
 * "Records 1..treeSize have Merkle root rootHash", as a checkpoint or a witness states it; the
 * record scan settles each claim once it passes seq treeSize.
 */
export interface RootClaim {
  readonly treeSize: number;
  readonly rootHash: string;
  /** e.g. "checkpoint 7", "witnessed checkpoint 7", "checkpoint at tree size 1000 (unchained)". */
  readonly label: string;
  readonly mismatch: AuditProblemKind;
  readonly beyond: AuditProblemKind;
}

type Report = (kind: AuditProblemKind, message: string) => void;

const short = (h: string) => (typeof h === 'string' && h.length > 16 ? `${h.slice(0, 16)}…` : String(h));
const time = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? toRfc3339(ms) : String(ms));

/**
 * The checkpoint chain of the database: each signed by the trusted key, its stored hash that of
 * its content, seqs 1, 2, 3... without a gap, each linking to the previous one's hash, tree sizes
 * growing. Returns the claims to settle against the records and the tree size covered by the
 * newest checkpoint whose signature holds.
 */
export function checkChain(rows: readonly AuditCheckpointRow[], publicKey: KeyObject, trustedKeyId: string, report: Report): { claims: RootClaim[]; covered: number; bySeq: Map<number, Checkpoint> } {
  const claims: RootClaim[] = [];
  const bySeq = new Map<number, Checkpoint>();
  let covered = 0;
  let expected = 1;
  let prevHash = CHECKPOINT_GENESIS;
  let prevSize = 0;
  for (const row of rows) {
    const c = rowToCheckpoint(row);
    bySeq.set(c.seq, c);
    const label = `checkpoint ${c.seq}`;
    const signed = checkpointSignatureValid(c, publicKey);
    if (!signed) report('checkpoint_signature_invalid', `${label} (tree size ${c.treeSize}, key ${short(c.keyId)}) is not signed by the trusted key ${trustedKeyId}`);
    const hash = checkpointHash(c);
    if (c.hash !== hash) report('checkpoint_chain_broken', `${label}'s stored hash ${short(c.hash)} is not the hash of its content (${short(hash)})`);
    if (c.seq > expected) {
      report('checkpoint_chain_broken', expected === c.seq - 1 ? `checkpoint ${expected} is missing from the chain` : `checkpoints ${expected} to ${c.seq - 1} are missing from the chain`);
    } else if (c.prevHash !== prevHash) {
      report('checkpoint_chain_broken', `${label} does not link to ${c.seq === 1 ? 'the start of the chain' : `checkpoint ${c.seq - 1}`}: prev_hash ${short(c.prevHash)}, expected ${short(prevHash)}`);
    }
    if (c.treeSize <= prevSize && c.seq > 1) report('checkpoint_chain_broken', `${label} covers ${c.treeSize} records, no more than the ${prevSize} of the checkpoint before it`);
    if (signed) covered = Math.max(covered, c.treeSize);
    claims.push({ treeSize: c.treeSize, rootHash: c.rootHash, label, mismatch: 'checkpoint_root_mismatch', beyond: 'checkpoint_beyond_log' });
    expected = c.seq + 1;
    prevHash = hash;
    prevSize = c.treeSize;
  }
  return { claims, covered, bySeq };
}

/** Checkpoints signed before the chain: each signed, and its root checked; they count as cover. */
export function checkLegacy(rows: readonly LegacyCheckpointRow[], publicKey: KeyObject, trustedKeyId: string, report: Report): { claims: RootClaim[]; covered: number } {
  const claims: RootClaim[] = [];
  let covered = 0;
  for (const r of rows) {
    const c = { treeSize: Number(r.tree_size), rootHash: r.root_hash, keyId: r.key_id, signature: r.signature };
    const label = `unchained checkpoint at tree size ${c.treeSize}`;
    if (legacyCheckpointSignatureValid(c, publicKey)) covered = Math.max(covered, c.treeSize);
    else report('checkpoint_signature_invalid', `${label} (key ${c.keyId}) is not signed by the trusted key ${trustedKeyId}`);
    claims.push({ treeSize: c.treeSize, rootHash: c.rootHash, label, mismatch: 'checkpoint_root_mismatch', beyond: 'checkpoint_beyond_log' });
  }
  return { claims, covered };
}

/**
 * A witness against itself and against the database's chain:
 * - every entry is signed by the trusted key and hashes to its stated hash;
 * - no two entries for one chain position differ (the signer forked the log);
 * - consecutive entries link by hash, and the consistency proof of each proves, from the roots
 *   alone, that its tree extends the previous one's (RFC 6962);
 * - the database still holds each witnessed checkpoint, unchanged.
 * Returns the claims to settle against the records: each witnessed root must still be the root
 * of the database's first treeSize records.
 */
export function checkWitness(
  witness: { readonly entries: readonly WitnessEntry[]; readonly unreadable?: readonly UnreadableWitnessLine[] },
  chain: ReadonlyMap<number, Checkpoint>,
  publicKey: KeyObject,
  trustedKeyId: string,
  report: Report,
): RootClaim[] {
  for (const u of witness.unreadable ?? []) report('witness_unreadable', `witness line ${u.line} is not a checkpoint: ${u.message}`);
  const bySeq = new Map<number, WitnessEntry>();
  for (const e of witness.entries) {
    const label = `witnessed checkpoint ${e.seq}`;
    if (!checkpointSignatureValid(entryAsCheckpoint(e), publicKey)) {
      report('witness_signature_invalid', `${label} (key ${short(e.keyId)}) is not signed by the trusted key ${trustedKeyId}; it is ignored`);
      continue;
    }
    if (checkpointHash(e) !== e.hash) {
      report('witness_inconsistent', `${label}'s hash ${short(e.hash)} is not the hash of its content`);
      continue;
    }
    const twin = bySeq.get(e.seq);
    if (twin && twin.hash !== e.hash) {
      report('witness_inconsistent', `two different checkpoints ${e.seq} were signed (${short(twin.hash)} and ${short(e.hash)}): the log was forked`);
      continue;
    }
    bySeq.set(e.seq, e);
  }
  const entries = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const claims: RootClaim[] = [];
  let prev: WitnessEntry | undefined;
  for (const e of entries) {
    const label = `witnessed checkpoint ${e.seq}`;
    if (prev && e.treeSize < prev.treeSize) {
      report('witness_inconsistent', `${label} covers ${e.treeSize} records, fewer than the ${prev.treeSize} of witnessed checkpoint ${prev.seq}`);
    } else if (prev && prev.seq === e.seq - 1) {
      if (e.prevHash !== prev.hash) report('witness_inconsistent', `${label} does not link to witnessed checkpoint ${prev.seq}`);
      else if (e.consistency.fromSize !== prev.treeSize || !verifyConsistency(prev.treeSize, e.treeSize, prev.rootHash, e.rootHash, e.consistency.proof)) {
        report('witness_inconsistent', `${label} (tree size ${e.treeSize}) carries no valid consistency proof from witnessed checkpoint ${prev.seq} (tree size ${prev.treeSize}): its tree does not extend the earlier one`);
      }
    }
    const stored = chain.get(e.seq);
    if (!stored) report('witness_mismatch', `${label} (tree size ${e.treeSize}, signed ${time(e.createdAt)}) is not in the database: checkpoints were removed`);
    else if (checkpointHash(stored) !== e.hash) {
      report('witness_mismatch', `the database's checkpoint ${e.seq} (tree size ${stored.treeSize}, root ${short(stored.rootHash)}) is not the witnessed one (tree size ${e.treeSize}, root ${short(e.rootHash)}): checkpoints were replaced`);
    }
    claims.push({ treeSize: e.treeSize, rootHash: e.rootHash, label, mismatch: 'witness_root_mismatch', beyond: 'witness_beyond_log' });
    prev = e;
  }
  return claims;
}
