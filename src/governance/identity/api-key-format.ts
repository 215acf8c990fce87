import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'aios_';
const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const KEY_PATTERN = /^(aios_[a-z2-9]{12})_([A-Za-z0-9_-]{43})$/;

function randomId(length: number): string {
  const bytes = randomBytes(length);
  let s = '';
  for (const b of bytes) s += ALPHABET[b & 31];
  return s;
}

/**
 * An API key is `aios_<12-char id>_<43-char secret>`. The id is the visible prefix that names the
 * key in lists and audit records; the secret is 256 random bits. Only the SHA-256 of the whole
 * key is stored: with 256 bits of entropy a slow password hash adds nothing but latency on every
 * request, which is why GitHub and Stripe tokens are stored the same way.
 */
export function generateApiKey(): { id: string; key: string; hash: string } {
  const id = `${PREFIX}${randomId(12)}`;
  const key = `${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The key's id, or undefined when the string is not shaped like an AIOS key. */
export function apiKeyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(PREFIX);
}

/** Constant-time comparison of a presented key with a stored hash. */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  const a = Buffer.from(hashApiKey(key), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
