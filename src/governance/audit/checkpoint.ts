import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.ts';
import type { AuditSigningKey } from './signing-key.ts';

/** A signed statement "the first `treeSize` audit records have Merkle root `rootHash`". */
export interface Checkpoint {
  readonly treeSize: number;
  /** RFC 6962 Merkle Tree Hash (hex) over the record hashes of seq 1..treeSize. */
  readonly rootHash: string;
  /** Ed25519 signature (base64) over {@link checkpointMessage}. */
  readonly signature: string;
  readonly keyId: string;
  /** The signer's public key, SPKI PEM; informative only: verify with a key you trust. */
  readonly publicKey: string;
  /** Epoch milliseconds. */
  readonly createdAt: number;
}

/**
 * The exact bytes signed: the UTF-8 of the RFC 8785 canonical JSON of
 * `{ treeSize, rootHash, keyId }`, which is
 * `{"keyId":"<16 hex>","rootHash":"<64 hex>","treeSize":<n>}` (keys sorted, no spaces).
 *
 * @example checkpointMessage({ treeSize: 2, rootHash: 'ab…', keyId: '3f2a…' })
 */
export function checkpointMessage(c: Pick<Checkpoint, 'treeSize' | 'rootHash' | 'keyId'>): Buffer {
  return Buffer.from(canonicalJson({ treeSize: c.treeSize, rootHash: c.rootHash, keyId: c.keyId }), 'utf8');
}

export function signCheckpoint(treeSize: number, rootHash: string, key: AuditSigningKey, createdAt: number): Checkpoint {
  const signature = sign(null, checkpointMessage({ treeSize, rootHash, keyId: key.keyId }), key.privateKey).toString('base64');
  const publicKey = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return Object.freeze({ treeSize, rootHash, signature, keyId: key.keyId, publicKey, createdAt });
}

/** True when `publicKey` (the verifier's own, not the one stored with the checkpoint) signed it. */
export function checkpointSignatureValid(c: Pick<Checkpoint, 'treeSize' | 'rootHash' | 'keyId' | 'signature'>, publicKey: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(c), publicKey, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}
