import { AiosError } from '../../core/index.ts';
import { checkpointToRow, type AuditDb } from './audit-rows.ts';
import { signCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { MerkleFrontier } from './merkle.ts';
import type { AuditSigningKey } from './signing-key.ts';

/**
 * Hashes only: 10,000 rows of (seq, 64-char hash) is about 1 MB per page. Only a writer's first
 * checkpoint reads from seq 1; later ones read just the records since the last.
 */
const PAGE = 10_000;

/**
 * Signs and stores a checkpoint over every committed record, unless the latest stored checkpoint
 * already covers them (then `checkpoint` is null). `latestTreeSize` is the largest tree size now
 * checkpointed, by this writer or another. `frontier` is the caller's running Merkle tree over
 * seq 1..frontier.size; it is extended from the database in seq order (so records written by
 * other processes are included) and returned for next time, only once the whole range was read.
 * Two writers racing for the same tree size compute the same root; the second insert is a no-op.
 */
export async function writeCheckpoint(
  db: AuditDb,
  frontier: MerkleFrontier,
  key: AuditSigningKey,
  now: number,
): Promise<{ checkpoint: Checkpoint | null; frontier: MerkleFrontier; latestTreeSize: number }> {
  // Everything up to the head is committed: the head moves in the same transaction as its records.
  const head = await db.selectFrom('aios_audit_head').select('last_seq').where('id', '=', 1).executeTakeFirst();
  const size = Number(head?.last_seq ?? 0);
  const latest = await db.selectFrom('aios_audit_checkpoints').select((eb) => eb.fn.max('tree_size').as('n')).executeTakeFirst();
  const latestTreeSize = Number(latest?.n ?? 0);
  if (size === 0 || size <= latestTreeSize) return { checkpoint: null, frontier, latestTreeSize };
  if (size < frontier.size) throw new AiosError('AIOS_INTERNAL', `the audit head (${size}) is behind records this writer has seen (${frontier.size}); run "aios audit verify"`);

  const next = frontier.clone();
  while (next.size < size) {
    const page = await db
      .selectFrom('aios_audit_log')
      .select(['seq', 'record_hash'])
      .where('seq', '>', next.size)
      .where('seq', '<=', size)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    for (const row of page) {
      if (Number(row.seq) !== next.size + 1) {
        throw new AiosError('AIOS_INTERNAL', `audit record ${next.size + 1} is missing; refusing to sign a checkpoint over a broken log (run "aios audit verify")`);
      }
      next.append(row.record_hash);
    }
    if (page.length === 0) throw new AiosError('AIOS_INTERNAL', `audit record ${next.size + 1} is missing; refusing to sign a checkpoint over a broken log (run "aios audit verify")`);
  }

  const checkpoint = signCheckpoint(size, next.root(), key, now);
  await db
    .insertInto('aios_audit_checkpoints')
    .values(checkpointToRow(checkpoint))
    .onConflict((oc) => oc.column('tree_size').doNothing())
    .execute();
  return { checkpoint, frontier: next, latestTreeSize: size };
}
