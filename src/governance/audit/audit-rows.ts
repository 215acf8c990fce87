import type { Kysely } from 'kysely';
import type { AuditDecision, AuditRecord } from './audit-record.ts';
import { canonicalJson } from './canonical.ts';
import type { Checkpoint } from './checkpoint.ts';

/** The audit tables as migrations 0004 and 0011 create them. */
export interface AuditLogRow {
  seq: number;
  time: number;
  ns: string;
  actor_type: string;
  actor_id: string;
  auth_method: string;
  key_id: string | null;
  action: string;
  resource: string;
  outcome: string;
  error: string | null;
  request_id: string | null;
  trace_id: string | null;
  lineage_id: string | null;
  input_hash: string | null;
  output_hash: string | null;
  decision: string | null;
  prev_hash: string;
  record_hash: string;
}

export interface AuditHeadRow {
  id: number;
  last_seq: number;
  last_hash: string;
}

/** A checkpoint signed before checkpoints were chained (0004); verified outside the chain. */
export interface LegacyCheckpointRow {
  tree_size: number;
  root_hash: string;
  signature: string;
  key_id: string;
  public_key: string;
  created_at: number;
}

export interface AuditCheckpointRow {
  seq: number;
  prev_hash: string;
  tree_size: number;
  root_hash: string;
  created_at: number;
  key_id: string;
  signature: string;
  hash: string;
  public_key: string;
  /** JSON array of hex hashes: the consistency proof from the previous checkpoint's tree size. */
  consistency: string;
}

export interface AuditTables {
  aios_audit_log: AuditLogRow;
  aios_audit_head: AuditHeadRow;
  aios_audit_checkpoints: LegacyCheckpointRow;
  aios_audit_checkpoint_chain: AuditCheckpointRow;
}

export type AuditDb = Kysely<AuditTables>;

export function recordToRow(r: AuditRecord): AuditLogRow {
  return {
    seq: r.seq,
    time: r.time,
    ns: r.ns,
    actor_type: r.actor.type,
    actor_id: r.actor.id,
    auth_method: r.actor.authMethod,
    key_id: r.actor.keyId ?? null,
    action: r.action,
    resource: r.resource,
    outcome: r.outcome,
    error: r.error,
    request_id: r.requestId,
    trace_id: r.traceId,
    lineage_id: r.lineageId,
    input_hash: r.inputHash,
    output_hash: r.outputHash,
    decision: r.decision === null ? null : canonicalJson(r.decision),
    prev_hash: r.prevHash,
    record_hash: r.recordHash,
  };
}

/** The inverse of {@link recordToRow}; throws when `decision` is not JSON (a tampered row). */
export function rowToRecord(row: AuditLogRow): AuditRecord {
  return {
    seq: Number(row.seq),
    time: Number(row.time),
    ns: row.ns,
    actor: { type: row.actor_type, id: row.actor_id, authMethod: row.auth_method, keyId: row.key_id } as AuditRecord['actor'],
    action: row.action,
    resource: row.resource,
    outcome: row.outcome as AuditRecord['outcome'],
    error: row.error,
    requestId: row.request_id,
    traceId: row.trace_id,
    lineageId: row.lineage_id,
    inputHash: row.input_hash,
    outputHash: row.output_hash,
    decision: row.decision === null ? null : (JSON.parse(row.decision) as AuditDecision),
    prevHash: row.prev_hash,
    recordHash: row.record_hash,
  };
}

export function rowToCheckpoint(row: AuditCheckpointRow): Checkpoint {
  return {
    seq: Number(row.seq),
    prevHash: row.prev_hash,
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    createdAt: Number(row.created_at),
    keyId: row.key_id,
    signature: row.signature,
    hash: row.hash,
    publicKey: row.public_key,
  };
}

export function checkpointToRow(c: Checkpoint, consistency: readonly string[]): AuditCheckpointRow {
  return {
    seq: c.seq,
    prev_hash: c.prevHash,
    tree_size: c.treeSize,
    root_hash: c.rootHash,
    created_at: c.createdAt,
    key_id: c.keyId,
    signature: c.signature,
    hash: c.hash,
    public_key: c.publicKey,
    consistency: JSON.stringify(consistency),
  };
}
