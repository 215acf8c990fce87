import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from './audit-record.ts';
import { canonicalJson, GENESIS_HASH, hashPayload, recordHash } from './canonical.ts';
import { checkpointMessage, checkpointSignatureValid, signCheckpoint } from './checkpoint.ts';
import { keyIdOf } from './signing-key.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const base: Omit<AuditRecord, 'recordHash'> = {
  seq: 1,
  time: 1_767_225_600_000,
  ns: 'plant-a',
  actor: { type: 'user', id: 'u1', authMethod: 'oidc', keyId: null },
  action: 'topics:create',
  resource: 'topic:vibration',
  outcome: 'success',
  error: null,
  requestId: 'r1',
  traceId: null,
  lineageId: null,
  inputHash: null,
  outputHash: null,
  decision: { decision: 'allow', policySetHash: 'a'.repeat(64), policyIds: ['p1'] },
  prevHash: GENESIS_HASH,
};

describe('canonical JSON and hashes', () => {
  it('sorts keys, drops whitespace and formats numbers as RFC 8785 says', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1e21, y: 0.1 } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"y":0.1,"z":1e+21}}');
    expect(canonicalJson({ '\u00e9': 1, e: 2, E: 3 })).toBe('{"E":3,"e":2,"\u00e9":1}');
  });

  it('hashes payloads over canonical JSON, so key order does not matter; no payload is null', () => {
    expect(hashPayload({ a: 1, b: [1, 2] })).toBe(sha('{"a":1,"b":[1,2]}'));
    expect(hashPayload({ b: [1, 2], a: 1 })).toBe(hashPayload({ a: 1, b: [1, 2] }));
    expect(hashPayload(undefined)).toBeNull();
    expect(hashPayload(null)).toBe(sha('null'));
    expect(() => hashPayload({ n: Number.NaN })).toThrow();
  });

  it('covers every field but recordHash, including seq and prevHash', () => {
    const h = recordHash(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(recordHash({ ...base, recordHash: 'ignored' } as AuditRecord)).toBe(h);
    expect(recordHash({ ...base, seq: 2 })).not.toBe(h);
    expect(recordHash({ ...base, prevHash: '1'.repeat(64) })).not.toBe(h);
    expect(recordHash({ ...base, action: 'topics:delete' })).not.toBe(h);
    expect(recordHash({ ...base, actor: { ...base.actor, id: 'u2' } })).not.toBe(h);
    expect(recordHash({ ...base, decision: { ...base.decision!, policyIds: [] } })).not.toBe(h);
    const { actor, ...rest } = base;
    expect(h).toBe(sha(canonicalJson({ ...rest, actor })));
  });
});

describe('checkpoint signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = { privateKey, publicKey, keyId: keyIdOf(publicKey) };

  const body = { seq: 2, prevHash: 'a'.repeat(64), treeSize: 3, rootHash: 'b'.repeat(64), createdAt: 42 };

  it('signs exactly the canonical JSON of seq, prevHash, treeSize, rootHash, createdAt and keyId, and hashes it for the next', () => {
    const cp = signCheckpoint(body, key);
    const message = `{"createdAt":42,"keyId":"${key.keyId}","prevHash":"${'a'.repeat(64)}","rootHash":"${'b'.repeat(64)}","seq":2,"treeSize":3}`;
    expect(checkpointMessage(cp).toString('utf8')).toBe(message);
    expect(cp.hash).toBe(sha(message));
    expect(cp).toMatchObject({ ...body, keyId: key.keyId });
    expect(cp.publicKey).toContain('BEGIN PUBLIC KEY');
    expect(checkpointSignatureValid(cp, publicKey)).toBe(true);
  });

  it('rejects another key, and any signed field changed', () => {
    const cp = signCheckpoint(body, key);
    expect(checkpointSignatureValid(cp, generateKeyPairSync('ed25519').publicKey)).toBe(false);
    for (const change of [{ rootHash: 'c'.repeat(64) }, { treeSize: 4 }, { seq: 3 }, { prevHash: 'c'.repeat(64) }, { createdAt: 43 }, { signature: 'garbage' }]) {
      expect(checkpointSignatureValid({ ...cp, ...change }, publicKey), JSON.stringify(change)).toBe(false);
    }
  });
});
