import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The two AES-256-GCM operations of envelope encryption, on node:crypto only: seal a value with
 * a data key, and wrap a data key with a master key. Both take AAD, which the caller uses to bind
 * the result to where it is stored, so a sealed blob copied elsewhere no longer opens.
 */

const IV_BYTES = 12; // the GCM nonce size NIST SP 800-38D recommends; random per encryption
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export interface Sealed {
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** Encrypts with a fresh random iv. Never reuse an iv with the same key: GCM would leak. */
export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** Decrypts and authenticates; throws (a plain Error) when the key, AAD or any byte is wrong. */
export function open(key: Buffer, sealed: Sealed, aad: Buffer): Buffer {
  if (sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES) throw new Error('malformed sealed value');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}

/**
 * Wraps a 32-byte data key. Stored format: base64 of iv[12] || tag[16] || encrypted key[32]
 * (60 bytes, 80 characters); fixed-length fields, so no separators to parse.
 */
export function wrapKey(masterKey: Buffer, dataKey: Buffer, aad: Buffer): string {
  const s = seal(masterKey, dataKey, aad);
  return Buffer.concat([s.iv, s.tag, s.ciphertext]).toString('base64');
}

/** The inverse of `wrapKey`; throws when the master key or AAD does not match. */
export function unwrapKey(masterKey: Buffer, wrapped: string, aad: Buffer): Buffer {
  const raw = Buffer.from(wrapped, 'base64');
  if (raw.length !== IV_BYTES + TAG_BYTES + KEY_BYTES) throw new Error('malformed wrapped key');
  return open(masterKey, { iv: raw.subarray(0, IV_BYTES), tag: raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES), ciphertext: raw.subarray(IV_BYTES + TAG_BYTES) }, aad);
}
