import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditRecord } from './audit-record.ts';

/** prev_hash of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * RFC 8785 (JCS) canonical JSON: sorted keys, no whitespace, ECMAScript number formatting, so the
 * same value hashes the same in every process and language.
 *
 * @example canonicalJson({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('the value has no JSON form (undefined, a function or a symbol)');
  return text;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * sha256 (hex) of a payload's canonical JSON; `undefined` (no payload) hashes to null.
 * Throws for values without a JSON form (NaN, Infinity, BigInt, cycles).
 *
 * @example hashPayload({ name: 'vibration' }) // 'f8aa640c…4c6c' (sha256 of '{"name":"vibration"}'); hashPayload(undefined) // null
 */
export function hashPayload(value: unknown): string | null {
  return value === undefined ? null : sha256Hex(canonicalJson(value));
}

/**
 * The hash that chains a record: sha256 of the canonical JSON of every field but `recordHash`
 * (so `seq` and `prevHash` are covered). Optional fields must already be normalised to null,
 * as they are stored, or the hash of a record read back would differ.
 *
 * @example recordHash({ ...record, recordHash: undefined }) === record.recordHash
 */
export function recordHash(record: Omit<AuditRecord, 'recordHash'> & { recordHash?: unknown }): string {
  const { recordHash: _ignored, ...rest } = record;
  return sha256Hex(canonicalJson(rest));
}
