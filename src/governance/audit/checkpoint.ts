import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson, GENESIS_HASH, sha256Hex } from './canonical.ts';
import type { AuditSigningKey } from './signing-key.ts';

/**
 * A signed statement "checkpoint `seq` follows the checkpoint whose hash is `prevHash`, and the
 * first `treeSize` audit records have Merkle root `rootHash`". Checkpoints form their own chain,
 * 1, 2, 3..., as records do, so one removed from the start or the middle breaks it.
 */
export interface Checkpoint {
  /** Position in the checkpoint chain, from 1. */
  readonly seq: number;
  /** `hash` of checkpoint seq-1; 64 zeros for checkpoint 1. */
  readonly prevHash: string;
  readonly treeSize: number;
  /** RFC 6962 Merkle Tree Hash (hex) over the record hashes of seq 1..treeSize. */
  readonly rootHash: string;
  /** Epoch milliseconds, signed. */
  readonly createdAt: number;
  readonly keyId: string;
  /** Ed25519 signature (base64) over {@link checkpointMessage}. */
  readonly signature: string;
  /** sha256 (hex) of {@link checkpointMessage}: what the next checkpoint's `prevHash` names. */
  readonly hash: string;
  /** The signer's public key, SPKI PEM; informative only: verify with a key you trust. */
  readonly publicKey: string;
}

/** The signed fields of a checkpoint. */
export type CheckpointBody = Pick<Checkpoint, 'seq' | 'prevHash' | 'treeSize' | 'rootHash' | 'createdAt' | 'keyId'>;

/** prevHash of checkpoint 1. */
export const CHECKPOINT_GENESIS = GENESIS_HASH;

/**
 * The exact bytes signed: the UTF-8 of the RFC 8785 canonical JSON of the signed fields,
 * `{"createdAt":<ms>,"keyId":"<16 hex>","prevHash":"<64 hex>","rootHash":"<64 hex>","seq":<n>,"treeSize":<n>}`.
 *
 * @example checkpointMessage({ seq: 1, prevHash: CHECKPOINT_GENESIS, treeSize: 2, rootHash: 'ab…', createdAt: 0, keyId: '3f2a…' })
 */
export function checkpointMessage(c: CheckpointBody): Buffer {
  return Buffer.from(
    canonicalJson({ seq: c.seq, prevHash: c.prevHash, treeSize: c.treeSize, rootHash: c.rootHash, createdAt: c.createdAt, keyId: c.keyId }),
    'utf8',
  );
}

/** sha256 (hex) of the signed message; chains the next checkpoint to this one. */
export function checkpointHash(c: CheckpointBody): string {
  return sha256Hex(checkpointMessage(c));
}

export function signCheckpoint(body: Omit<CheckpointBody, 'keyId'>, key: AuditSigningKey): Checkpoint {
  const signed: CheckpointBody = { ...body, keyId: key.keyId };
  const signature = sign(null, checkpointMessage(signed), key.privateKey).toString('base64');
  const publicKey = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return Object.freeze({ ...signed, signature, hash: checkpointHash(signed), publicKey });
}

/** True when `publicKey` (the verifier's own, not the one stored with the checkpoint) signed it. */
export function checkpointSignatureValid(c: CheckpointBody & Pick<Checkpoint, 'signature'>, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * A checkpoint signed before checkpoints were chained: `{"keyId","rootHash","treeSize"}` only.
 * Still verified (signature and root), outside the chain.
 */
export function legacyCheckpointSignatureValid(c: { treeSize: number; rootHash: string; keyId: string; signature: string }, publicKey: KeyObject): boolean {
  try {
    const message = Buffer.from(canonicalJson({ treeSize: c.treeSize, rootHash: c.rootHash, keyId: c.keyId }), 'utf8');
    return verify(null, message, publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}
