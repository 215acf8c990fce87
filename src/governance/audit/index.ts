/**
 * The tamper-evident audit trail: hash-chained records, signed RFC 6962 Merkle checkpoints, and
 * the verifier that names the record where a chain was broken.
 */
export type { AuditActor, AuditDecision, AuditInput, AuditRecord, AuditRecorder } from './audit-record.ts';
export { AuditTrail } from './audit-trail.ts';
export type { AuditTrailOptions, AuditExportFilter } from './audit-trail.ts';
export type { InTransactionAudit } from './in-transaction.ts';
export { ALL_NAMESPACES, MAX_AUDIT_QUERY_LIMIT } from './audit-query.ts';
export type { AuditQuery } from './audit-query.ts';
export { verifyAuditChain } from './verify.ts';
export type { AuditProblem, AuditProblemKind, AuditVerification, VerifyAuditOptions } from './verify.ts';
export { loadAuditSigningKey, loadAuditPublicKey, keyIdOf, SIGNING_KEY_FILE } from './signing-key.ts';
export type { AuditSigningKey, AuditPublicKey, AuditKeySource } from './signing-key.ts';
export { checkpointMessage, checkpointSignatureValid } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
export { merkleRoot, MerkleFrontier, EMPTY_ROOT } from './merkle.ts';
export { hashPayload, recordHash, canonicalJson, GENESIS_HASH } from './canonical.ts';
