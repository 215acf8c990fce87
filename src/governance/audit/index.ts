/**
 * The tamper-evident audit trail: hash-chained records, a chain of signed RFC 6962 Merkle
 * checkpoints published to witnesses outside the database, and the verifier that names the
 * record where a chain was broken.
 */
export type { AuditActor, AuditDecision, AuditInput, AuditRecord, AuditRecorder } from './audit-record.ts';
export { AuditTrail } from './audit-trail.ts';
export type { AuditTrailOptions, AuditExportFilter } from './audit-trail.ts';
export type { AuditTables } from './audit-rows.ts';
export { ALL_NAMESPACES, MAX_AUDIT_QUERY_LIMIT } from './audit-query.ts';
export type { AuditQuery } from './audit-query.ts';
export { verifyAuditChain } from './verify.ts';
export type { AuditProblem, AuditProblemKind, AuditVerification, VerifyAuditOptions } from './verify.ts';
export { loadAuditSigningKey, loadAuditPublicKey, parseAuditPublicKey, keyIdOf, SIGNING_KEY_FILE } from './signing-key.ts';
export type { AuditSigningKey, AuditPublicKey, AuditKeySource } from './signing-key.ts';
export { checkpointMessage, checkpointHash, checkpointSignatureValid, CHECKPOINT_GENESIS } from './checkpoint.ts';
export type { Checkpoint, CheckpointBody } from './checkpoint.ts';
export { merkleRoot, MerkleFrontier, EMPTY_ROOT, consistencyProof, verifyConsistency } from './merkle.ts';
export { parseWitness, entryProblem, WITNESS_ENTRY_TYPE } from './witness-entry.ts';
export type { WitnessEntry, UnreadableWitnessLine } from './witness-entry.ts';
export { WitnessPublisher } from './witness-publisher.ts';
export type { WitnessSink, WitnessPublisherOptions } from './witness-publisher.ts';
export { fileWitness, webhookWitness } from './witness-sinks.ts';
export { hashPayload, recordHash, canonicalJson, GENESIS_HASH } from './canonical.ts';
