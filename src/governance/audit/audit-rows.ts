import type { Kysely } from 'kysely';
import type { AuditDecision, AuditRecord } from './audit-record.ts';
import { canonicalJson } from './canonical.ts';
import type { Checkpoint } from './checkpoint.ts';

/** The audit tables as migration 0004 creates them. */
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

export interface AuditCheckpointRow {
  tree_size: number;
  root_hash: string;
  signature: string;
  key_id: string;
  public_key: string;
  created_at: number;
}

export interface AuditTables {
  aios_audit_log: AuditLogRow;
  aios_audit_head: AuditHeadRow;
  aios_audit_checkpoints: AuditCheckpointRow;
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
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    signature: row.signature,
    keyId: row.key_id,
    publicKey: row.public_key,
    createdAt: Number(row.created_at),
  };
}

export function checkpointToRow(c: Checkpoint): AuditCheckpointRow {
  return { tree_size: c.treeSize, root_hash: c.rootHash, signature: c.signature, key_id: c.keyId, public_key: c.publicKey, created_at: c.createdAt };
}
