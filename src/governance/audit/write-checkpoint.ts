import { AiosError } from '../../core/index.ts';
import { checkpointToRow, rowToCheckpoint, type AuditDb } from './audit-rows.ts';
import { CHECKPOINT_GENESIS, checkpointHash, checkpointSignatureValid, signCheckpoint, type Checkpoint } from './checkpoint.ts';
import { ConsistencyProofBuilder, MerkleFrontier } from './merkle.ts';
import type { AuditSigningKey } from './signing-key.ts';

/**
 * Hashes only: 10,000 rows of (seq, 64-char hash) is about 1 MB per page. Only a writer's first
 * checkpoint reads from seq 1; later ones read just the records since the last.
 */
const PAGE = 10_000;

/** Writers that lose the race for one chain position try again on top of the winner, this often. */
const ATTEMPTS = 5;

/** A checkpoint as stored, with the RFC 6962 consistency proof from the previous one's tree size. */
export interface WrittenCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly consistency: { readonly fromSize: number; readonly proof: readonly string[] };
}

/** What a writer remembers of the chain, to notice checkpoints removed behind its back. */
export interface ChainPosition {
  readonly seq: number;
  readonly hash: string;
}

/**
 * Signs and stores the next checkpoint of the chain over every committed record, unless the
 * newest checkpoint already covers them (then `written` is null). The chain has one writer at a
 * time: `seq` is the primary key, so of processes racing for one position one insert wins and
 * the others sign again on top of it (a checkpoint's tree size only grows along the chain).
 *
 * `frontier` is the caller's running Merkle tree over seq 1..frontier.size; it is extended from
 * the database in seq order (records of other processes included) and returned for next time.
 * It refuses (AIOS_INTERNAL) rather than sign over a log that no longer matches the newest
 * checkpoint, over one signed by another key, or when the chain is shorter than `seen`: signing
 * then would make a rewritten history look whole.
 */
export async function writeCheckpoint(
  db: AuditDb,
  frontier: MerkleFrontier,
  key: AuditSigningKey,
  now: number,
  seen?: ChainPosition,
): Promise<{ written: WrittenCheckpoint | null; frontier: MerkleFrontier; latest: ChainPosition | null; latestTreeSize: number }> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // Everything up to the head is committed: the head moves in the same transaction as its records.
    const head = await db.selectFrom('aios_audit_head').select('last_seq').where('id', '=', 1).executeTakeFirst();
    const size = Number(head?.last_seq ?? 0);
    const row = await db.selectFrom('aios_audit_checkpoint_chain').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const latest = row ? rowToCheckpoint(row) : null;
    const position = latest ? { seq: latest.seq, hash: latest.hash } : null;
    if (seen && (!latest || latest.seq < seen.seq)) {
      throw refusal(`the audit checkpoint chain ends at ${latest?.seq ?? 0}, but this process saw checkpoint ${seen.seq}: checkpoints were removed`);
    }
    if (seen && latest && latest.seq === seen.seq && checkpointHash(latest) !== seen.hash) {
      throw refusal(`audit checkpoint ${seen.seq} was replaced since this process saw it`);
    }
    if (latest && !checkpointSignatureValid(latest, key.publicKey)) {
      throw refusal(`audit checkpoint ${latest.seq} is not signed by this process's key ${key.keyId}`);
    }
    const m = latest?.treeSize ?? 0;
    if (size === 0 || size <= m) return { written: null, frontier, latest: position, latestTreeSize: m };

    // A frontier beyond the newest checkpoint means checkpoints were removed; read again from seq 1.
    const next = frontier.size <= m ? frontier.clone() : new MerkleFrontier();
    await extend(db, next, m, () => undefined);
    if (latest && next.root() !== latest.rootHash) {
      throw refusal(`audit records 1..${m} no longer hash to the root of checkpoint ${latest.seq}: the log was rewritten`);
    }
    const proof = new ConsistencyProofBuilder(next, size);
    await extend(db, next, size, (h) => proof.append(h));

    const prevHash = latest ? checkpointHash(latest) : CHECKPOINT_GENESIS;
    const checkpoint = signCheckpoint({ seq: (latest?.seq ?? 0) + 1, prevHash, treeSize: size, rootHash: next.root(), createdAt: now }, key);
    const consistency = { fromSize: m, proof: proof.proof() };
    const inserted = await db
      .insertInto('aios_audit_checkpoint_chain')
      .values(checkpointToRow(checkpoint, consistency.proof))
      .onConflict((oc) => oc.column('seq').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) {
      return { written: { checkpoint, consistency }, frontier: next, latest: { seq: checkpoint.seq, hash: checkpoint.hash }, latestTreeSize: size };
    }
    // Another process took this position: chain onto its checkpoint (or stop if it covers ours),
    // extending the caller's frontier again, which is no further than any checkpoint in the chain.
  }
  throw new AiosError('AIOS_INTERNAL', `could not sign an audit checkpoint: ${ATTEMPTS} other writers took the next chain position first`);
}

/** Extends `frontier` with the record hashes up to seq `upTo`, calling `onLeaf` for each. */
async function extend(db: AuditDb, frontier: MerkleFrontier, upTo: number, onLeaf: (hash: string) => void): Promise<void> {
  while (frontier.size < upTo) {
    const page = await db
      .selectFrom('aios_audit_log')
      .select(['seq', 'record_hash'])
      .where('seq', '>', frontier.size)
      .where('seq', '<=', upTo)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    if (page.length === 0) throw missing(frontier.size + 1);
    for (const row of page) {
      if (Number(row.seq) !== frontier.size + 1) throw missing(frontier.size + 1);
      frontier.append(row.record_hash);
      onLeaf(row.record_hash);
    }
  }
}

function missing(seq: number): AiosError {
  return refusal(`audit record ${seq} is missing`);
}

function refusal(why: string): AiosError {
  return new AiosError('AIOS_INTERNAL', `${why}; refusing to sign a checkpoint over it (run "aios audit verify")`);
}
